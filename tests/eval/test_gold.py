"""The gold sets: every quote is exact article text, every article exists, the mix is right."""
from __future__ import annotations

from pathlib import Path

import pytest

from eval.dataset import GOLD_DIR, article_map, load_articles, load_dataset

MINIMUMS = {  # items, unanswerable, multi, conversation
    "seeds": (40, 10, 8, 6),
    "sample": (60, 10, 8, 6),
}


@pytest.fixture(scope="module", params=["seeds", "sample"])
def gold(request, seeds_dir, sample_dir):  # noqa: ANN001, ANN201
    name = request.param
    corpus: Path = seeds_dir if name == "seeds" else sample_dir
    dataset = load_dataset(GOLD_DIR / f"{name}.jsonl")
    return name, dataset, article_map(load_articles([corpus]))


def _supports(dataset):  # noqa: ANN001, ANN202
    for item in dataset.items:
        for n, turn in enumerate(item.turns, start=1):
            for support in turn.support:
                yield f"{item.id} turn {n}", support


def test_every_support_article_exists(gold):
    _, dataset, articles = gold
    missing = sorted({f"{where}: {s.article}" for where, s in _supports(dataset)
                      if s.article not in articles})
    assert not missing, f"support articles not in the corpus: {missing}"


def test_every_quote_is_exact_article_text(gold):
    _, dataset, articles = gold
    bad = [f"{where}: {s.article}: {s.quote!r}" for where, s in _supports(dataset)
           if s.article in articles and s.quote not in articles[s.article].text]
    assert not bad, "quotes that are not exact substrings of the loaded text:\n" + "\n".join(bad)


def test_type_mix_meets_minimums(gold):
    name, dataset, _ = gold
    counts = dataset.counts()
    items, unanswerable, multi, conversation = MINIMUMS[name]
    assert len(dataset.items) >= items
    assert counts["unanswerable"] >= unanswerable
    assert counts["multi"] >= multi
    assert counts["conversation"] >= conversation


def test_conversations_use_follow_ups(gold):
    _, dataset, _ = gold
    for item in dataset.items:
        if item.type == "conversation":
            assert len(item.turns) >= 2, item.id
