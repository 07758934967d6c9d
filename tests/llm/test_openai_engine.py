"""OpenAIEngine against httpx.MockTransport and tiny local socket stubs: streaming and failures."""
from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from core.errors import ConfigError, EngineError
from core.records import REFUSAL, Hit
from core.settings import Settings
from rag.llm.openai import OpenAIEngine, chat_completions_url

KEY = "sk-test-SECRET-0123456789"
ENV = "NEWSCITE_TEST_LLM_KEY"
HITS = [Hit(chunk_id="c1", article_id="a1", title="T", text="At least 33 soldiers were killed.",
            start=0, end=33, score=1.0, source="Outlet", published="2020-02-28")]


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, KEY)


def settings(base: str = "http://llm.test/v1", **kw: object) -> Settings:
    return Settings(openai_base_url=base, openai_model="m", openai_api_key_env=ENV,
                    llm_timeout=kw.pop("llm_timeout", 5.0), **kw)  # type: ignore[arg-type]


def sse(*chunks: object, done: bool = True) -> bytes:
    lines = []
    for c in chunks:
        lines.append("data: " + (c if isinstance(c, str) else json.dumps(c)) + "\n\n")
    if done:
        lines.append("data: [DONE]\n\n")
    return "".join(lines).encode()


def delta(text: str, finish: str | None = None) -> dict[str, object]:
    return {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]}


def engine_with(handler: Callable[[httpx.Request], httpx.Response], precheck: bool = False,
                **kw: object) -> OpenAIEngine:
    return OpenAIEngine(settings(**kw), transport=httpx.MockTransport(handler),
                        precheck=precheck)


def assert_no_key(exc: pytest.ExceptionInfo[EngineError]) -> None:
    assert KEY not in str(exc.value)
    assert exc.value.__cause__ is None or KEY not in str(exc.value.__cause__)


@pytest.mark.parametrize("base", ["http://h:1", "http://h:1/", "http://h:1/v1", "http://h:1/v1/"])
def test_url_with_or_without_v1(base: str) -> None:
    assert chat_completions_url(base) == "http://h:1/v1/chat/completions"


def test_streams_tokens_and_sends_key_and_prompt() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse(
            {"choices": [{"index": 0, "delta": {"role": "assistant"}}]},
            delta("At least 33"), delta(" soldiers were killed [1]."), delta(" More"),
            delta(" text [1]."), delta("", "stop")))

    engine = engine_with(handler)
    pieces = list(engine.draft("How many soldiers were killed?", HITS))
    # "At" cannot open a refusal: streamed piece by piece from the first
    assert pieces == ["At least 33", " soldiers were killed [1].", " More", " text [1]."]
    request = seen[0]
    assert request.url == "http://llm.test/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    body = json.loads(request.content)
    assert body["stream"] is True and body["model"] == "m" and body["temperature"] == 0
    assert '<passage id="1"' in body["messages"][-1]["content"]


def test_no_key_no_header(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, headers={"content-type": "text/event-stream"},
                              content=sse(delta("Yes [1].", "stop")))

    assert "".join(engine_with(handler).draft("q?", HITS)) == "Yes [1]."
    assert "authorization" not in seen[0].headers


def test_refusal_is_exact_and_stops() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse(
            delta("The articles"), delta(" do not contain the answer to this question"),
            delta(". But here is a guess [1]."), delta("", "stop")))

    assert list(engine_with(handler).draft("Who was the pilot?", HITS)) == [REFUSAL]


def test_no_hits_refuses_without_a_request() -> None:
    def handler(request: httpx.Request) -> httpx.Response:  # pragma: no cover - must not run
        raise AssertionError("no request expected")

    assert list(engine_with(handler).draft("q?", [])) == [REFUSAL]


def test_non_streaming_json_reply_is_accepted() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        reply = {"choices": [{"message": {"content": "33 were killed [1]."}}]}
        return httpx.Response(200, json=reply)

    assert "".join(engine_with(handler).draft("q?", HITS)) == "33 were killed [1]."


def test_context_overflow_retries_with_less_evidence() -> None:
    sizes: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        sizes.append(len(body["messages"][-1]["content"]))
        if len(sizes) == 1:
            return httpx.Response(400, json={"error": {
                "code": 400, "type": "exceed_context_size_error",
                "message": "request (5000 tokens) exceeds the available context size"}})
        return httpx.Response(200, headers={"content-type": "text/event-stream"},
                              content=sse(delta("33 [1] were killed.", "stop")))

    long_hits = [Hit(chunk_id=f"c{i}", article_id=f"a{i}", title="T", start=0, end=10, score=1.0,
                     text=" ".join(f"Soldiers sentence {j} here." for j in range(80)))
                 for i in range(4)]
    engine = engine_with(handler, evidence_tokens=1500)
    assert "".join(engine.draft("soldiers?", long_hits)) == "33 [1] were killed."
    assert len(sizes) == 2 and sizes[1] < sizes[0]


@pytest.mark.fault
def test_context_overflow_trims_evidence_to_the_minimum_then_fails() -> None:
    sizes: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sizes.append(len(json.loads(request.content)["messages"][-1]["content"]))
        return httpx.Response(400, json={"error": {
            "type": "exceed_context_size_error", "message": "exceeds the context size"}})

    long_hits = [Hit(chunk_id=f"c{i}", article_id=f"a{i}", title="T", start=0, end=10, score=1.0,
                     text=" ".join(f"Soldiers sentence {j} here." for j in range(80)))
                 for i in range(4)]
    with pytest.raises(EngineError, match="do not fit the LLM server's context"):
        list(engine_with(handler, evidence_tokens=1500).draft("soldiers?", long_hits))
    # the same rule as the local engine: halve the evidence down to the smallest budget
    assert len(sizes) >= 4 and sizes == sorted(sizes, reverse=True) and sizes[-1] < sizes[0]


def check_reply(yes: float, no: float) -> httpx.Response:
    top = sorted([{"token": "Yes", "logprob": yes}, {"token": "No", "logprob": no}],
                 key=lambda t: -float(t["logprob"]))
    return httpx.Response(200, json={"choices": [{
        "message": {"content": top[0]["token"]},
        "logprobs": {"content": [{**top[0], "top_logprobs": top}]}}]})


@pytest.mark.parametrize("yes,no,expected", [
    (-1.9, -0.2, REFUSAL),  # a confident "no": refuse without generating
    (-0.4, -0.9, "33 were killed [1]."),  # margin +0.5, above the threshold: let it answer
    (-0.6, -0.8, REFUSAL),  # margin +0.2: too unsure, refused before answering
    (-0.3, -1.5, "33 were killed [1]."),
])
def test_precheck(yes: float, no: float, expected: str) -> None:
    bodies: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        if body["max_tokens"] == 1:
            assert body["logprobs"] is True and body["stream"] is False
            return check_reply(yes, no)
        return httpx.Response(200, headers={"content-type": "text/event-stream"},
                              content=sse(delta("33 were killed [1].", "stop")))

    assert "".join(engine_with(handler, precheck=True).draft("q?", HITS)) == expected
    assert len(bodies) == (1 if expected == REFUSAL else 2)
    # the check and the answer share the prompt prefix (the server's prompt cache)
    assert bodies[0]["messages"][:-1] == bodies[-1]["messages"][:-1]


def test_precheck_refusal_and_answer_are_recorded() -> None:
    margins = iter([(-1.9, -0.2), (-0.3, -1.5)])

    def handler(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content)["max_tokens"] == 1:
            return check_reply(*next(margins))
        return httpx.Response(200, headers={"content-type": "text/event-stream"},
                              content=sse(delta("33 were killed [1].", "stop")))

    engine = engine_with(handler, precheck=True)
    assert list(engine.draft("q?", HITS)) == [REFUSAL]
    assert engine.last_stats["precheck_margin"] == pytest.approx(-1.7)
    assert "".join(engine.draft("q?", HITS)) == "33 were killed [1]."
    assert engine.last_stats["precheck_margin"] == pytest.approx(1.2)
    assert engine.last_stats["first_token_seconds"] >= 0


def test_precheck_without_logprobs_just_answers() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content)["max_tokens"] == 1:
            return httpx.Response(200, json={"choices": [{"message": {"content": "No"}}]})
        return httpx.Response(200, headers={"content-type": "text/event-stream"},
                              content=sse(delta("33 were killed [1].", "stop")))

    assert "".join(engine_with(handler, precheck=True).draft("q?", HITS)) == \
        "33 were killed [1]."


def test_condense() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert body["stop"] == ["\n"]
        return httpx.Response(200, headers={"content-type": "text/event-stream"},
                              content=sse(delta("What did Rahmi Dogan say?", "stop")))

    engine = engine_with(handler)
    assert engine.condense("What did he say?", [("Who is the governor?", "Rahmi Dogan [1].")]) \
        == "What did Rahmi Dogan say?"
    assert engine.condense("Standalone?", []) == "Standalone?"


# -- failures: every one is an EngineError with a short message and no API key ---------

@pytest.mark.fault
@pytest.mark.parametrize("status,body,expected", [
    (500, f'{{"error": {{"message": "boom with key {KEY}"}}}}', "HTTP 500"),
    (502, "<html>Bad gateway</html>", "HTTP 502"),
    (401, '{"error": {"message": "invalid key"}}', ENV),
    (404, "not found", "HTTP 404"),
])
def test_http_errors(status: int, body: str, expected: str) -> None:
    engine = engine_with(lambda r: httpx.Response(status, content=body.encode()))
    with pytest.raises(EngineError) as exc:
        list(engine.draft("q?", HITS))
    assert expected in str(exc.value)
    assert_no_key(exc)


@pytest.mark.fault
@pytest.mark.parametrize("payload", [
    sse("{not json"),
    sse(delta("half an answer"), done=False),  # closed before finishing
    sse(delta("", "stop")),  # finished without any text
    sse(delta("[1]", "stop")),  # no letters at all
    sse({"error": {"message": f"mid-stream failure {KEY}"}}),
    sse("[1, 2]"),
])
def test_malformed_or_empty_streams(payload: bytes) -> None:
    engine = engine_with(lambda r: httpx.Response(
        200, headers={"content-type": "text/event-stream"}, content=payload))
    with pytest.raises(EngineError) as exc:
        list(engine.draft("q?", HITS))
    assert_no_key(exc)


@pytest.mark.fault
def test_malformed_json_body() -> None:
    engine = engine_with(lambda r: httpx.Response(200, content=b"{oops",
                                                  headers={"content-type": "application/json"}))
    with pytest.raises(EngineError, match="malformed"):
        list(engine.draft("q?", HITS))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.fault
def test_connection_refused() -> None:
    engine = OpenAIEngine(settings(f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(EngineError, match="cannot connect") as exc:
        list(engine.draft("q?", HITS))
    assert_no_key(exc)


class Stub:
    """A raw socket server on 127.0.0.1 that runs `behave(conn)` for each connection."""

    def __init__(self, behave: Callable[[socket.socket], None]) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.behave = behave
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.recv(65536)
                try:
                    self.behave(conn)
                except OSError:
                    pass

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def stub() -> Iterator[Callable[[Callable[[socket.socket], None]], Stub]]:
    made: list[Stub] = []

    def make(behave: Callable[[socket.socket], None]) -> Stub:
        made.append(Stub(behave))
        return made[-1]

    yield make
    for s in made:
        s.close()


@pytest.mark.fault
def test_timeout_when_server_never_answers(stub) -> None:  # type: ignore[no-untyped-def]
    hang = threading.Event()
    server = stub(lambda conn: hang.wait(3))
    engine = OpenAIEngine(settings(f"http://127.0.0.1:{server.port}", llm_timeout=0.5))
    started = time.monotonic()
    try:
        with pytest.raises(EngineError, match="timed out") as exc:
            list(engine.draft("q?", HITS))
    finally:
        hang.set()
    assert time.monotonic() - started < 2.5
    assert_no_key(exc)


@pytest.mark.fault
def test_timeout_when_server_trickles(stub) -> None:  # type: ignore[no-untyped-def]
    def trickle(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        for _ in range(40):
            data = sse(delta("word "), done=False)
            conn.sendall(b"%x\r\n%s\r\n" % (len(data), data))
            time.sleep(0.1)

    server = stub(trickle)
    engine = OpenAIEngine(settings(f"http://127.0.0.1:{server.port}", llm_timeout=1.0))
    started = time.monotonic()
    with pytest.raises(EngineError, match="timed out"):
        list(engine.draft("q?", HITS))
    assert time.monotonic() - started < 2.5


@pytest.mark.fault
def test_connection_dropped_mid_stream(stub) -> None:  # type: ignore[no-untyped-def]
    def drop(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        data = sse(delta("At least 33"), done=False)
        conn.sendall(b"%x\r\n%s\r\n" % (len(data), data))
        conn.shutdown(socket.SHUT_RDWR)

    server = stub(drop)
    engine = OpenAIEngine(settings(f"http://127.0.0.1:{server.port}"))
    with pytest.raises(EngineError) as exc:
        list(engine.draft("q?", HITS))
    assert_no_key(exc)


def test_missing_base_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        OpenAIEngine(Settings())
