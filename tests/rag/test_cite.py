"""The citation parser and checker on hand-written supported, unsupported and mis-numbered drafts."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from core.records import REFUSAL, Hit
from rag.cite import check, finalize, is_refusal, parse

ARTICLE = ("Officials said at least 33 soldiers were killed in the strike on Thursday. "
           "Governor Ali Veli said 32 wounded troops were in hospital. "
           "The ministry gave no further details.")
OTHER = "A regional monitor put the toll at 34 soldiers. It blamed no one for the attack."


def hit(text: str, article: str, offset: int = 0) -> Hit:
    return Hit(chunk_id=f"{article}-c", article_id=article, title=f"Title {article}", text=text,
               start=offset, end=offset + len(text), score=1.0, source=f"Outlet {article}")


HITS = [hit(ARTICLE, "a1", 100), hit(OTHER, "a2")]


def test_parse_marker_variants():
    got = parse("Alpha 33 [1]. Beta [1, 2]. Gamma [1][2] delta. [Passage 2] Eps [^1]. "
                "Zeta 【2】. Omega [source 3; 4].")
    # a marker between two sentences belongs to the one it follows
    assert [s.cites for s in got] == [(1,), (1, 2), (1, 2), (1,), (2,), (3, 4)]
    assert [s.text for s in got] == ["Alpha 33.", "Beta.", "Gamma delta.", "Eps.", "Zeta.",
                                     "Omega."]


def test_supported_sentence_gets_exact_span():
    out = finalize("At least 33 soldiers were killed in the strike [1].", HITS)
    assert not out.refused
    (c,) = out.citations
    assert c.number == 1 and c.article_id == "a1"
    assert c.quote == ARTICLE[c.start - 100:c.end - 100]
    assert "33" in c.quote and c.quote.startswith("Officials said")
    assert out.text.endswith("[1]")


def test_wrong_number_is_dropped_and_sentence_marked():
    # 33 is not in passage 2, so citing [2] fails; no other citation -> unsupported
    out = finalize("At least 33 soldiers were killed [2]. The governor said 32 were wounded [1].",
                   HITS)
    assert [s.supported for s in out.sentences] == [False, True]
    assert [s.citations for s in out.sentences] == [(), (1,)]
    assert out.citations[0].quote.startswith("Governor Ali Veli")


def test_repair_cites_the_passage_that_supports_a_misnumbered_sentence():
    draft = "At least 33 soldiers were killed [2]. The governor said 32 were wounded [1]."
    out = finalize(draft, HITS, repair=True)
    assert [s.supported for s in out.sentences] == [True, True]
    assert [c.article_id for c in out.citations] == ["a1", "a1"]
    assert "33" in out.citations[0].quote
    assert out.citations[0].quote == ARTICLE[out.citations[0].start - 100:
                                             out.citations[0].end - 100]


def test_repair_never_supports_a_claim_no_passage_states():
    out = finalize("At least 35 soldiers were killed [2]. Forty tanks burned [1].", HITS,
                   repair=True)
    assert out.refused and out.citations == ()
    # a sentence with one passing citation keeps only that one; nothing is added
    out = finalize("A monitor put the toll at 34 soldiers [1][2].", HITS, repair=True)
    assert [c.article_id for c in out.citations] == ["a2"]
    # uncited sentences are not repaired: the model claimed no source
    out = finalize("At least 33 soldiers were killed. The governor said 32 were wounded [1].",
                   HITS, repair=True)
    assert [s.supported for s in out.sentences] == [False, True]


def test_remove_mode_drops_unsupported_sentences():
    out = finalize("Forty tanks were destroyed [1]. The governor said 32 were wounded [1].", HITS,
                   unsupported="remove")
    assert len(out.sentences) == 1 and out.sentences[0].supported


def test_out_of_range_numbers_and_nothing_supported_becomes_refusal():
    out = finalize("Ninety people died [7]. The pilot was Captain Nemo [3].", HITS)
    assert out.refused and out.text == REFUSAL and out.citations == ()


def test_renumbering_in_order_of_appearance():
    out = finalize("A monitor put the toll at 34 soldiers [2]. "
                   "At least 33 soldiers were killed in the strike [1].", HITS)
    assert [c.number for c in out.citations] == [1, 2]
    assert [c.article_id for c in out.citations] == ["a2", "a1"]
    assert out.text == ("A monitor put the toll at 34 soldiers. [1] "
                        "At least 33 soldiers were killed in the strike. [2]")


def test_names_must_appear_in_passage():
    sup = check("Governor Hasan Veli said 32 wounded troops were in hospital.", HITS[0])
    assert not sup.ok and "hasan" in sup.reason


def test_refusal_detection():
    assert is_refusal(REFUSAL)
    assert is_refusal("I don't know.")
    assert not is_refusal("At least 33 soldiers were killed [1].")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_parser_and_finalize_never_crash(draft):
    for s in parse(draft):
        assert all(isinstance(n, int) for n in s.cites)
    out = finalize(draft, HITS)
    assert out.refused or out.citations
    for c in out.citations:
        assert c.start >= 0 and c.end > c.start
