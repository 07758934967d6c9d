"""Failures reach REST clients as short messages with fitting status codes, never tracebacks.

A stub stands in for the Assistant here only to inject failures at the edge; the real
Assistant is exercised in test_ui_api.py and the browser tests.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from ui_helpers import parse_sse

from core.errors import EngineError, IndexLockedError, StoreError
from core.records import Answer
from rag.assistant import StreamEvent
from ui.server import create_app

pytestmark = pytest.mark.fault


class FailingAssistant:
    def __init__(self, data_dir: Path, fail: Exception, after_tokens: int = 0) -> None:
        self.settings = SimpleNamespace(data_dir=data_dir, engine="extractive", top_k=6,
                                        openai_base_url=None)
        self.fail = fail
        self.after_tokens = after_tokens

    def ask_stream(self, question: str, history: Any = None, filters: Any = None,
                   engine: Any = None, top_k: Any = None,
                   as_of: Any = None) -> Iterator[StreamEvent]:
        for i in range(self.after_tokens):
            yield StreamEvent("token", f"piece {i} ")
        raise self.fail
        yield StreamEvent("final", answer=Answer(question=question, text=""))  # pragma: no cover

    def articles(self) -> list[Any]:
        return []

    def article(self, article_id: str) -> Any:
        return SimpleNamespace(path="/elsewhere/a.txt") if article_id == "x" else None

    def engine_name(self, name: str | None = None) -> str:
        return name or "extractive"

    def ingest(self, paths: Any, progress: Any = None, background: bool = False) -> Any:
        raise self.fail

    def delete(self, article_id: str) -> bool:
        raise self.fail


def _client(tmp_path: Path, fail: Exception, after_tokens: int = 0) -> TestClient:
    return TestClient(create_app(FailingAssistant(tmp_path, fail, after_tokens)),
                      raise_server_exceptions=False)


@pytest.mark.parametrize("fail,status", [
    (EngineError("the openai server at http://127.0.0.1:9 is not reachable"), 503),
    (StoreError("Chroma is not reachable"), 503),
    (IndexLockedError("another newscite process is writing"), 409),
    (RuntimeError("secret internal detail"), 500),
])
def test_ask_errors_become_status_codes(tmp_path, fail, status):
    client = _client(tmp_path, fail)
    for path in ("/api/ask", "/api/ask/stream"):
        r = client.post(path, json={"question": "anything"})
        assert r.status_code == status
        detail = r.json()["detail"]
        if status == 500:
            assert "secret" not in detail and "went wrong" in detail
        else:
            assert detail == str(fail)
        assert "Traceback" not in r.text


def test_error_midway_through_a_stream_is_an_error_event(tmp_path):
    client = _client(tmp_path, EngineError("the model stopped answering"), after_tokens=2)
    with client.stream("POST", "/api/ask/stream", json={"question": "anything"}) as r:
        assert r.status_code == 200
        events = parse_sse("".join(r.iter_text()))
    assert [k for k, _ in events] == ["token", "token", "error"]
    assert events[-1][1] == {"message": "the model stopped answering"}


def test_unexpected_error_midway_is_generic(tmp_path):
    client = _client(tmp_path, KeyError("internal"), after_tokens=1)
    with client.stream("POST", "/api/ask/stream", json={"question": "anything"}) as r:
        events = parse_sse("".join(r.iter_text()))
    assert events[-1][0] == "error" and "internal" not in events[-1][1]["message"]


def test_write_errors(tmp_path):
    client = _client(tmp_path, IndexLockedError("another newscite process is writing"))
    r = client.post("/api/articles?wait=true",
                    files={"files": ("a.txt", b"Title\n\nBody text.")})
    assert r.status_code == 409
    assert list((tmp_path / "uploads").iterdir()) == []  # nothing left behind
    assert client.delete("/api/articles/x").status_code == 409
    assert client.get("/api/health").json()["articles"] == 0


def test_malformed_gradio_calls_and_rfc5987_names_are_400_not_500(tmp_path):
    from core.settings import Settings
    from index.embed import HashEmbedder
    from rag.assistant import Assistant

    assistant = Assistant(Settings(data_dir=tmp_path / "data", engine="extractive"),
                          embedder=HashEmbedder())
    client = TestClient(create_app(assistant), raise_server_exceptions=False)
    r = client.post("/gradio_api/run/ask", json={"data": ["only one of seven inputs"]})
    assert r.status_code == 400 and "inputs" in r.json()["detail"]
    body = (b"--b\r\nContent-Disposition: form-data; name=\"files\"; "
            b"filename*=UTF-8''st%C3%B6ry.txt\r\nContent-Type: text/plain\r\n\r\nHello\r\n--b--\r\n")
    for path in ("/gradio_api/upload", "/api/articles"):
        r = client.post(path, content=body,
                        headers={"content-type": "multipart/form-data; boundary=b"})
        assert r.status_code == 400 and "filename" in r.json()["detail"], (path, r.text)
    assistant.close()


def test_web_error_messages_are_escaped():
    from core.errors import InputError
    from ui.web import _message

    message = _message(InputError("date_from must be a date, not '<img src=//evil.example/b.png>'"))
    assert "<img" not in message and "&lt;img" in message
