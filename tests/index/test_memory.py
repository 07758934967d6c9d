"""index.memory: freed heap returned to the OS after every ingest group."""
from __future__ import annotations

import platform
from pathlib import Path

import pytest

from index import memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_trims_on_glibc() -> None:
    assert memory.release_free_memory() is True


def test_does_nothing_without_malloc_trim(monkeypatch: pytest.MonkeyPatch) -> None:
    memory._malloc_trim.cache_clear()
    monkeypatch.setattr(memory.sys, "platform", "darwin")
    try:
        assert memory.release_free_memory() is False
    finally:
        memory._malloc_trim.cache_clear()


def test_ingest_trims_after_every_committed_group(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import index.pipeline
    from core.settings import Settings
    from eval.bench.corpus import write_corpus
    from index.embed import HashEmbedder
    from rag.assistant import Assistant

    trims: list[int] = []
    committed: list[int] = []
    hook = index.pipeline._test_hook

    def record(point: str, n: int) -> None:
        if point == "committed":
            committed.append(n)
        hook(point, n)

    monkeypatch.setattr(index.pipeline, "release_free_memory", lambda: trims.append(1) or True)
    monkeypatch.setattr(index.pipeline, "_test_hook", record)
    monkeypatch.setenv("NEWSCITE_GROUP_CHUNKS", "40")
    write_corpus(tmp_path / "c", 100, seed=3)
    a = Assistant(Settings(data_dir=tmp_path / "d"), embedder=HashEmbedder())
    try:
        a.ingest([tmp_path / "c"])
    finally:
        a.close()
    assert len(committed) >= 2 and len(trims) == len(committed)
