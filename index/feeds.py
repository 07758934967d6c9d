"""The feed store: RSS/Atom feeds to sync and what each fetched page last looked like (feeds.json)."""
from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from core.errors import FetchError, IndexError_, InputError
from index.fetch import normalise_url

logger = logging.getLogger(__name__)

__all__ = ["FEEDS_FILE", "Feed", "FeedStore", "PageState"]

FEEDS_FILE = "feeds.json"  # beside the manifest in the data folder
_LOCK_FILE = "feeds.lock"
_VERSION = 1


@dataclass(frozen=True)
class Feed:
    """A feed the user added, and how its last sync went."""

    url: str
    title: str | None = None
    added: float = 0.0  # unix time
    etag: str | None = None
    last_modified: str | None = None
    last_sync: float | None = None  # unix time of the last attempt
    last_ok: float | None = None  # unix time of the last successful fetch (200 or 304)
    last_error: str | None = None  # why the last attempt failed; None when it worked
    items: int = 0  # entries in the feed when last read
    new_items: int = 0  # articles the last sync added or updated from it


@dataclass(frozen=True)
class PageState:
    """A fetched article page: its validators for the next conditional GET, and its article."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    fetched: float = 0.0
    article_id: str | None = None
    feed: str | None = None  # the feed it came from; None for a link added on its own


def _from_dict(kind: type[Any], data: object) -> Any:
    if not isinstance(data, dict):
        raise TypeError("not an object")
    names = {f.name for f in fields(kind)}
    return kind(**{k: v for k, v in data.items() if k in names})


class FeedStore:
    """feeds.json in the data folder: read on every call (another process may have changed it),
    written whole and atomically (a temporary file renamed over it), one writer at a time
    (an flock on feeds.lock, and a lock for this process's threads)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / FEEDS_FILE
        self._thread_lock = threading.RLock()

    # --- reading ------------------------------------------------------------------------------
    def _read(self) -> tuple[dict[str, Feed], dict[str, PageState]]:
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}, {}
        except OSError as exc:
            raise IndexError_(f"cannot read the feed list {self.path}: {exc.strerror}") from exc
        try:
            data = json.loads(raw)
            feeds = [_from_dict(Feed, f) for f in data.get("feeds", [])]
            pages = [_from_dict(PageState, p) for p in data.get("pages", [])]
        except (ValueError, TypeError, AttributeError) as exc:
            raise IndexError_(f"the feed list {self.path} is damaged ({exc}); fix or remove "
                              "it (the indexed articles are not affected)") from None
        return {f.url: f for f in feeds}, {p.url: p for p in pages}

    def feeds(self) -> list[Feed]:
        """Every feed, in the order they were added."""
        return sorted(self._read()[0].values(), key=lambda f: (f.added, f.url))

    def get(self, url: str) -> Feed | None:
        return self._read()[0].get(normalise_url(url))

    def page(self, url: str) -> PageState | None:
        return self._read()[1].get(url)

    # --- writing ------------------------------------------------------------------------------
    @contextmanager
    def _changing(self) -> Iterator[tuple[dict[str, Feed], dict[str, PageState]]]:
        """The current contents to change in place; written back when the block ends."""
        with self._thread_lock:
            try:
                self.data_dir.mkdir(parents=True, exist_ok=True)
                handle = open(self.data_dir / _LOCK_FILE, "a+", encoding="utf-8")  # noqa: SIM115
            except OSError as exc:
                raise IndexError_(f"cannot write to the data folder {self.data_dir}: "
                                  f"{exc.strerror}") from exc
            try:
                fcntl.flock(handle, fcntl.LOCK_EX)  # held for milliseconds by any writer
                feeds, pages = self._read()
                yield feeds, pages
                self._write(feeds, pages)
            finally:
                handle.close()

    def _write(self, feeds: dict[str, Feed], pages: dict[str, PageState]) -> None:
        data = {"version": _VERSION,
                "feeds": [asdict(f) for f in sorted(feeds.values(), key=lambda f: f.added)],
                "pages": [asdict(p) for p in sorted(pages.values(), key=lambda p: p.url)]}
        partial = self.path.with_name(f".{FEEDS_FILE}.{os.getpid()}.part")
        try:
            with open(partial, "w", encoding="utf-8") as out:
                json.dump(data, out, indent=1, ensure_ascii=False)
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, self.path)
            folder = os.open(self.data_dir, os.O_RDONLY)
            try:
                os.fsync(folder)  # the rename itself survives a crash
            finally:
                os.close(folder)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise IndexError_(f"cannot write the feed list {self.path}: {exc.strerror}") from exc

    def add(self, url: str, title: str | None = None) -> Feed:
        """Add a feed (InputError when it is already there or not an http(s) address)."""
        try:
            url = normalise_url(url)
        except FetchError as exc:
            raise InputError(str(exc)) from None
        with self._changing() as (feeds, _):
            if url in feeds:
                raise InputError(f"the feed {url} is already added")
            feed = Feed(url=url, title=title, added=time.time())
            feeds[url] = feed
        logger.info("feed added: %s", url)
        return feed

    def remove(self, url: str) -> bool:
        """Forget a feed (its articles stay indexed); False when it was not there."""
        try:
            url = normalise_url(url)
        except FetchError:
            return False
        with self._changing() as (feeds, pages):
            if feeds.pop(url, None) is None:
                return False
            for key in [k for k, p in pages.items() if p.feed == url]:
                pages[key] = replace(pages[key], feed=None)
        logger.info("feed removed: %s", url)
        return True

    def record(self, feeds: Iterable[Feed] = (), pages: Iterable[PageState] = ()) -> None:
        """Store the outcome of a sync: feeds' new state (feeds removed meanwhile stay removed)
        and fetched pages' validators."""
        with self._changing() as (stored, stored_pages):
            for feed in feeds:
                if feed.url in stored:
                    stored[feed.url] = feed
            for page in pages:
                stored_pages[page.url] = page
