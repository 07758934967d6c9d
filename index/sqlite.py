"""Opening the manifest database: read-write, or read-only for a folder this process cannot write."""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path


def is_read_only(path: Path) -> bool:
    """True when this process cannot write an existing database (read-only file, folder or
    mount): it can then still be read, through `open_sqlite`."""
    return path.exists() and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))


def open_sqlite(path: Path, read_only: bool | None = None) -> sqlite3.Connection:
    """A connection to the manifest database (autocommit; callers open their transactions).

    Read-only (by default when `is_read_only`) it is opened with mode=ro, which writes nothing.
    A WAL database needs its -shm file, which a reader creates when the last writer removed
    it; in a folder this process cannot write, that is impossible, so without a -wal file
    (nobody is writing: the last writer closed and checkpointed) it is opened immutable. An
    immutable reader does not see later writes by someone else: it reads the index as it was.
    """
    if read_only is None:
        read_only = is_read_only(path)
    if not read_only:
        return sqlite3.connect(str(path), timeout=30, check_same_thread=False,
                               isolation_level=None)
    uri = f"{path.resolve().as_uri()}?mode=ro"
    if not Path(f"{path}-wal").exists():
        uri += "&immutable=1"
    db = sqlite3.connect(uri, uri=True, timeout=30, check_same_thread=False,
                         isolation_level=None)
    db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # fail here, not mid-query
    return db
