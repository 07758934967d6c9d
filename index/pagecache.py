"""Ask the OS to read index files into its page cache ahead of the questions that need them.

Each question reads a few dozen scattered pages of the manifest database (the texts and
metadata of its hits). On a server that has just started, or after other work pushed the
database out of the page cache, each of those pages is a disk read: at a million chunks that
made retrieval several times slower until the cache had warmed up question by question.
`prefetch` asks the kernel to read the whole file (`posix_fadvise` with `WILLNEED`) and then
reads it through, so that it returns once the file is cached; callers run it on a background
thread that nothing waits for. It is skipped when the file would take more than half of the
memory the system has available.
"""
from __future__ import annotations

import logging
import os
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


def prefetch(path: Path, share: float = 0.5) -> bool:
    """Start reading `path` into the page cache in the background when it takes at most
    `share` of the available memory; True when the read was requested."""
    advise = getattr(os, "posix_fadvise", None)
    if advise is None:  # not on this platform
        return False
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
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        advise(fd, 0, size, os.POSIX_FADV_WILLNEED)
        # the advice only starts the read; reading the file through as well means the caller's
        # thread ends when the file is in the cache (at 1M chunks, timed questions right
        # after the advice still read ~450 KB each from disk)
        buffer = bytearray(_CHUNK)
        while os.readv(fd, [buffer]) > 0:
            pass
    except OSError:
        return False
    finally:
        os.close(fd)
    return True
