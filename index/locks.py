"""Who may write a data folder: one writer at a time, and nobody else while a server serves it.

Locks are `flock`s on small files of their own in the data folder, never on the manifest
database: SQLite keeps POSIX locks on its files, and any other descriptor of them opened and
closed in the same process would drop those locks (see `index.pagecache`).
"""
from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from core.errors import IndexError_, IndexLockedError

WRITE_LOCK = "write.lock"
SERVE_LOCK = "serve.lock"
SERVE_INFO = "serve.json"

# data folders this process serves: its own writes go ahead, other processes' are refused
_served_here: dict[Path, IO[str]] = {}


def _open(data_dir: Path, name: str) -> IO[str]:
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        return open(data_dir / name, "a+", encoding="utf-8")  # noqa: SIM115 - held by caller
    except OSError as exc:
        raise IndexError_(f"cannot write to the data folder {data_dir}: {exc.strerror}") from exc


def _try_flock(handle: IO[str]) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def served_by(data_dir: Path) -> str:
    """How the server of `data_dir` described itself ('pid N at URL'), for messages."""
    try:
        info = json.loads((data_dir / SERVE_INFO).read_text(encoding="utf-8"))
        return f"pid {int(info['pid'])} at {info['url']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


@contextmanager
def write_lock(data_dir: Path) -> Iterator[None]:
    """One writer per data folder; a second one, or any writer in another process while a
    server serves the folder, fails fast with IndexLockedError."""
    handle = _open(data_dir, WRITE_LOCK)
    if not _try_flock(handle):
        handle.close()
        raise IndexLockedError(
            f"another newscite process is writing to {data_dir}; wait for it to finish")
    serve_handle = None
    try:
        if data_dir.resolve() not in _served_here:
            serve_handle = _open(data_dir, SERVE_LOCK)
            if not _try_flock(serve_handle):  # held by a server for as long as it runs
                raise IndexLockedError(
                    f"{data_dir} is being served by newscite ({served_by(data_dir)}); add or "
                    "delete articles through its web chat or REST API, or stop it first")
        yield
    finally:
        if serve_handle is not None:
            serve_handle.close()  # closing the descriptor releases its flock
        handle.close()


def hold_for_serving(data_dir: Path, url: str) -> None:
    """Mark `data_dir` as served by this process until `release_serving` (or exit): writers
    in other processes are refused, and a second server on the same folder fails to start."""
    key = data_dir.resolve()
    if key in _served_here:
        return
    handle = _open(data_dir, SERVE_LOCK)
    if not _try_flock(handle):
        handle.close()
        raise IndexLockedError(
            f"{data_dir} is already served or being written by another newscite process "
            f"({served_by(data_dir)}); stop it or use another --data-dir")
    _served_here[key] = handle
    info = {"pid": os.getpid(), "url": url}
    try:
        (data_dir / SERVE_INFO).write_text(json.dumps(info), encoding="utf-8")
    except OSError:  # only used in messages
        pass


def release_serving(data_dir: Path) -> None:
    handle = _served_here.pop(data_dir.resolve(), None)
    if handle is None:
        return
    try:
        (data_dir / SERVE_INFO).unlink(missing_ok=True)
    except OSError:
        pass
    handle.close()
