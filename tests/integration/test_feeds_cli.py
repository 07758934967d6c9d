"""`newscite feeds add` + `sync` + `ask` through the CLI, with the packaged embedding model and
embedded Chroma, against a news site on 127.0.0.1."""
from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ui.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "index"))
from news_site import FERRY, LIBRARY, MARKET, NewsSite, article_html, rss, serve  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def site() -> Iterator[NewsSite]:
    yield from serve(NewsSite())


def test_feeds_add_sync_ask(site: NewsSite, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    stories = {"/library.html": LIBRARY, "/ferry.html": FERRY, "/market.html": MARKET}
    for path, story in stories.items():
        site.page(path, article_html(*story))
    site.page("/feed.xml", rss(site, [(p, s[0], "Fri, 20 Sep 2024 08:00:00 GMT")
                                      for p, s in stories.items()]), "application/rss+xml")
    data = ["--data-dir", str(tmp_path / "data")]
    feed = site.url("/feed.xml")

    assert main(["feeds", "add", feed, *data]) == 0
    assert main(["feeds", "list", "--json", *data]) == 0
    out = capsys.readouterr().out
    assert json.loads(out[out.index("["):])[0]["url"] == feed

    # refused without --allow-private: said in the report and in the feed list
    assert main(["sync", "--quiet", *data]) == 0
    assert "loopback address: refused" in capsys.readouterr().out
    assert main(["sync", "--quiet", "--allow-private", "--json", *data]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["added"]) == 3 and not report["skipped"]
    assert main(["sync", "--quiet", "--allow-private", *data]) == 0  # a 304: nothing to do
    assert "0 added, 0 updated" in capsys.readouterr().out

    assert main(["ask", "How many stalls does the new market site have?", "--json",
                 "--engine", "extractive", *data]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert "80" in answer["text"] and not answer["refused"]
    assert answer["citations"][0]["url"] == site.url("/market.html")
    assert answer["citations"][0]["title"] == MARKET[0]

    assert main(["feeds", "remove", feed, *data]) == 0
    assert main(["feeds", "list", *data]) == 0
    assert "0 feeds" in capsys.readouterr().out
