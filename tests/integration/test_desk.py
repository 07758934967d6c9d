"""The news desk over the sample and seed articles: real embeddings, real Chroma (embedded)."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from core.records import Article, Citation
from core.settings import Settings

pytestmark = pytest.mark.integration

TOLL = "What is the latest death toll of Turkish soldiers from the February 27 air strike?"


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory, minilm, sample_dir: Path,
         seeds_dir: Path) -> Iterator:
    from rag.assistant import Assistant

    a = Assistant(Settings(data_dir=tmp_path_factory.mktemp("desk"), engine="extractive"),
                  embedder=minilm)
    a.ingest([sample_dir, seeds_dir])
    yield a
    a.close()


def _verified(desk, citations: Sequence[Citation]) -> bool:
    for c in citations:
        article: Article | None = desk.article(c.article_id)
        if article is None or article.text[c.start:c.end] != c.quote:
            return False
    return bool(citations)


def test_latest_value_with_its_date_and_the_earlier_ones(desk) -> None:
    answer = desk.ask(TOLL)
    assert answer.text.startswith("As of March 9, 2020 (Northern Dispatch): ")
    assert "34" in answer.text.split("\n")[0]
    earlier = answer.text.split("\n")[1]
    assert earlier.startswith("Earlier reports: ")
    assert "33 on February 28, 2020" in earlier and "22 on February 27, 2020" in earlier
    assert _verified(desk, answer.citations)
    values = {c.value: c for c in answer.outlets}
    assert {"22", "33", "34"} <= set(values)
    assert "Levant Ledger" in values["22"].outlets


def test_as_of_moves_now_back(desk) -> None:
    answer = desk.ask(TOLL, as_of="2020-03-01")
    assert answer.text.startswith("As of February 28, 2020")
    assert "34" not in answer.text
    assert all(c.published is None or c.published <= "2020-03-01" for c in answer.citations)


def test_outlets_grouped_by_value_across_the_seeds_and_sample(desk) -> None:
    answer = desk.ask("How many Turkish soldiers were killed in the air strike?")
    assert not answer.refused and answer.outlets
    values = {c.value: c for c in answer.outlets}
    assert "Radio Free Europe/Radio Free Liberty" in values["33"].outlets
    assert "Northern Dispatch" in values["34"].outlets
    numbers = {c.number for c in answer.citations}
    assert all(set(c.citations) <= numbers for c in answer.outlets)
    assert _verified(desk, answer.citations)


def test_compare_and_timeline_cite_verified_spans(desk) -> None:
    table = desk.compare("How many Turkish soldiers have been killed in Idlib since the start "
                         "of February?")
    rows = {r.outlet: {c.value for c in r.cells} for r in table.rows}
    assert "59" in rows["Northern Dispatch"] and "54" in rows["Anatolia Wire Review"]
    assert _verified(desk, table.citations)
    tl = desk.timeline("Idlib ceasefire agreed by Erdogan and Putin")
    dates = [e.date for e in tl.events]
    assert dates == sorted(dates) and {"2020-03-05", "2020-03-06"} <= set(dates)
    assert all(_verified(desk, e.citations) for e in tl.events)
