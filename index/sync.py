"""Web pages and feeds in: fetch (conditionally), extract, clean and index through the pipeline."""
from __future__ import annotations

import io
import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urljoin, urlsplit

from core.errors import FetchError, InputError
from core.records import Article, IngestReport, Progress, Skipped
from index.feeds import Feed, FeedStore, PageState
from index.fetch import FEED_TYPES, TEXT_TYPES, Fetcher, FetchPolicy, Page, normalise_url
from index.formats import Meta, collapse_space, paragraphs
from index.html_extract import byline, extract_page
from index.injection import strip_invisible
from index.load import build_article
from index.pipeline import Indexer

logger = logging.getLogger(__name__)

__all__ = ["add_link", "ingest_urls", "sync_feeds"]

MAX_FEED_ITEMS = 100  # entries read from one feed per sync (the newest come first in feeds)
IS_FEED = "is an RSS or Atom feed, not an article page: add it with `newscite feeds add URL`"


def _decode(page: Page) -> str:
    if page.charset:
        text = page.text()
    else:
        try:
            text = page.body.decode("utf-8")
        except UnicodeDecodeError:
            text = page.body.decode("cp1252", errors="replace")
    return strip_invisible(text.replace("\r\n", "\n").replace("\r", "\n"))


def _reason(url: str, exc: Exception) -> str:
    """A fetch error's message for a report line that already names `url`."""
    text = str(exc)
    return text[len(url) + 2:] if text.startswith(f"{url}: ") else text


def _host(url: str) -> str:
    host = urlsplit(url).hostname or url
    return host[4:] if host.startswith("www.") else host


def parse_feed(page: Page) -> tuple[str | None, list[tuple[str, Meta]]] | None:
    """(feed title, [(entry address, entry metadata)]) when `page` is an RSS or Atom feed;
    None when it is not one."""
    import feedparser  # lazy: only syncs need it

    if page.media_type and page.media_type not in FEED_TYPES:
        return None
    # a stream, never a string: feedparser fetches a string that looks like an address
    parsed: Any = feedparser.parse(io.BytesIO(page.body), resolve_relative_uris=False,
                                   sanitize_html=False)
    if not parsed.get("version"):
        return None
    title = collapse_space(str(parsed.feed.get("title") or ""))[:200] or None
    entries: list[tuple[str, Meta]] = []
    seen: set[str] = set()
    for entry in parsed.entries[:MAX_FEED_ITEMS]:
        link = entry.get("link") or ""
        if not link and str(entry.get("id", "")).startswith(("http://", "https://")):
            link = entry.get("id")
        if not link:
            continue
        try:
            url = normalise_url(urljoin(page.final_url, str(link)))
        except FetchError:
            continue
        if url in seen:
            continue
        seen.add(url)
        when = entry.get("published_parsed") or entry.get("updated_parsed")
        published = time.strftime("%Y-%m-%d", when) if when else None
        entries.append((url, Meta(title=collapse_space(str(entry.get("title") or ""))[:300]
                                  or None, source=title, published=published)))
    return title, entries


def page_article(page: Page, key: str, fallback: Meta, notes: list[str],
                 max_bytes: int) -> Article | Skipped:
    """The article of a fetched page (HTML through `extract_page`, plain text as paragraphs);
    `fallback` fills what the page does not say (a feed entry's title and date)."""
    if page.truncated:
        notes.append(f"{page.url}: the page is larger than {max_bytes:,} bytes; only its first "
                     f"{max_bytes:,} bytes were read")
    if page.media_type in FEED_TYPES and parse_feed(page) is not None:
        return Skipped(page.url, IS_FEED)
    text = _decode(page)
    if not text.strip():
        return Skipped(page.url, "empty page")
    author = None
    if page.media_type in TEXT_TYPES:
        meta, blocks = Meta(), paragraphs(text)
    else:
        found = extract_page(text, page.final_url)
        meta, blocks, author = found.meta, list(found.blocks), found.author
    meta = Meta(title=meta.title or fallback.title,
                source=meta.source or fallback.source or _host(page.final_url),
                url=page.final_url, published=meta.published or fallback.published)
    return build_article(page.final_url, page.url, key, meta, blocks, notes,
                         _host(page.final_url), byline(author))


@dataclass
class _Run:
    """What one ingest of addresses or one sync gathered before it is indexed."""

    indexer: Indexer
    store: FeedStore
    fetcher: Fetcher
    articles: list[Article] = field(default_factory=list)
    states: dict[str, PageState] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    origin: dict[str, str] = field(default_factory=dict)  # article id -> feed address

    def fetch_page(self, url: str, feed: str | None = None, fallback: Meta = Meta()) -> None:
        """Fetch one article page (conditionally when it was fetched before) and keep its
        article, or the reason it was skipped."""
        if url in self.states:
            return  # listed twice (two feeds, or the same address given twice)
        state = self.store.page(url)
        if state and state.article_id and not self.indexer.manifest.has_article(state.article_id):
            state = None  # its article was deleted: fetch it whole again
        try:
            page = self.fetcher.get(url, etag=state.etag if state else None,
                                    last_modified=state.last_modified if state else None)
        except FetchError as exc:
            self.skipped.append(Skipped(url, _reason(url, exc)))
            return
        self.take_page(page, feed, fallback, state)

    def take_page(self, page: Page, feed: str | None, fallback: Meta,
                  state: PageState | None) -> None:
        url = page.url
        now = time.time()
        if page.not_modified and state is not None:
            self.states[url] = replace(state, fetched=now, etag=page.etag or state.etag,
                                       last_modified=page.last_modified or state.last_modified,
                                       feed=feed or state.feed)
            if state.article_id:
                self.unchanged.append(state.article_id)
            return
        try:
            got = page_article(page, url, fallback, self.warnings, self.fetcher.policy.max_bytes)
        except Exception as exc:  # noqa: BLE001 - one unreadable page must not stop a sync
            logger.exception("could not read the page %s", url)
            got = Skipped(url, f"could not be read ({type(exc).__name__})")
        if isinstance(got, Skipped):
            self.skipped.append(got)
            return
        self.articles.append(got)
        if feed:
            self.origin[got.id] = feed
        self.states[url] = PageState(url, page.etag, page.last_modified, now, got.id,
                                     feed or (state.feed if state else None))

    def read_feed(self, feed: Feed) -> Feed:
        """Fetch a feed (conditionally) and its entries' pages; the feed's new record."""
        now = time.time()
        try:
            page = self.fetcher.get(feed.url, etag=feed.etag, last_modified=feed.last_modified)
        except FetchError as exc:
            self.skipped.append(Skipped(feed.url, _reason(feed.url, exc)))
            return replace(feed, last_sync=now, last_error=_reason(feed.url, exc), new_items=0)
        return self.take_feed(feed, page)

    def take_feed(self, feed: Feed, page: Page) -> Feed:
        now = time.time()
        if page.not_modified:
            return replace(feed, last_sync=now, last_ok=now, last_error=None, new_items=0,
                           etag=page.etag or feed.etag,
                           last_modified=page.last_modified or feed.last_modified)
        parsed = parse_feed(page)
        if parsed is None:
            error = (f"not an RSS or Atom feed (content type "
                     f"{page.media_type or 'not given'})")
            self.skipped.append(Skipped(feed.url, error))
            return replace(feed, last_sync=now, last_error=error, new_items=0)
        title, entries = parsed
        if page.truncated:
            self.warnings.append(f"{feed.url}: the feed is larger than "
                                 f"{self.fetcher.policy.max_bytes:,} bytes; only the entries in "
                                 "its first part were read")
        for url, meta in entries:
            self.fetch_page(url, feed.url, meta)
        return replace(feed, title=feed.title or title, etag=page.etag,
                       last_modified=page.last_modified, last_sync=now, last_ok=now,
                       last_error=None, items=len(entries))

    def finish(self, feeds: list[Feed], progress: Progress | None) -> IngestReport:
        """Index what was gathered, then record the feeds' and pages' new state."""
        started = time.perf_counter()
        report = self.indexer.ingest_articles(self.articles, progress)
        changed = set(report.added) | set(report.updated)
        feeds = [replace(f, new_items=sum(1 for aid, origin in self.origin.items()
                                          if origin == f.url and aid in changed))
                 for f in feeds]
        self.store.record(feeds, self.states.values())
        unchanged = tuple(dict.fromkeys([*report.unchanged, *self.unchanged]))
        return replace(report, unchanged=unchanged, skipped=tuple(self.skipped),
                       warnings=tuple(self.warnings) + report.warnings,
                       seconds=report.seconds + time.perf_counter() - started)


def _run(indexer: Indexer, store: FeedStore, fetcher: Fetcher) -> _Run:
    return _Run(indexer, store, fetcher)


def ingest_urls(indexer: Indexer, store: FeedStore, urls: list[str], policy: FetchPolicy,
                progress: Progress | None = None, *, fetcher: Fetcher | None = None
                ) -> IngestReport:
    """Fetch article pages and index them; each page's address is its source key, so a
    changed page replaces its article and an unchanged one (304, or the same text) is left
    alone. Failures are skipped with their reason."""
    started = time.perf_counter()
    with indexer.writing(), fetcher or Fetcher(policy) as web:
        run = _run(indexer, store, web)
        for raw in urls:
            try:
                url = normalise_url(raw)
            except FetchError as exc:
                run.skipped.append(Skipped(raw, _reason(raw.strip(), exc)))
                continue
            run.fetch_page(url)
        report = run.finish([], progress)
    logger.info("ingest of %d addresses: %s", len(urls), report.summary())
    return replace(report, seconds=time.perf_counter() - started)


def sync_feeds(indexer: Indexer, store: FeedStore, policy: FetchPolicy,
               progress: Progress | None = None, *, only: list[str] | None = None,
               fetcher: Fetcher | None = None) -> IngestReport:
    """Fetch every feed (or those in `only`) with a conditional GET; when one changed, fetch
    its entries' pages (conditionally too) and index new and changed articles. A feed that
    fails is skipped with its reason, and the reason is kept in the feed list."""
    started = time.perf_counter()
    wanted = {normalise_url(u) for u in only} if only else None
    feeds = [f for f in store.feeds() if wanted is None or f.url in wanted]
    if wanted and not feeds:
        raise InputError("no such feed: " + ", ".join(sorted(wanted)))
    with indexer.writing(), fetcher or Fetcher(policy) as web:
        run = _run(indexer, store, web)
        done = [run.read_feed(feed) for feed in feeds]
        report = run.finish(done, progress)
    logger.info("sync of %d feeds: %s", len(feeds), report.summary())
    return replace(report, seconds=time.perf_counter() - started)


def add_link(indexer: Indexer, store: FeedStore, url: str, policy: FetchPolicy,
             progress: Progress | None = None, *, fetcher: Fetcher | None = None
             ) -> tuple[str, IngestReport]:
    """An address the user gave without saying what it is: a feed is added to the feed list
    and synced, anything else is ingested as an article page. ("feed" | "page", report)."""
    url = normalise_url(url)
    started = time.perf_counter()
    with indexer.writing(), fetcher or Fetcher(policy) as web:
        run = _run(indexer, store, web)
        state = store.page(url)
        page = web.get(url, etag=state.etag if state else None,
                       last_modified=state.last_modified if state else None)
        if not page.not_modified and page.media_type in FEED_TYPES | {""} \
                and parse_feed(page) is not None:
            feed = store.get(url) or store.add(url)
            report = run.finish([run.take_feed(feed, page)], progress)
            kind = "feed"
        else:
            run.take_page(page, None, Meta(), state)
            report = run.finish([], progress)
            kind = "page"
    return kind, replace(report, seconds=time.perf_counter() - started)
