"""Fusion, second-stage scoring, near-duplicate collapse, date parsing and follow-up rewriting."""
from __future__ import annotations

from rag.condense import condense_heuristic, needs_context
from rag.fusion import collapse, rerank, rrf
from rag.retrieve import date_limit
from rag.types import Hit


def h(cid: str, text: str, article: str = "a", source: str = "S", published: str | None = None,
      score: float = 1.0) -> Hit:
    return Hit(chunk_id=cid, article_id=article, title="t", text=text, start=0, end=len(text),
               score=score, source=source, published=published)


def test_rrf_rewards_agreement_and_respects_weights():
    fused = rrf({"dense": ["a", "b", "c"], "keyword": ["c", "a", "d"]}, {}, k=60)
    assert [cid for cid, _ in fused][:2] == ["a", "c"]
    heavy = rrf({"dense": ["a", "b"], "keyword": ["b", "a"]}, {"keyword": 3.0}, k=60)
    assert heavy[0][0] == "b"


def test_rerank_prefers_exact_numbers_and_names():
    hits = [h("1", "Officials discussed the situation at length in the capital.", score=1.0),
            h("2", "Governor Ali Veli said 32 wounded troops were in hospital.", score=0.5)]
    out = rerank("What did Ali Veli say about the 32 wounded?", hits)
    assert out[0].chunk_id == "2" and out[0].scores["names"] == 1.0
    assert out[0].scores["numbers"] == 1.0


def test_rerank_recency_for_latest_questions():
    hits = [h("old", "The toll stood at 33 soldiers.", published="2020-02-28", score=1.0),
            h("new", "The toll stood at 34 soldiers.", published="2020-03-09", score=1.0)]
    assert rerank("What is the latest toll?", hits)[0].chunk_id == "new"


def test_collapse_keeps_best_and_names_other_outlets():
    a = "Turkey says at least 33 of its soldiers were killed in an air strike in Idlib province."
    b = "Turkey says at least 33 of its soldiers were killed in an air strike in Idlib on Thursday."
    c = "Refugees gathered at the Greek border after Turkey opened the crossings."
    kept, dups = collapse([h("1", a, "x", "Outlet X"), h("2", b, "y", "Outlet Y"),
                           h("3", c, "z", "Outlet Z")])
    assert [k.chunk_id for k in kept] == ["1", "3"]
    assert kept[0].also_in == ("Outlet Y",) and [d.chunk_id for d in dups] == ["2"]


def test_date_limit():
    assert date_limit("What was the toll as of March 1, 2020?") == "2020-03-01"
    assert date_limit("What was the toll as of 2020-02-28?") == "2020-02-28"
    assert date_limit("What was the toll?") is None


def test_follow_up_rewriting_carries_the_subject():
    history = [("Who announced the death toll?",
                "Governor Rahmi Dogan announced that 33 soldiers were killed [1].")]
    q = condense_heuristic("Which province is he the governor of?", history)
    assert "Rahmi Dogan" in q and q.startswith("Which province is he the governor of?")
    assert condense_heuristic("How many Turkish soldiers died in Idlib?", history) == \
        "How many Turkish soldiers died in Idlib?"
    assert needs_context("And the wounded?")
    assert condense_heuristic("What about Russia?", []) == "What about Russia?"

