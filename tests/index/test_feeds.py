"""index.feeds: the feed list in the data folder (feeds.json), written atomically."""
from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from core.errors import IndexError_, InputError
from index.feeds import FEEDS_FILE, FeedStore, PageState


def test_add_list_remove(tmp_path: Path) -> None:
    store = FeedStore(tmp_path)
    assert store.feeds() == [] and not (tmp_path / FEEDS_FILE).exists()
    a = store.add("https://News.Example/feed.xml#x")
    b = store.add("https://other.example/atom")
    assert a.url == "https://news.example/feed.xml"
    assert [f.url for f in store.feeds()] == [a.url, b.url]
    assert [f.url for f in FeedStore(tmp_path).feeds()] == [a.url, b.url]  # persisted
    assert store.get("https://news.example/feed.xml") == a
    with pytest.raises(InputError, match="already added"):
        store.add("https://news.example/feed.xml")
    assert store.remove("https://news.example/feed.xml")
    assert not store.remove("https://news.example/feed.xml")
    assert not store.remove("not an address")
    assert [f.url for f in store.feeds()] == [b.url]


@pytest.mark.parametrize("bad", ["ftp://example.org/feed", "feed.xml", "http://"])
def test_bad_feed_addresses_are_input_errors(tmp_path: Path, bad: str) -> None:
    with pytest.raises(InputError):
        FeedStore(tmp_path).add(bad)


def test_writes_are_atomic_and_leave_no_partial_files(tmp_path: Path) -> None:
    store = FeedStore(tmp_path)
    store.add("https://news.example/feed.xml")
    store.record(pages=[PageState("https://news.example/a", etag='"1"', article_id="abc")])
    data = json.loads((tmp_path / FEEDS_FILE).read_text())
    assert data["version"] == 1 and len(data["feeds"]) == 1 and len(data["pages"]) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feeds.json", "feeds.lock"]
    assert store.page("https://news.example/a") == PageState("https://news.example/a",
                                                             etag='"1"', article_id="abc")


def test_concurrent_adds_all_land(tmp_path: Path) -> None:
    store = FeedStore(tmp_path)
    threads = [threading.Thread(target=store.add, args=(f"https://n{i}.example/feed",))
               for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(FeedStore(tmp_path).feeds()) == 12


def test_a_removed_feed_is_not_brought_back_by_a_sync_record(tmp_path: Path) -> None:
    store = FeedStore(tmp_path)
    feed = store.add("https://news.example/feed.xml")
    store.remove(feed.url)  # removed while a sync was running
    store.record(feeds=[feed])
    assert store.feeds() == []


def test_a_damaged_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / FEEDS_FILE).write_text("{not json")
    with pytest.raises(IndexError_, match="is damaged .*fix or remove it"):
        FeedStore(tmp_path).feeds()
    (tmp_path / FEEDS_FILE).write_text('{"feeds": [17]}')
    with pytest.raises(IndexError_, match="is damaged"):
        FeedStore(tmp_path).feeds()
