"""rag.verify on hand-written claims: each wrong claim passes the first (overlap) check and
is caught by verify; each supported paraphrase fails the first check and passes verify."""
from __future__ import annotations

import json

import pytest

import rag
from core.records import Hit
from rag import support
from rag.cite import finalize, overlap_check
from rag.support import MODEL_PATH, Support, load_model, verify


def hit(text: str) -> Hit:
    return Hit(chunk_id="c1", article_id="a1", title="T", text=text, start=0, end=len(text),
               score=1.0)


def old_ok(claim: str, passage: str) -> bool:
    return overlap_check(claim, hit(passage)).ok


MATCH = ("Harbor United beat Kestrel City 3-1 in the regional final on Saturday. "
         "Fans celebrated late into the night.")
ACCUSE = ("Senator Mara Quist accused Governor Tomas Reyl of hiding the audit. "
          "The governor's office did not respond.")
SUMMIT = ("The trade summit opened in Lisbon on Tuesday with ministers from twelve countries. "
          "Delegates later travelled to Porto for a dinner.")
BUDGET = "The council approved the new budget after a long debate on Monday evening."
STORM = "The storm dropped 40 millimetres of rain on the coast, and winds reached 90 km an hour."
JOBS = "Unemployment fell to 4 percent in March, the statistics office said."
BRIDGE = ("Mayor Lena Ortiz opened the new bridge on Monday. "
          "The contractor, Delta Works, was fined for delays.")
FLOOD = "Officials said the flood displaced 1,500,000 people across the region."
PORT = "Rotterdam, the largest port in Europe, handled record cargo volumes last year."

WRONG = [
    pytest.param(MATCH, "Kestrel City beat Harbor United 3-1 in the regional final.",
                 id="swapped-subject-object"),
    pytest.param(ACCUSE, "Governor Tomas Reyl accused Senator Mara Quist of hiding the audit.",
                 id="swapped-people"),
    pytest.param(SUMMIT, "The trade summit opened in Porto on Tuesday with ministers from "
                         "twelve countries.", id="wrong-place"),
    pytest.param(BUDGET, "The council did not approve the new budget after a long debate on "
                         "Monday.", id="negation"),
    pytest.param(STORM, "The storm dropped 40 inches of rain on the coast.", id="other-unit"),
    pytest.param(JOBS, "Unemployment fell to 4 million in March, the statistics office said.",
                 id="percent-vs-million"),
    pytest.param(BRIDGE, "Mayor Lena Ortiz fined Delta Works for delays.",
                 id="relation-not-stated"),
    pytest.param(BRIDGE, "Delta Works opened the new bridge on Monday.",
                 id="fact-moved-to-another-name"),
]
RIGHT = [
    pytest.param(FLOOD, "The flood displaced 1.5 million people across the region, officials "
                        "said.", id="number-written-differently"),
    pytest.param(PORT, "Rotterdam, one of the ports of Europe, handled record cargo volumes "
                       "last year.", id="one-of-is-no-number"),
]


@pytest.mark.parametrize(("passage", "claim"), WRONG)
def test_wrong_claims_pass_the_overlap_check_and_fail_verify(passage, claim):
    assert old_ok(claim, passage)  # the first check let these through
    got = verify(claim, passage)
    assert got.state != "supported", got


@pytest.mark.parametrize(("passage", "claim"), RIGHT)
def test_paraphrases_fail_the_overlap_check_and_pass_verify(passage, claim):
    assert not old_ok(claim, passage)
    got = verify(claim, passage)
    assert got.state == "supported", got


def test_a_number_with_another_unit_is_refuted_and_named():
    got = verify("The storm dropped 40 inches of rain on the coast.", STORM)
    assert got.state == "unsupported"
    assert "inches" in got.unsupported
    assert got.score < load_model()["lexical"].partial


def test_span_is_the_supporting_sentence_with_exact_offsets():
    claim = "Delegates travelled to Porto for a dinner."
    got = verify(claim, SUMMIT)
    s, e = got.span
    assert SUMMIT[s:e] == "Delegates later travelled to Porto for a dinner."
    assert got.state == "supported" and 0.0 <= got.score <= 1.0


def test_verbatim_quote_is_supported_without_embedding():
    calls = []

    def similarity(claim, texts):
        calls.append(claim)
        return [1.0] * len(texts)

    got = verify("Harbor United beat Kestrel City 3-1 in the regional final on Saturday.",
                 MATCH, similarity)
    assert got.state == "supported" and got.unsupported == () and calls == []
    assert MATCH[got.span[0]:got.span[1]].startswith("Harbor United beat")


def test_similarity_decides_close_cases_only(monkeypatch):
    calls = []

    def similar(value):
        def similarity(claim, texts):
            calls.append(len(texts))
            return [value] * len(texts)
        return similarity

    claim = "The flood displaced 1.5 million people in the region."
    far = verify("Fans celebrated late into the night.", MATCH, similar(1.0))
    assert calls == [] and far.state == "supported"  # clear lexical case: no embedding
    monkeypatch.setattr(support, "SEMANTIC_MARGIN", 1.0)  # every case is close
    high, low = verify(claim, FLOOD, similar(1.0)), verify(claim, FLOOD, similar(-1.0))
    assert len(calls) == 2 and high.score > low.score


def test_empty_inputs_are_unsupported():
    assert verify("", BUDGET).state == "unsupported"
    assert verify("The council approved the budget.", "   ").state == "unsupported"


def test_public_api_and_model_file():
    assert rag.verify is verify and rag.Support is Support
    data = json.loads(MODEL_PATH.read_text())
    assert data["format"] == 1 and set(data["models"]) >= {"lexical", "semantic"}
    for spec in data["models"].values():
        t = spec["thresholds"]
        assert 0.0 < t["partial"] <= t["supported"] < 1.0
        assert len(spec["coef"]) == len(spec["features"])


def test_model_format_mismatch_is_refused(tmp_path):
    bad = tmp_path / "m.json"
    bad.write_text(json.dumps({"format": 99, "models": {}}))
    with pytest.raises(ValueError, match="format"):
        load_model(bad)


def test_finalize_marks_a_swapped_claim_partial_and_keeps_a_right_one():
    draft = ("Kestrel City beat Harbor United 3-1 in the regional final [1]. "
             "Fans celebrated late into the night [1].")
    out = finalize(draft, [hit(MATCH)])
    assert [s.state for s in out.sentences] == ["partial", "supported"]
    assert [s.supported for s in out.sentences] == [False, True]
    assert [s.citations for s in out.sentences] == [(), (1,)]
    removed = finalize(draft, [hit(MATCH)], unsupported="remove")
    assert [s.text for s in removed.sentences] == ["Fans celebrated late into the night."]
