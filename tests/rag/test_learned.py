"""The learned extractive engine's pieces: options of a multiple-choice question, the model
file, `as_of` filters."""
from __future__ import annotations

import pytest

from core.errors import InputError
from core.records import Filters, Hit, with_as_of
from rag import scorer as sc
from rag.learned import LearnedExtractiveEngine, options


def test_options_of_a_which_of_the_following_question():
    q = "Which of the following was in short supply this week: Paper, Ink, Glue or Tape?"
    assert options(q) == ["Paper", "Ink", "Glue", "Tape"]
    assert options("Which town voted on Tuesday?") == []
    assert options("Officials said this: what happened?") == []


def test_with_as_of_keeps_an_earlier_date_to_and_rejects_a_bad_date():
    assert with_as_of(None, None) is None
    assert with_as_of(None, "2024-04-12").date_to == "2024-04-12"
    assert with_as_of(Filters(date_to="2024-01-01"), "2024-04-12").date_to == "2024-01-01"
    assert with_as_of(Filters(sources=("x",), date_to="2025-01-01"),
                      "2024-04-12") == Filters(sources=("x",), date_to="2024-04-12")
    with pytest.raises(InputError, match="as_of must be a date"):  # the one date parser
        with_as_of(None, "last week")


def test_packaged_model_matches_the_features():
    model = sc.load()
    assert model is not None, "rag/data/scorer.json is missing"
    assert model.features == sc.FEATURES
    assert len(model.weights) == len(sc.FEATURES) == len(model.mean) == len(model.scale)
    assert 0.0 < model.threshold < 1.0


def _hit(i: int, text: str) -> Hit:
    return Hit(chunk_id=f"c{i}", article_id=f"a{i}", title="Council news", text=text,
               start=0, end=len(text), score=1.0 / (i + 1))


def test_engine_quotes_a_sentence_of_the_passages_or_refuses():
    hits = [_hit(0, "The council voted on Tuesday. The budget of 4 million dollars passed "
                    "after a long debate."),
            _hit(1, "Weather was mild across the region. Schools reopen next week.")]
    engine = LearnedExtractiveEngine(embed=None)
    chosen = engine.select("How large was the budget the council passed?", hits)
    for c in chosen:
        assert hits[c.hit_index].text[c.start:c.end] == c.text
    assert engine.select("Who won the chess final in Oslo?", hits) == []
