"""Give the heap memory an ingest has freed back to the operating system.

Embedding batches of every length, group after group, leaves glibc's heap fragmented: freed
blocks stay mapped, and the process's resident memory creeps up. With `malloc_trim(0)` after
every committed group (`index.pipeline` calls it), the bench's 10k-chunk ingest peaks lower
(docs/bench-history.md, run ingest-9f1cee9). Elsewhere than
glibc (musl, macOS) there is no such call and this does nothing.
"""
from __future__ import annotations

import ctypes
import functools
import sys
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


def release_free_memory() -> bool:
    """Return freed heap pages to the OS; False where the C library cannot."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
