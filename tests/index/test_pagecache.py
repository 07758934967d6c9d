"""index.pagecache: which files are handed to the kernel for read-ahead, and when not."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from index import pagecache


@pytest.fixture
def advised(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, int]]:
    calls: list[tuple[int, int, int]] = []
    real = os.posix_fadvise

    def record(fd: int, offset: int, length: int, advice: int) -> None:
        calls.append((offset, length, advice))
        real(fd, offset, length, advice)

    monkeypatch.setattr(os, "posix_fadvise", record)
    return calls


def test_a_file_that_fits_is_read_ahead_whole(tmp_path: Path, advised: list) -> None:
    path = tmp_path / "manifest.sqlite"
    path.write_bytes(b"x" * 100_000)
    assert pagecache.prefetch(path) is True
    assert advised == [(0, 100_000, os.POSIX_FADV_WILLNEED)]


def test_a_file_too_large_for_free_memory_is_left_alone(tmp_path: Path, advised: list,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "manifest.sqlite"
    path.write_bytes(b"x" * 100_000)
    monkeypatch.setattr(pagecache, "available_bytes", lambda: 150_000)
    assert pagecache.prefetch(path) is False  # more than half of what is available
    monkeypatch.setattr(pagecache, "available_bytes", lambda: None)
    assert pagecache.prefetch(path) is False  # unknown: do not guess
    assert advised == []


def test_a_missing_file_is_no_error(tmp_path: Path, advised: list) -> None:
    assert pagecache.prefetch(tmp_path / "nothing-here.sqlite") is False
    assert advised == []


@pytest.mark.skipif(not Path("/proc/meminfo").exists(), reason="no /proc/meminfo here")
def test_available_memory_is_read() -> None:
    got = pagecache.available_bytes()
    assert got is not None and got > 0


def test_the_assistant_prefetches_its_manifest(tmp_path: Path, advised: list) -> None:
    from index.embed import HashEmbedder
    from rag.assistant import Assistant
    from rag.settings import Settings

    assistant = Assistant(Settings(data_dir=tmp_path / "data", engine="extractive"),
                          embedder=HashEmbedder())
    path = assistant.manifest.path  # opening the manifest creates the file
    assistant.prefetch().join(10)
    assert advised == [(0, path.stat().st_size, os.POSIX_FADV_WILLNEED)]
    assistant.close()


def test_the_prefetch_returns_once_the_file_is_read(tmp_path: Path, advised: list,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """After the advice the file is read through (in 1 MiB reads here), so a thread running
    the prefetch ends when the file is in the page cache."""
    path = tmp_path / "manifest.sqlite"
    path.write_bytes(os.urandom(3 * (1 << 20) + 5))
    reads: list[int] = []
    real = os.readv

    def count(fd: int, buffers: list) -> int:
        got = real(fd, buffers)
        reads.append(got)
        return got

    monkeypatch.setattr(os, "readv", count)
    assert pagecache.prefetch(path) is True
    assert sum(reads) == path.stat().st_size and reads[-1] == 0
