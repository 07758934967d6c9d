"""Feeds and links end to end against a news site on 127.0.0.1 (real HTTP, real Chroma, the
hashing embedder): first sync, unchanged sync, new item, changed article, and failures."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from news_site import FERRY, LIBRARY, MARKET, NewsSite, Route, article_html, rss, serve

from core.settings import Settings
from index.embed import HashEmbedder
from index.sync import IS_FEED
from rag.assistant import Assistant

DATES = {"/news/library.html": "Mon, 16 Sep 2024 08:00:00 GMT",
         "/news/ferry.html": "Wed, 18 Sep 2024 08:00:00 GMT",
         "/news/market.html": "Fri, 20 Sep 2024 08:00:00 GMT"}
STORIES = {"/news/library.html": LIBRARY, "/news/ferry.html": FERRY, "/news/market.html": MARKET}


@pytest.fixture
def site() -> Iterator[NewsSite]:
    yield from serve(NewsSite())


def assistant(tmp_path: Path, **settings: object) -> Assistant:
    values: dict[str, object] = {"data_dir": tmp_path / "data", "engine": "extractive",
                                 "fetch_allow_private": True, "fetch_host_delay": 0.0,
                                 "fetch_timeout": 2.0, **settings}
    return Assistant(Settings(**values), embedder=HashEmbedder())  # type: ignore[arg-type]


def publish(site: NewsSite, paths: list[str], feed: str = "/feed.xml") -> None:
    for path in paths:
        if path not in site.routes:
            site.page(path, article_html(*STORIES[path]))
    site.page(feed, rss(site, [(p, STORIES[p][0], DATES[p]) for p in paths]),
              "application/rss+xml")


def test_sync_first_unchanged_new_item_changed_article(site: NewsSite, tmp_path: Path) -> None:
    publish(site, ["/news/library.html", "/news/ferry.html"])
    a = assistant(tmp_path)
    a.feeds.add(site.url("/feed.xml"))

    first = a.sync()
    assert len(first.added) == 2 and first.chunks_embedded > 0 and not first.skipped
    infos = {i.title: i for i in a.articles()}
    ferry = infos[FERRY[0]]
    assert ferry.url == site.url("/news/ferry.html") and ferry.published == "2024-09-18"
    assert ferry.source == "Fenwick Gazette"
    feed = a.feeds.feeds()[0]
    assert (feed.title, feed.items, feed.new_items, feed.last_error) == \
        ("Fenwick Gazette", 2, 2, None)
    assert "12 Mill Lane" not in a.article(ferry.id).text  # the footer is not citable

    # nothing changed: the feed answers 304, no page is fetched, nothing is embedded
    site.log.clear()
    second = a.sync()
    assert second.chunks_embedded == 0 and not (second.added or second.updated)
    assert site.log == [("/feed.xml", 304)]

    # a new item: the known pages answer 304, only the new one is fetched whole and embedded
    publish(site, ["/news/library.html", "/news/ferry.html", "/news/market.html"])
    site.log.clear()
    third = a.sync()
    assert [a.article(i).title for i in third.added] == [MARKET[0]]  # type: ignore[union-attr]
    assert site.hits("/news/library.html") == [304] and site.hits("/news/ferry.html") == [304]
    assert site.hits("/news/market.html") == [200]
    assert 0 < third.chunks_embedded <= 2 and set(third.unchanged) >= {ferry.id}
    assert a.feeds.feeds()[0].new_items == 1

    # a changed article replaces its chunks (same address, new text)
    changed = (FERRY[0], FERRY[1][:2] + ["The operator later said the 7:15 a.m. crossing "
                                         "would also be cut from December."], FERRY[2])
    site.page("/news/ferry.html", article_html(*changed))
    site.page("/feed.xml", rss(site, [(p, STORIES[p][0], DATES[p]) for p in STORIES])
              + "<!-- updated -->", "application/rss+xml")
    fourth = a.sync()
    assert len(fourth.updated) == 1 and fourth.removed == (ferry.id,)
    new_id = fourth.updated[0]
    assert a.article(ferry.id) is None
    assert "cut from December" in a.article(new_id).text  # type: ignore[union-attr]
    assert len(a.articles()) == 3
    assert a.store.count() == sum(i.chunks for i in a.articles())  # old chunks are gone
    assert not a.verify(probes=0)
    answer = a.ask("When will the 7:15 crossing be cut?")
    assert any(c.article_id == new_id for c in answer.citations)
    a.close()


def test_failures_are_skipped_with_reasons_and_the_sync_goes_on(site: NewsSite,
                                                                tmp_path: Path) -> None:
    site.page("/down.xml", "server trouble", "text/plain", status=500)
    site.page("/ok/library.html", article_html(*LIBRARY))
    site.page("/ok/broken.html", "oops", "text/plain", status=500)
    site.page("/ok/slow.html", article_html(*MARKET), delay=3.0)
    site.page("/ok/report.pdf", b"%PDF-1.7", "application/pdf")
    site.routes["/ok/loop.html"] = Route(status=302, location="/ok/loop.html")
    items = [("/ok/library.html", "Library", DATES["/news/library.html"]),
             ("/ok/broken.html", "Broken", DATES["/news/ferry.html"]),
             ("/ok/slow.html", "Slow", DATES["/news/ferry.html"]),
             ("/ok/report.pdf", "Report", DATES["/news/ferry.html"]),
             ("/ok/loop.html", "Loop", DATES["/news/ferry.html"])]
    site.page("/ok.xml", rss(site, items), "application/rss+xml")
    site.page("/notafeed.html", article_html(*FERRY))
    a = assistant(tmp_path, fetch_timeout=1.0)
    for path in ("/down.xml", "/ok.xml", "/notafeed.html"):
        a.feeds.add(site.url(path))

    report = a.sync()
    assert [a.article(i).title for i in report.added] == [LIBRARY[0]]  # type: ignore[union-attr]
    reasons = {s.path.rsplit("/", 1)[-1]: s.reason for s in report.skipped}
    assert reasons["down.xml"] == "HTTP 500 Internal Server Error"
    assert reasons["broken.html"] == "HTTP 500 Internal Server Error"
    assert reasons["slow.html"] == "timed out after 1 s"
    assert reasons["report.pdf"].startswith("content type application/pdf is not HTML")
    assert reasons["loop.html"].startswith("redirect loop")
    assert reasons["notafeed.html"] == "not an RSS or Atom feed (content type text/html)"
    feeds = {f.url.rsplit("/", 1)[-1]: f for f in a.feeds.feeds()}
    assert feeds["down.xml"].last_error == "HTTP 500 Internal Server Error"
    assert feeds["ok.xml"].last_error is None and feeds["ok.xml"].new_items == 1
    assert feeds["notafeed.html"].last_error.startswith("not an RSS")  # type: ignore[union-attr]
    a.close()


def test_links_keep_their_address_as_identity(site: NewsSite, tmp_path: Path) -> None:
    site.page("/story.html", article_html(*LIBRARY, author="Jonas Berg"))
    a = assistant(tmp_path)
    url = site.url("/story.html")
    first = a.ingest_urls([url])
    assert len(first.added) == 1
    article = a.article(first.added[0])
    assert article is not None and article.key == url and article.url == url
    assert "By Jonas Berg" in article.boilerplate and "Jonas Berg" not in article.text

    again = a.ingest_urls([url])  # 304: a no-op
    assert again.unchanged == first.added and again.chunks_embedded == 0
    assert site.hits("/story.html") == [200, 304]

    site.page("/story.html", article_html(LIBRARY[0], LIBRARY[1] + ["The council will review "
                                                                      "the hours in March."],
                                          LIBRARY[2]))
    changed = a.ingest_urls([url])
    assert len(changed.updated) == 1 and changed.removed == first.added
    assert [i.id for i in a.articles()] == list(changed.updated)

    a.delete(changed.updated[0])  # deleted by the user: fetched whole again, not a 304
    back = a.ingest_urls([url])
    assert len(back.added) == 1 and site.hits("/story.html")[-1] == 200
    a.close()


def test_page_kinds_and_limits(site: NewsSite, tmp_path: Path) -> None:
    site.page("/notes.txt", "Bridge works delayed\n\nThe repairs on the Kessler Bridge will "
              "start a week late because a crane was not delivered on time.\n",
              "text/plain; charset=utf-8")
    site.page("/feed.xml", rss(site, [("/notes.txt", "Notes", DATES["/news/ferry.html"])]),
              "application/rss+xml")
    long_story = article_html("Long council meeting", [
        f"Item {n} of the agenda was discussed by the council for some time." for n in range(3000)],
        "2024-09-01")
    site.page("/long.html", long_story)
    a = assistant(tmp_path, fetch_max_bytes=20_000)
    report = a.ingest_urls([site.url("/notes.txt"), site.url("/feed.xml"), site.url("/long.html"),
                            "gopher://old.example/"])
    titles = sorted(a.article(i).title for i in report.added)  # type: ignore[union-attr]
    assert titles == ["Bridge works delayed", "Long council meeting"]
    skipped = {s.path: s.reason for s in report.skipped}
    assert skipped[site.url("/feed.xml")] == IS_FEED
    assert "only http:// and https://" in skipped["gopher://old.example/"]
    assert any("larger than 20,000 bytes; only its first 20,000 bytes were read" in w
               for w in report.warnings)
    long_id = next(i for i in report.added if a.article(i).title.startswith("Long"))  # type: ignore[union-attr]
    assert len(a.article(long_id).text) < 20_000  # type: ignore[union-attr]
    a.close()


def test_private_addresses_are_refused_by_default(site: NewsSite, tmp_path: Path) -> None:
    publish(site, ["/news/library.html"])
    a = assistant(tmp_path, fetch_allow_private=False)
    a.feeds.add(site.url("/feed.xml"))
    report = a.sync()
    assert not report.added and site.log == []
    assert report.skipped[0].reason == ("127.0.0.1 is a loopback address: refused "
                                        "(--allow-private fetches it)")
    assert "loopback" in (a.feeds.feeds()[0].last_error or "")
    links = a.ingest_urls([site.url("/news/library.html")])
    assert "loopback" in links.skipped[0].reason and site.log == []
    a.close()


def test_add_link_tells_feeds_from_pages(site: NewsSite, tmp_path: Path) -> None:
    publish(site, ["/news/library.html", "/news/ferry.html"])
    site.page("/news/market.html", article_html(*MARKET))
    a = assistant(tmp_path)
    kind, report = a.add_link(site.url("/feed.xml"))
    assert kind == "feed" and len(report.added) == 2
    assert [f.url for f in a.feeds.feeds()] == [site.url("/feed.xml")]
    kind, report = a.add_link(site.url("/news/market.html"))
    assert kind == "page" and len(report.added) == 1
    assert len(a.feeds.feeds()) == 1
    a.close()
