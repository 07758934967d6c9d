"""index.pagecache: which files are handed to the kernel for read-ahead, and when not."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from index import pagecache


@pytest.fixture
def advised(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The reader processes `prefetch` starts (their command lines); they run for real."""
    calls: list[list[str]] = []
    real = subprocess.run

    def record(args: list[str], **kwargs: object) -> subprocess.CompletedProcess:
        calls.append([str(a) for a in args])
        return real(args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(subprocess, "run", record)
    return calls


def test_a_file_that_fits_is_read_ahead_whole(tmp_path: Path, advised: list) -> None:
    path = tmp_path / "manifest.sqlite"
    path.write_bytes(b"x" * 100_000)
    assert pagecache.prefetch(path) is True
    assert len(advised) == 1 and advised[0][-2] == str(path)


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
    from core.settings import Settings
    from index.embed import HashEmbedder
    from rag.assistant import Assistant

    assistant = Assistant(Settings(data_dir=tmp_path / "data", engine="extractive"),
                          embedder=HashEmbedder())
    path = assistant.manifest.path  # opening the manifest creates the file
    assistant.prefetch().join(10)
    assert len(advised) == 1 and advised[0][-2] == str(path)
    assistant.close()


def test_a_reader_that_fails_is_reported_as_not_prefetched(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "manifest.sqlite"
    path.write_bytes(b"x" * 10)
    monkeypatch.setattr(pagecache, "_READER", "raise SystemExit(3)")
    assert pagecache.prefetch(path) is False


def _wal_connection(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(str(path), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS t (v INTEGER)")
    return db


def _open_and_close_elsewhere(path: Path) -> None:
    """What a CLI command does to a served folder's manifest: open, read, close."""
    code = ("import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); "
            "db.execute('SELECT COUNT(*) FROM t').fetchone(); db.close()")
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, timeout=60)


def test_prefetching_keeps_this_process_sqlite_locks(tmp_path: Path) -> None:
    """A prefetch in a process that holds a WAL connection must not drop that connection's
    locks: otherwise another process closing its connection deletes the -wal file, and the
    rows this process writes next are lost."""
    path = tmp_path / "manifest.sqlite"
    db = _wal_connection(path)
    db.execute("INSERT INTO t VALUES (1)")
    assert pagecache.prefetch(path) is True
    _open_and_close_elsewhere(path)
    assert Path(f"{path}-wal").exists() and Path(f"{path}-shm").exists()
    db.execute("INSERT INTO t VALUES (2)")
    db.close()
    fresh = sqlite3.connect(str(path))
    assert [r[0] for r in fresh.execute("SELECT v FROM t ORDER BY v")] == [1, 2]
    assert fresh.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    fresh.close()


def test_closing_a_descriptor_in_process_is_what_loses_the_locks(tmp_path: Path) -> None:
    """The failure the child process avoids, shown directly: after an open/close of the
    database file in this process, another process's close removes the -wal file."""
    path = tmp_path / "manifest.sqlite"
    db = _wal_connection(path)
    db.execute("INSERT INTO t VALUES (1)")
    os.close(os.open(path, os.O_RDONLY))
    _open_and_close_elsewhere(path)
    assert not Path(f"{path}-wal").exists()
    db.close()
