"""The server's background feed sync: every INTERVAL, a sync job joins the upload queue."""
from __future__ import annotations

import logging
import re
import threading

from core.errors import RagError
from ui.service import Library

logger = logging.getLogger(__name__)

__all__ = ["PeriodicSync", "parse_interval"]

MIN_INTERVAL = 10.0  # seconds: feeds are not polled faster than this
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_interval(text: str) -> float:
    """'15m' -> 900.0 seconds ('90s', '2h', '1d'; a bare number is seconds); ValueError for
    anything else or an interval under MIN_INTERVAL."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", str(text).lower())
    if not match:
        raise ValueError(f"an interval is a number with s, m, h or d (like 15m), not {text!r}")
    seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if seconds < MIN_INTERVAL:
        raise ValueError(f"the sync interval must be at least {MIN_INTERVAL:g} seconds")
    return seconds


class PeriodicSync:
    """A daemon thread submitting `Library.submit_sync` every `every` seconds (the first one
    at once). The sync runs as an ingest job, through the same queue, write lock and serve
    lock as uploads; a sync still queued or running is not doubled."""

    def __init__(self, library: Library, every: float) -> None:
        if every <= 0:
            raise ValueError("every must be positive")
        self.library = library
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="newscite-feed-sync",
                                        daemon=True)

    def start(self) -> PeriodicSync:
        self._thread.start()
        return self

    def stop(self, timeout: float | None = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                job = self.library.submit_sync()
                logger.info("feed sync queued as %s", job.id)
            except RagError as exc:
                logger.warning("could not queue the feed sync: %s", exc)
            except Exception:  # noqa: BLE001 - the server goes on; the next round tries again
                logger.exception("could not queue the feed sync")
            self._stop.wait(self.every)
