"""index.pipeline: a group's writes run while the next group is embedded, in group order, one
group at a time; a failed write stops the ingest with its own error and leaves no trace."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from core.errors import StoreError
from core.settings import Settings
from eval.bench.corpus import write_corpus
from index.embed import HashEmbedder
from index.store import ChromaStore
from rag.assistant import Assistant


class SlowEmbedder(HashEmbedder):
    """Records when each embedding call starts and ends."""

    def __init__(self, events: list[tuple[str, int, float]]) -> None:
        super().__init__()
        self.events = events
        self.calls = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        self.events.append(("embed-start", self.calls, time.monotonic()))
        time.sleep(0.05)
        out = super().embed(texts)
        self.events.append(("embed-end", self.calls, time.monotonic()))
        return out


def _spans(events: list[tuple[str, int, float]], kind: str) -> list[tuple[float, float]]:
    starts = [t for name, _, t in events if name == f"{kind}-start"]
    ends = [t for name, _, t in events if name == f"{kind}-end"]
    return list(zip(starts, ends, strict=True))


def _assistant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
               embedder: HashEmbedder) -> Assistant:
    monkeypatch.setenv("NEWSCITE_GROUP_CHUNKS", "40")
    return Assistant(Settings(data_dir=tmp_path / "data"), embedder=embedder)


def test_writes_overlap_the_next_embedding_in_order(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    write_corpus(tmp_path / "corpus", 200, seed=5)
    events: list[tuple[str, int, float]] = []
    upsert = ChromaStore.upsert
    writing = threading.Lock()
    threads: set[str] = set()

    def slow_upsert(self: ChromaStore, articles: dict, chunks: list,
                    vectors: np.ndarray) -> None:
        assert writing.acquire(blocking=False), "two groups were written at once"
        try:
            threads.add(threading.current_thread().name)
            events.append(("write-start", len(events), time.monotonic()))
            time.sleep(0.4)
            upsert(self, articles, chunks, vectors)
            events.append(("write-end", len(events), time.monotonic()))
        finally:
            writing.release()

    monkeypatch.setattr(ChromaStore, "upsert", slow_upsert)
    a = _assistant(tmp_path, monkeypatch, SlowEmbedder(events))
    report = a.ingest([tmp_path / "corpus"])
    assert report.chunks_embedded >= 120 and report.timings["store_wait"] >= 0
    writes, embeds = _spans(events, "write"), _spans(events, "embed")
    assert len(writes) >= 3
    assert threads and threading.current_thread().name not in threads  # off the main thread
    # embedding ran while a group was being written: the model did not wait for Chroma
    assert any(e0 < w1 and w0 < e1 for w0, w1 in writes for e0, e1 in embeds), events
    assert a.manifest.all_chunk_ids() == a.store.ids()  # every group committed, in full
    a.close()


def test_a_failed_write_stops_the_ingest_and_leaves_the_index_as_before(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_corpus(tmp_path / "corpus", 200, seed=5)
    upsert = ChromaStore.upsert
    calls = [0]

    def failing_second(self: ChromaStore, articles: dict, chunks: list,
                       vectors: np.ndarray) -> None:
        calls[0] += 1
        if calls[0] == 2:
            upsert(self, articles, chunks, vectors)  # reached Chroma, then the write failed
            raise StoreError("writing to Chroma failed: disk full")
        upsert(self, articles, chunks, vectors)

    monkeypatch.setattr(ChromaStore, "upsert", failing_second)
    embedder = HashEmbedder()
    a = _assistant(tmp_path, monkeypatch, embedder)
    with pytest.raises(StoreError, match="disk full"):
        a.ingest([tmp_path / "corpus"])
    assert calls[0] == 2  # no group was written after the failed one
    first_group = a.manifest.all_chunk_ids()
    assert first_group and a.store.ids() == first_group  # group 1 kept, group 2 undone
    assert not a.manifest.inflight()
    monkeypatch.setattr(ChromaStore, "upsert", upsert)
    a.ingest([tmp_path / "corpus"])  # the re-run completes the rest
    assert a.manifest.all_chunk_ids() == a.store.ids() > first_group
    a.close()
