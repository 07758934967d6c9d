"""The extractive engine picks the answering sentence, cites it, and refuses weak evidence."""
from __future__ import annotations

from rag.cite import finalize
from rag.extractive import ExtractiveEngine, answer_type
from rag.types import REFUSAL, Hit

P1 = ("The province's governor, Ali Veli, said at least 33 soldiers died in the air strike. "
      "Rescue teams worked through the night.")
P2 = ("A monitoring group said 33 soldiers were killed in the strike on the convoy. "
      "The group did not say who carried it out.")
P3 = "The city council approved a budget of 4 million dollars for new parks on Monday."


def hits() -> list[Hit]:
    return [Hit(chunk_id=f"c{i}", article_id=f"a{i}", title="t", text=t, start=0, end=len(t),
                score=1.0 - i / 10) for i, t in enumerate([P1, P2, P3])]


def test_answer_types():
    assert answer_type("How many soldiers died?") == "number"
    assert answer_type("Who is the governor?") == "name"
    assert answer_type("When did it happen?") == "date"


def test_answers_with_best_sentence_and_cites_both_outlets():
    engine = ExtractiveEngine()
    draft = "".join(engine.draft("How many soldiers died in the air strike?", hits()))
    assert "33" in draft and "[1]" in draft and "[2]" in draft
    out = finalize(draft, hits())
    assert not out.refused and {c.article_id for c in out.citations} == {"a0", "a1"}


def test_refuses_when_passages_do_not_cover_the_question():
    draft = "".join(ExtractiveEngine().draft("What was the name of the pilot's squadron?", hits()))
    assert draft == REFUSAL


def test_refuses_when_answer_type_missing():
    draft = "".join(ExtractiveEngine().draft("How many parks did the council approve?",
                                             hits()[2:]))
    # the budget sentence has a number (4) so this is answerable in type; a name question is not
    assert "[1]" in draft
    assert "".join(ExtractiveEngine().draft("Who approved the parks budget?", hits()[2:])) == REFUSAL
