"""ALCE-style citation recall/precision and strict spans, judged by rag.cite.check."""
from __future__ import annotations

import pytest

from core.records import Answer, Hit
from eval.citations import (
    Cited,
    CitedSentence,
    citation_scores,
    from_answer,
    from_draft,
)
from eval.dataset import GoldSpan
from rag.cite import finalize

A = ("Officials said at least 33 soldiers were killed in the strike on Thursday. "
     "Governor Ali Veli said 32 wounded troops were in hospital.")
B = "A regional monitor put the toll at 34 soldiers. It blamed no one for the attack."


def hit(text: str, article: str, offset: int = 0) -> Hit:
    return Hit(chunk_id=f"{article}-c", article_id=article, title=article, text=text,
               start=offset, end=offset + len(text), score=1.0)


HA, HB = hit(A, "a1", 100), hit(B, "a2")
KILLED = "At least 33 soldiers were killed in the strike."
WOUNDED = "Governor Ali Veli said 32 wounded troops were in hospital."


def test_supported_sentence_with_one_precise_citation():
    got = citation_scores([CitedSentence(KILLED, (Cited(HA),))])
    assert got == {"citation_recall": 1.0, "citation_precision": 1.0}


def test_wrong_passage_is_unsupported_and_imprecise():
    got = citation_scores([CitedSentence(KILLED, (Cited(HB),)),
                           CitedSentence(WOUNDED, (Cited(HA),))])
    assert got["citation_recall"] == 0.5
    assert got["citation_precision"] == 0.5


def test_extra_citation_is_imprecise_but_recall_holds():
    got = citation_scores([CitedSentence(KILLED, (Cited(HA), Cited(HB)))])
    assert got["citation_recall"] == 1.0
    assert got["citation_precision"] == 0.5


def test_uncited_sentence_and_dangling_number():
    got = citation_scores([CitedSentence(KILLED, ()), CitedSentence(WOUNDED, (Cited(None),))])
    assert got["citation_recall"] == 0.0 and got["citation_precision"] == 0.0


def test_refusal_has_no_citation_scores():
    assert citation_scores([]) == {}


def test_strict_overlap_with_gold_span():
    start = 100 + A.index("Governor")
    gold = [GoldSpan("a1", start, start + 20)]
    inside = Cited(HA, start - 5, start + 30)
    outside = Cited(HA, 100, 110)
    got = citation_scores([CitedSentence(WOUNDED, (inside,)),
                           CitedSentence(KILLED, (outside,))], gold)
    assert got["citation_strict"] == 0.5 and got["citation_strict_hit"] == 1.0
    other_article = citation_scores([CitedSentence(KILLED, (Cited(HB, 0, 40),))], gold)
    assert other_article["citation_strict"] == 0.0 and other_article["citation_strict_hit"] == 0.0


def test_from_draft_uses_checker_span_in_article_coordinates():
    sentences = from_draft(f"{WOUNDED} [1] Something else entirely [3].", [HA, HB])
    assert len(sentences) == 2
    (c,) = sentences[0].cited
    assert c.hit is HA and A[c.start - 100:c.end - 100].startswith("Governor Ali Veli")
    assert sentences[1].cited == (Cited(None),)
    got = citation_scores(sentences)
    assert got["citation_recall"] == 0.5


def test_from_answer_reads_verified_citations():
    checked = finalize(f"{KILLED} [1] {WOUNDED} [2]", [HA, HB])
    answer = Answer(question="q", text=checked.text, citations=checked.citations,
                    passages=(HA, HB), refused=checked.refused, sentences=checked.sentences)
    sentences = from_answer(answer)
    assert [len(s.cited) for s in sentences] == [1, 0]  # [2] did not support: dropped
    got = citation_scores(sentences)
    assert got["citation_recall"] == pytest.approx(0.5)
    assert got["citation_precision"] == 1.0
