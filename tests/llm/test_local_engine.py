"""LocalEngine and model assembly: fakes for failure paths, the real packaged model under `llm`."""
from __future__ import annotations

import hashlib
import re
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.errors import EngineError
from core.records import REFUSAL, Hit
from core.settings import Settings
from rag.llm import local, model
from rag.llm.local import LocalEngine
from rag.llm.openai import OpenAIEngine

MARKER = re.compile(r"\[\d+\]")
HITS = (Hit(chunk_id="c1", article_id="a1", title="T", start=0, end=0, score=1.0,
            text="At least 33 soldiers were killed in the strike. Rahmi Dogan is the governor."),)


# -- model assembly (small fake parts) ---------------------------------------------------

@pytest.fixture
def fake_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    chunks = [bytes([i]) * (1000 + i) for i in range(1, 4)]
    for i, data in enumerate(chunks, 1):
        (tmp_path / f"part{i}.bin").write_bytes(data)
    whole = b"".join(chunks)
    modules = {model.PART_MODULE.format(i): types.SimpleNamespace(
        get_part_path=lambda i=i: str(tmp_path / f"part{i}.bin")) for i in range(1, 4)}

    def fake_import(name: str) -> Any:
        if name in modules:
            return modules[name]
        raise ImportError(name)

    monkeypatch.setattr(model, "PART_COUNT", 3)
    monkeypatch.setattr(model, "MODEL_SIZE", len(whole))
    monkeypatch.setattr(model, "MODEL_SHA256", hashlib.sha256(whole).hexdigest())
    monkeypatch.setattr(model.importlib, "import_module", fake_import)
    return chunks


def test_assembles_verifies_and_reuses(tmp_path: Path, fake_parts: list[bytes]) -> None:
    cache = tmp_path / "cache"
    path = model.packaged_model_path(cache)
    assert path.read_bytes() == b"".join(fake_parts)
    assert not list(cache.glob(".assemble-*"))  # temp file renamed away
    mtime = path.stat().st_mtime_ns
    assert model.packaged_model_path(cache) == path and path.stat().st_mtime_ns == mtime
    # a same-size but damaged file is only caught by verify=True, which reassembles it
    path.write_bytes(b"\0" * len(b"".join(fake_parts)))
    assert model.packaged_model_path(cache).read_bytes() != b"".join(fake_parts)
    assert model.packaged_model_path(cache, verify=True).read_bytes() == b"".join(fake_parts)


def test_concurrent_assembly_is_serialised(tmp_path: Path, fake_parts: list[bytes]) -> None:
    cache = tmp_path / "cache"
    results: list[Path | BaseException] = []

    def run() -> None:
        try:
            results.append(model.packaged_model_path(cache))
        except BaseException as exc:  # noqa: BLE001
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(isinstance(r, Path) for r in results), results
    assert (cache / model.MODEL_FILENAME).read_bytes() == b"".join(fake_parts)


def test_damaged_parts_are_refused(tmp_path: Path, fake_parts: list[bytes],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model, "MODEL_SHA256", "0" * 64)
    with pytest.raises(EngineError, match="damaged"):
        model.packaged_model_path(tmp_path / "cache")
    assert not (tmp_path / "cache" / model.MODEL_FILENAME).exists()
    assert not list((tmp_path / "cache").glob(".assemble-*"))


def test_missing_part_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_parts(name: str) -> Any:
        raise ImportError(name)

    monkeypatch.setattr(model.importlib, "import_module", no_parts)
    with pytest.raises(EngineError, match=r"pip install 'newscite\[local\]'"):
        model.packaged_model_path(tmp_path)


def test_import_rag_llm_is_light() -> None:
    import subprocess
    import sys

    code = ("import sys, rag.llm; from rag.llm import LocalEngine, OpenAIEngine; "
            "assert isinstance(rag.llm.is_local_available(), bool); "
            "print(any(m in sys.modules for m in ('xllamacpp', 'httpx', 'llama_index')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[2], check=True)
    assert out.stdout.strip() == "False"


# -- xllamacpp set-up (one function for the engine and `python -m rag.llm.serve`) ---------

class FakeParams:
    """Stands in for xllamacpp.CommonParams: nested parameter groups, attributes only."""

    def __init__(self) -> None:
        self.model = types.SimpleNamespace(path="")
        self.cpuparams = types.SimpleNamespace(n_threads=0)
        self.cpuparams_batch = types.SimpleNamespace(n_threads=0)


@pytest.fixture
def fake_xllamacpp(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """A fake xllamacpp module; returns the params every Server was started with."""
    started: list[Any] = []

    def server(params: Any) -> Any:
        if params.model.path.endswith("broken.gguf"):
            raise RuntimeError("failed to load model\n#0 0x7f llama_model_load")
        started.append(params)
        return types.SimpleNamespace(params=params)

    monkeypatch.setitem(sys.modules, "xllamacpp",
                        types.SimpleNamespace(CommonParams=FakeParams, Server=server))
    return started


def test_engine_and_server_share_the_model_set_up(tmp_path: Path,
                                                  fake_xllamacpp: list[Any]) -> None:
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF")
    served = model.load_server(path, n_ctx=2048, threads=3, api_key=None,
                               address=("127.0.0.1", 8081))
    try:
        loaded = local._load_model(path, Settings(llm_ctx=1024, llm_threads=1)).server
    finally:
        local._MODELS.pop(path.resolve(), None)
    for server, ctx, threads in ((served, 2048, 3), (loaded, 1024, 1)):
        params = server.params
        assert params.model.path == str(path.resolve()) and params.n_ctx == ctx
        assert params.cpuparams.n_threads == params.cpuparams_batch.n_threads == threads
        assert params.n_parallel == 1 and params.cache_prompt and params.n_cache_reuse == 256
    assert served.params.hostnames == ["127.0.0.1"] and served.params.port == 8081
    assert not hasattr(served.params, "api_keys")  # no key asked for: none required
    # the engine's own server listens on a loopback port of its own, behind a random key
    assert not hasattr(loaded.params, "hostnames") and len(loaded.params.api_keys[0]) >= 32


@pytest.mark.fault
def test_model_load_failure_is_a_short_engine_error(tmp_path: Path,
                                                    fake_xllamacpp: list[Any]) -> None:
    with pytest.raises(EngineError) as exc:
        model.load_server(tmp_path / "broken.gguf", n_ctx=512, threads=1, api_key=None)
    assert str(exc.value) == "cannot load the model broken.gguf: failed to load model"


# -- LocalEngine with a fake xllamacpp server (no model) ---------------------------------

class FakeServer:
    """Stands in for xllamacpp.Server: replays chunks through the streaming callback."""

    def __init__(self, script: Callable[[dict[str, Any], Callable[[dict[str, Any]], bool]], None]):
        self.script = script
        self.requests: list[dict[str, Any]] = []

    def handle_chat_completions(self, request: dict[str, Any],
                                callback: Callable[[dict[str, Any]], bool]) -> None:
        self.requests.append(request)
        self.script(request, callback)


def tokens(*pieces: str, delay: float = 0.0) -> Callable[..., None]:
    def script(request: dict[str, Any], callback: Callable[[dict[str, Any]], bool]) -> None:
        for piece in pieces:
            if delay:
                time.sleep(delay)
            if callback({"choices": [{"delta": {"content": piece}}]}):
                return
        callback({"choices": [{"delta": {}, "finish_reason": "stop"}],
                  "timings": {"prompt_n": 10, "cache_n": 5, "predicted_n": len(pieces)}})
    return script


FakeFactory = Callable[..., tuple[LocalEngine, FakeServer]]


@pytest.fixture
def fake_engine(tmp_path: Path) -> Iterator[FakeFactory]:
    keys: list[Path] = []

    def make(script: Callable[..., None], **kw: Any) -> tuple[LocalEngine, FakeServer]:
        path = tmp_path / f"fake{len(keys)}.gguf"
        path.write_bytes(b"GGUF")
        server = FakeServer(script)
        settings = Settings(llm_model_path=path, **kw)
        local._MODELS[path.resolve()] = local._Model(path=path.resolve(), server=server,
                                                      n_ctx=settings.llm_ctx, load_seconds=0.0)
        keys.append(path.resolve())
        return LocalEngine(settings), server

    yield make
    for key in keys:
        local._MODELS.pop(key, None)


def test_streams_pieces_in_order(fake_engine: FakeFactory) -> None:
    engine, server = fake_engine(tokens("At least", " 33 soldiers", " were killed [1].",
                                        " More", " text [1]."))
    pieces = list(engine.draft("How many soldiers?", HITS))
    # "At" cannot open a refusal: streamed piece by piece from the first
    assert pieces == ["At least", " 33 soldiers", " were killed [1].", " More", " text [1]."]
    check, request = server.requests  # the yes/no pre-check, then the answer
    assert check["max_tokens"] == 1 and check["logprobs"] is True
    assert request["stream"] is True and request["temperature"] == 0.0
    assert request["cache_prompt"] is True and request["max_tokens"] == 200
    # both share the prompt prefix up to the question, so the second is served from cache
    assert check["messages"][:-1] == request["messages"][:-1]
    q_end = request["messages"][-1]["content"].index("How many soldiers?")
    assert check["messages"][-1]["content"][:q_end] == request["messages"][-1]["content"][:q_end]
    assert engine.last_stats["prompt_tokens"] == 15
    # read by the model: the pre-check's 10 uncached tokens, then the answer's own 10
    assert engine.last_stats["new_prompt_tokens"] == 20


def yes_no(yes: float, no: float, answer: Callable[..., None]) -> Callable[..., None]:
    """A fake server: the pre-check gets these log-probabilities, the answer `answer`."""
    def script(request: dict[str, Any], callback: Callable[[dict[str, Any]], bool]) -> None:
        if request["max_tokens"] == 1:
            top = sorted([{"token": "Yes", "logprob": yes}, {"token": "No", "logprob": no}],
                         key=lambda t: -t["logprob"])
            callback({"choices": [{"delta": {"content": top[0]["token"]}, "logprobs": {
                "content": [{"token": top[0]["token"], "logprob": top[0]["logprob"],
                             "top_logprobs": top}]}}]})
            return
        answer(request, callback)
    return script


def test_precheck_refuses_on_a_confident_no(fake_engine: FakeFactory) -> None:
    engine, server = fake_engine(yes_no(-1.8, -0.2, tokens("The pilot was Rahmi Dogan [1].")))
    assert list(engine.draft("Who was the pilot?", HITS)) == [REFUSAL]
    assert len(server.requests) == 1  # no answer was generated


def test_precheck_margin_is_public_for_calibration(fake_engine: FakeFactory) -> None:
    engine, server = fake_engine(yes_no(-1.8, -0.2, tokens("unused")))
    margin = engine.precheck_margin("Who was the pilot?", HITS)
    assert margin is not None and margin < -1.0
    assert len(server.requests) == 1 and server.requests[0]["max_tokens"] == 1
    assert engine.precheck_margin("Who was the pilot?", []) is None


def test_precheck_lets_a_likely_answer_through(fake_engine: FakeFactory) -> None:
    engine, server = fake_engine(yes_no(-0.4, -0.9, tokens("33 soldiers died [1].")))  # +0.5
    assert "".join(engine.draft("How many soldiers?", HITS)) == "33 soldiers died [1]."
    assert len(server.requests) == 2
    engine = LocalEngine(engine.settings, precheck=False)
    assert "".join(engine.draft("How many soldiers?", HITS)) == "33 soldiers died [1]."
    assert len(server.requests) == 3


def test_refusal_is_normalised_and_generation_stops(fake_engine: FakeFactory) -> None:
    engine, _ = fake_engine(tokens("The", " articles", " do not contain the answer to this "
                                   "question", ".", " However", " [1]"))
    assert list(engine.draft("Who was the pilot?", HITS)) == [REFUSAL]


def test_no_hits_refuses_without_loading(tmp_path: Path) -> None:
    engine = LocalEngine(Settings(llm_model_path=tmp_path / "missing.gguf"))
    assert list(engine.draft("anything?", [])) == [REFUSAL]


@pytest.mark.fault
def test_missing_model_file(tmp_path: Path) -> None:
    engine = LocalEngine(Settings(llm_model_path=tmp_path / "missing.gguf"))
    with pytest.raises(EngineError, match="not found"):
        list(engine.draft("q?", HITS))


@pytest.mark.fault
def test_garbled_output(fake_engine: FakeFactory) -> None:
    engine, _ = fake_engine(tokens("[", "2", "]", " ..."))
    with pytest.raises(EngineError, match="no usable text"):
        list(engine.draft("q?", HITS))


@pytest.mark.fault
def test_timeout_is_bounded(fake_engine: FakeFactory) -> None:
    engine, _ = fake_engine(tokens(*["word "] * 100, delay=0.05), llm_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(EngineError, match=r"timed out after 0.5 s"):
        list(engine.draft("q?", HITS))
    assert time.monotonic() - started < 1.5


@pytest.mark.fault
def test_timeout_while_silent(fake_engine: FakeFactory) -> None:
    release = threading.Event()
    engine, _ = fake_engine(lambda req, cb: release.wait(5), llm_timeout=0.3)
    try:
        with pytest.raises(EngineError, match="timed out"):
            list(engine.draft("q?", HITS))
    finally:
        release.set()


@pytest.mark.fault
def test_context_overflow_trims_evidence_then_fails(fake_engine: FakeFactory) -> None:
    def overflow(request: dict[str, Any], callback: Callable[[dict[str, Any]], bool]) -> None:
        callback({"error": {"code": 400, "type": "exceed_context_size_error",
                            "message": "request exceeds the available context size"}})

    engine, server = fake_engine(overflow)
    with pytest.raises(EngineError, match="do not fit"):
        list(engine.draft("q?", HITS))
    sizes = [len(r["messages"][-1]["content"]) for r in server.requests]
    assert len(sizes) >= 2 and sizes[-1] <= sizes[0]

    calls = {"n": 0}

    def once(request: dict[str, Any], callback: Callable[[dict[str, Any]], bool]) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            overflow(request, callback)
        else:
            tokens("33 soldiers were killed [1].")(request, callback)

    engine, _ = fake_engine(once)
    assert "".join(engine.draft("q?", HITS)) == "33 soldiers were killed [1]."


@pytest.mark.fault
def test_library_exception_becomes_short_engine_error(fake_engine: FakeFactory) -> None:
    def boom(request: dict[str, Any], callback: Callable[[dict[str, Any]], bool]) -> None:
        raise ValueError("Expected 'messages' to be an array\nTraceback (most recent call last)")

    engine, _ = fake_engine(boom)
    with pytest.raises(EngineError) as exc:
        list(engine.draft("q?", HITS))
    assert str(exc.value) == "local model failed: Expected 'messages' to be an array"


def test_calls_are_serialised(fake_engine: FakeFactory) -> None:
    active = {"now": 0, "max": 0}
    lock = threading.Lock()

    def script(request: dict[str, Any], callback: Callable[[dict[str, Any]], bool]) -> None:
        with lock:
            active["now"] += 1
            active["max"] = max(active["max"], active["now"])
        tokens("Answer", " text [1].", delay=0.05)(request, callback)
        with lock:
            active["now"] -= 1

    engine, _ = fake_engine(script)
    outs: list[str] = []
    threads = [threading.Thread(target=lambda: outs.append("".join(engine.draft("q?", HITS))))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outs == ["Answer text [1]."] * 3 and active["max"] == 1


def test_condense_with_fake(fake_engine: FakeFactory) -> None:
    engine, server = fake_engine(tokens("Standalone question: What did Rahmi Dogan say?"))
    assert engine.condense("What did he say?", [("Who is the governor?", "Rahmi Dogan [1].")]) \
        == "What did Rahmi Dogan say?"
    assert server.requests[0]["stop"] == ["\n"]
    assert engine.condense("Plain?", []) == "Plain?"


# -- the real packaged model --------------------------------------------------------------

Q33 = "How many Turkish soldiers were killed in the air strike?"


@pytest.fixture(scope="module")
def real_engine(model_path: Path, model_cache: Path) -> LocalEngine:
    engine = LocalEngine(Settings(cache_dir=model_cache, llm_max_tokens=80))
    engine.load()
    return engine


@pytest.mark.llm
@pytest.mark.slow
def test_real_model_answers_with_citation(real_engine: LocalEngine,
                                          seed_hits: tuple[Hit, ...]) -> None:
    answer = "".join(real_engine.draft(Q33, seed_hits))
    assert "33" in answer and MARKER.search(answer), answer
    assert real_engine.last_stats["first_token_seconds"] > 0
    # tokens stream as they are generated (draft holds only an answer's first words)
    pieces = list(real_engine.stream_messages(
        [{"role": "user", "content": "Count from 1 to 5, separated by spaces."}], max_tokens=16))
    assert len(pieces) > 3 and "3" in "".join(pieces)


@pytest.mark.llm
@pytest.mark.slow
def test_real_model_refuses_unanswerable(real_engine: LocalEngine,
                                         seed_hits: tuple[Hit, ...]) -> None:
    answer = "".join(real_engine.draft(
        "What was the name of the pilot who carried out the strike?", seed_hits))
    assert answer == REFUSAL


@pytest.mark.llm
@pytest.mark.slow
def test_real_model_times_out(real_engine: LocalEngine, model_cache: Path,
                              seed_hits: tuple[Hit, ...]) -> None:
    engine = LocalEngine(Settings(cache_dir=model_cache, llm_timeout=0.5))
    with pytest.raises(EngineError, match="timed out"):
        # a new question: its prompt is not cached, so it cannot finish in 0.5 s
        list(engine.draft("Which governor announced how many soldiers died, and when?",
                          seed_hits))
    # the model is usable again right after
    assert "33" in "".join(real_engine.draft(Q33, seed_hits))


@pytest.mark.llm
@pytest.mark.slow
def test_real_model_through_llama_index(real_engine: LocalEngine) -> None:
    from rag.llm.llamaindex import EngineLLM

    llm = EngineLLM(real_engine)
    assert llm.metadata.is_chat_model
    reply = llm.complete("Reply with the single word: yes", max_tokens=5)
    assert "yes" in reply.text.lower()


@pytest.mark.llm
@pytest.mark.server
@pytest.mark.slow
def test_openai_engine_against_real_server(llm_server: Any, seed_hits: tuple[Hit, ...]) -> None:
    engine = OpenAIEngine(Settings(openai_base_url=llm_server.url + "/v1", llm_max_tokens=80,
                                   openai_api_key_env="NEWSCITE_TEST_UNSET_KEY"))
    answer = "".join(engine.draft(Q33, seed_hits))
    assert "33" in answer and MARKER.search(answer), answer
    pieces = list(engine.stream_messages(
        [{"role": "user", "content": "Count from 1 to 5, separated by spaces."}], max_tokens=16))
    assert len(pieces) > 3 and "3" in "".join(pieces)


@pytest.mark.llm
@pytest.mark.server
@pytest.mark.fault
@pytest.mark.slow
def test_server_killed_mid_run(model_path: Path, server_factory: Callable[..., Any],
                               seed_hits: tuple[Hit, ...]) -> None:
    server = server_factory(model_path)
    try:
        engine = OpenAIEngine(Settings(openai_base_url=server.url, llm_max_tokens=200,
                                       llm_timeout=60))
        killer = threading.Timer(2.0, server.kill)  # during prompt processing or generation
        killer.start()
        started = time.monotonic()
        with pytest.raises(EngineError) as exc:
            list(engine.draft("Which governor announced how many soldiers died, and when?",
                              seed_hits))
        assert time.monotonic() - started < 30
        assert "Traceback" not in str(exc.value)
        killer.join()
    finally:
        server.kill()


def test_llama_index_wrapper_with_fake(fake_engine: FakeFactory) -> None:
    from llama_index.core.base.llms.types import ChatMessage

    from rag.llm.llamaindex import EngineLLM

    engine, server = fake_engine(tokens("Hel", "lo", "!"))
    llm = EngineLLM(engine)
    assert llm.metadata.context_window == engine.settings.llm_ctx
    assert llm.complete("Say hello").text == "Hello!"
    assert [r.delta for r in llm.stream_complete("Say hello")] == ["Hel", "lo", "!"]
    reply = llm.chat([ChatMessage(role="system", content="Be brief."),
                      ChatMessage(role="user", content="Say hello")])
    assert reply.message.content == "Hello!"
    assert server.requests[-1]["messages"] == [{"role": "system", "content": "Be brief."},
                                               {"role": "user", "content": "Say hello"}]
    assert [r.message.content for r in llm.stream_chat([ChatMessage(role="user", content="x")])] \
        == ["Hel", "Hello", "Hello!"]
