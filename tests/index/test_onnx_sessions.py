"""Which ONNX session embeds a call: the spinning one only for a lone question on an idle
machine; batches, concurrent calls and busy machines get the plain one (fakes, no model)."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from index import onnx_embed
from index.onnx_embed import OnnxMiniLM


class FakeEncoding:
    def __init__(self, text: str) -> None:
        self.ids = [len(text)]
        self.attention_mask = [1]
        self.type_ids = [0]


class FakeTokenizer:
    def encode_batch(self, texts: list[str]) -> list[FakeEncoding]:
        return [FakeEncoding(t) for t in texts]


class FakeSession:
    def __init__(self, name: str, started: threading.Event | None = None,
                 release: threading.Event | None = None) -> None:
        self.name = name
        self.batches: list[int] = []
        self.started, self.release = started, release

    def run(self, _outputs: Any, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        self.batches.append(len(feed["input_ids"]))
        if self.started is not None and self.release is not None:
            self.started.set()
            assert self.release.wait(10)
        return [np.ones((len(feed["input_ids"]), 384), dtype=np.float32)]


@pytest.fixture
def embedder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> OnnxMiniLM:
    e = OnnxMiniLM(tmp_path, fallback=None, batch_size=2)  # type: ignore[arg-type]
    e._session, e._tokenizer = FakeSession("plain"), FakeTokenizer()
    made: list[bool] = []

    def new_session(spinning: bool) -> FakeSession:
        made.append(spinning)
        return FakeSession("quick")

    monkeypatch.setattr(e, "_new_session", new_session)
    e.made = made  # type: ignore[attr-defined]
    monkeypatch.setattr(onnx_embed, "cores_idle", lambda: True)
    return e


def test_a_lone_question_on_an_idle_machine_uses_the_spinning_session(
        embedder: OnnxMiniLM) -> None:
    assert embedder.embed(["who?"]).shape == (1, 384)
    assert embedder.embed(["why?"]).shape == (1, 384)
    assert embedder.made == [True]  # made once, on first use  # type: ignore[attr-defined]
    assert embedder._quick.batches == [1, 1] and embedder._session.batches == []


def test_batches_and_busy_machines_use_the_plain_session(embedder: OnnxMiniLM,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    assert embedder.embed(["a", "bb", "ccc", "dddd", "eeeee"]).shape == (5, 384)
    assert embedder._session.batches == [2, 2, 1]  # batch_size at a time
    monkeypatch.setattr(onnx_embed, "cores_idle", lambda: False)
    embedder.embed(["who?"])
    assert embedder._session.batches == [2, 2, 1, 1] and embedder._quick is None


def test_a_question_during_another_call_uses_the_plain_session(embedder: OnnxMiniLM) -> None:
    started, release = threading.Event(), threading.Event()
    embedder._session = FakeSession("plain", started, release)  # the first call blocks in it
    first = threading.Thread(target=embedder.embed, args=(["one", "two", "three"],))
    first.start()
    try:
        assert started.wait(10)
        embedder._session.started = embedder._session.release = None  # the second runs freely
        embedder.embed(["who?"])  # while the first is in flight
        assert embedder._quick is None
    finally:
        release.set()
        first.join(10)
    assert embedder._running == 0


def test_no_spinning_session_falls_back_to_the_plain_one(embedder: OnnxMiniLM,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(spinning: bool) -> FakeSession:
        raise RuntimeError("out of memory")

    monkeypatch.setattr(embedder, "_new_session", broken)
    assert embedder.embed(["who?"]).shape == (1, 384)
    assert embedder._session.batches == [1]
