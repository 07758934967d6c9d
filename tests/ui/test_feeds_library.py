"""Feeds and links in the server: syncs and added addresses run as ingest jobs (the uploads'
queue and write lock), the background sync, the Library tab's feed table and its handlers."""
from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import FetchError
from core.settings import Settings
from index.embed import HashEmbedder
from index.feeds import Feed
from rag.assistant import Assistant
from ui import render
from ui.service import SYNC_JOB, Library
from ui.syncer import PeriodicSync, parse_interval

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "index"))
from news_site import FERRY, LIBRARY, NewsSite, article_html, rss, serve  # noqa: E402


@pytest.fixture
def site() -> Iterator[NewsSite]:
    yield from serve(NewsSite())


@pytest.fixture
def library(tmp_path: Path) -> Iterator[Library]:
    assistant = Assistant(Settings(data_dir=tmp_path / "data", engine="extractive",
                                   fetch_allow_private=True, fetch_host_delay=0.0,
                                   fetch_timeout=2.0), embedder=HashEmbedder())
    lib = Library(assistant)
    yield lib
    lib.jobs.close()
    assistant.close()


def _feed(site: NewsSite) -> None:
    site.page("/library.html", article_html(*LIBRARY))
    site.page("/ferry.html", article_html(*FERRY))
    site.page("/feed.xml", rss(site, [("/library.html", LIBRARY[0], "Mon, 16 Sep 2024 08:00:00 "
                                       "GMT"), ("/ferry.html", FERRY[0], "Wed, 18 Sep 2024 "
                                                                         "08:00:00 GMT")]),
              "application/rss+xml")


@pytest.mark.parametrize("text, seconds", [("15m", 900), ("90s", 90), ("2h", 7200),
                                           ("1d", 86400), ("45", 45), (" 1.5m ", 90)])
def test_parse_interval(text: str, seconds: float) -> None:
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "15 minutes", "-5m", "5s", "1w"])
def test_bad_intervals(text: str) -> None:
    with pytest.raises(ValueError):
        parse_interval(text)


def test_links_and_syncs_run_as_jobs(site: NewsSite, library: Library) -> None:
    _feed(site)
    report = library.add_link(site.url("/feed.xml"), timeout=30)
    assert len(report.added) == 2
    assert [f.url for f in library.feeds()] == [site.url("/feed.xml")]
    jobs = library.jobs.list()
    assert [j.files for j in jobs] == [(site.url("/feed.xml"),)] and jobs[0].state == "done"
    again = library.sync(timeout=30)
    assert again.chunks_embedded == 0 and library.jobs.list()[-1].files == (SYNC_JOB,)
    with pytest.raises(FetchError, match="only http:// and https://"):
        library.submit_link("file:///etc/passwd")
    assert library.remove_feed(site.url("/feed.xml")) and library.feeds() == []


def test_a_sync_queued_twice_is_one_job(library: Library) -> None:
    first = library.submit_sync()
    second = library.submit_sync()
    assert first.id == second.id or library.jobs.get(first.id).state == "done"  # type: ignore[union-attr]


def test_background_sync_indexes_new_items(site: NewsSite, library: Library) -> None:
    _feed(site)
    library.assistant.feeds.add(site.url("/feed.xml"))
    syncer = PeriodicSync(library, every=3600).start()  # the first round runs at once
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(library.articles()) < 2:
            time.sleep(0.1)
    finally:
        syncer.stop()
    assert sorted(a.title for a in library.articles()) == sorted([LIBRARY[0], FERRY[0]])
    job = library.jobs.list()[0]
    assert job.files == (SYNC_JOB,) and job.state == "done"
    feed = library.feeds()[0]
    assert feed.last_error is None and feed.new_items == 2


def test_feed_table_escapes_and_shows_errors() -> None:
    assert "No feeds yet" in render.feeds_html([])
    html = render.feeds_html([
        Feed("https://news.example/feed", title="<b>Gazette</b>", last_sync=1.7e9, items=3,
             new_items=1),
        Feed("javascript:alert(1)", last_sync=1.7e9, last_error="HTTP 500 <oops>"),
        Feed("https://later.example/feed")])
    assert "&lt;b&gt;Gazette&lt;/b&gt;" in html and "<b>" not in html
    assert 'href="https://news.example/feed"' in html and 'href="javascript' not in html
    assert "error: HTTP 500 &lt;oops&gt;" in html and "ok: 3 items, 1 new" in html
    assert "not synced yet" in html


def test_the_library_tab_adds_a_link(site: NewsSite, library: Library) -> None:
    from ui.web import build_blocks

    _feed(site)
    blocks = build_blocks(library)
    handler = next(fn.fn for fn in blocks.fns.values() if getattr(fn.fn, "__name__", "") ==
                   "add_url")
    out = handler(site.url("/ferry.html"), "", progress=lambda *a, **k: None)
    assert "1 added" in out[0] and out[1] == ""
    assert [a.title for a in library.articles()] == [FERRY[0]]
