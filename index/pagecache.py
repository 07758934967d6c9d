"""Ask the OS to read index files into its page cache ahead of the questions that need them.

Each question reads a few dozen scattered pages of the manifest database (the texts and
metadata of its hits). On a server that has just started, or after other work pushed the
database out of the page cache, each of those pages is a disk read: at a million chunks that
made retrieval several times slower until the cache had warmed up question by question.
`prefetch` has a child process ask the kernel to read the whole file (`posix_fadvise` with
`WILLNEED`) and read it through, so that it returns once the file is cached; callers run it on
a background thread that nothing waits for. It is skipped when the file would take more than half of the
memory the system has available.
"""
from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

logger = logging.getLogger(__name__)
_CHUNK = 1 << 20  # bytes per read while reading a prefetched file through


def available_bytes() -> int | None:
    """MemAvailable from /proc/meminfo (None where there is no such file)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


# Run in a child process: the file is the manifest database, and this process holds SQLite
# connections to it. POSIX locks belong to a process and a file, so closing any descriptor of
# the file here would silently drop the locks SQLite holds on it; another process closing its
# own connection would then think it was the last one and delete the -wal and -shm files under
# this process's feet (its later writes lost). The page cache is shared, so a child that reads
# the file warms it for this process just as well.
_READER = """
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
size = os.fstat(fd).st_size
if hasattr(os, "posix_fadvise"):
    os.posix_fadvise(fd, 0, size, os.POSIX_FADV_WILLNEED)
buffer = bytearray(int(sys.argv[2]))
while os.readv(fd, [buffer]) > 0:
    pass
"""


def prefetch(path: Path, share: float = 0.5, timeout: float = 600.0) -> bool:
    """Read `path` into the page cache (in a child process, see `_READER`) when it takes at
    most `share` of the available memory; True when it was read. Blocks until the file is
    read: callers run it on a background thread that nothing waits for."""
    try:
        size = path.stat().st_size
    except OSError:
        return False
    free = available_bytes()
    if free is None or size > share * free:
        logger.info("not prefetching %s (%d MB): too large for the free memory", path,
                    size >> 20)
        return False
    try:
        # -S -I: no site packages, no user paths: the child starts in milliseconds
        done = subprocess.run([sys.executable, "-S", "-I", "-c", _READER, str(path),
                               str(_CHUNK)], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        logger.info("could not prefetch %s: %s", path, exc)
        return False
    if done.returncode != 0:
        logger.info("could not prefetch %s: %s", path, done.stderr.decode(errors="replace")[-300:])
        return False
    return True
