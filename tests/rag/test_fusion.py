"""Fusion, second-stage scoring, near-duplicate collapse, date parsing and follow-up rewriting."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pytest

from core.records import Hit
from index.embed import HashEmbedder
from rag.condense import condense_heuristic, needs_context
from rag.fusion import RerankWeights, SentenceSimilarity, collapse, rerank, rrf
from rag.retrieve import date_limit


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
    assert out[0].scores["numbers"] == 0.0  # off by default: not even extracted
    weighted = rerank("What did Ali Veli say about the 32 wounded?", hits,
                      RerankWeights(numbers=0.5))
    assert weighted[0].chunk_id == "2" and weighted[0].scores["numbers"] == 1.0


def test_rerank_recency_for_latest_questions():
    hits = [h("old", "The toll stood at 33 soldiers.", published="2020-02-28", score=1.0),
            h("new", "The toll stood at 34 soldiers.", published="2020-03-09", score=1.0)]
    assert rerank("What is the latest toll?", hits)[0].chunk_id == "new"


def test_rerank_semantic_signal_reorders_only_when_weighted():
    hits = [h("1", "Troops moved along the highway near the border.", score=1.0),
            h("2", "Troops moved along the road near the border.", score=0.99)]
    question = "Where did the troops move?"
    off = rerank(question, hits, RerankWeights(), semantic=[0.2, 0.9])
    assert [x.chunk_id for x in off] == ["1", "2"]  # weight 0: the similarities change nothing
    on = rerank(question, hits, RerankWeights(semantic=0.5), semantic=[0.2, 0.9])
    assert [x.chunk_id for x in on] == ["2", "1"] and on[0].scores["semantic"] == 0.9
    assert rerank(question, hits)[0].scores["semantic"] == 0.0  # not computed: reported as 0


def test_every_rerank_signal_can_be_switched_off():
    hits = [h("1", "Officials discussed the situation at length.", score=1.0),
            h("2", "Governor Ali Veli said 32 wounded troops were in hospital.", score=0.5)]
    silent = RerankWeights(**{f.name: 0.0 for f in dataclasses.fields(RerankWeights)
                              if f.name != "fused"})
    out = rerank("What did Ali Veli say about the 32 wounded?", hits, silent, semantic=[0.0, 1.0])
    assert [x.chunk_id for x in out] == ["1", "2"]  # fused order only


class CountingEmbedder:
    """The hash embedder, recording every batch it is asked to embed."""

    def __init__(self) -> None:
        self.inner = HashEmbedder()
        self.batches: list[list[str]] = []

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.batches.append(list(texts))
        return self.inner.embed(texts)


def test_sentence_similarity_is_the_best_sentence_and_cached():
    embed = CountingEmbedder()
    sims = SentenceSimilarity(embed)
    question = "Rahmi Dogan governor of Hatay province"
    q = embed.inner.embed([question])[0]
    passage = "Rain fell in Ankara on Monday. Rahmi Dogan is governor of Hatay province."
    other = "Rain fell in Ankara on Monday. Markets were closed."
    best = sims.best(q, [passage, other, ""])
    expected = float(embed.inner.embed(["Rahmi Dogan is governor of Hatay province."])[0] @ q)
    assert abs(best[0] - expected) < 1e-6 and best[0] > best[1] and best[2] == 0.0
    # one batch, each distinct sentence once (the shared first sentence too)
    assert len(embed.batches) == 1 and len(embed.batches[0]) == 3 == len(sims)
    assert sims.best(q, [other, passage]) == [best[1], best[0]]
    assert len(embed.batches) == 1  # repeated passages cost no embedding
    sims.best(q, [passage + " A new sentence here."])
    assert embed.batches[-1] == ["A new sentence here."]


def test_sentence_similarity_cache_is_bounded():
    embed = CountingEmbedder()
    sims = SentenceSimilarity(embed, size=2)
    q = embed.inner.embed(["x"])[0]
    sims.best(q, ["One sentence. Two sentence. Three sentence."])
    assert len(sims) == 2
    sims.best(q, ["One sentence."])  # evicted (least recently used): embedded again
    assert embed.batches[-1] == ["One sentence."]


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


def test_rescored_is_replace_with_a_new_score() -> None:
    hit = Hit(chunk_id="c1", article_id="a1", title="T", text="Some text.", start=3, end=13,
              score=0.5, source="Wire", published="2020-02-28", url="u", position=2,
              also_in=("Other",), scores={"dense": 0.5})
    copy = hit.rescored(0.9, {"dense": 0.5, "rrf": 0.9})
    assert copy == dataclasses.replace(hit, score=0.9, scores={"dense": 0.5, "rrf": 0.9})
    assert type(copy) is Hit and hit.score == 0.5 and hit.scores == {"dense": 0.5}
    with pytest.raises(dataclasses.FrozenInstanceError):
        copy.score = 1.0  # type: ignore[misc]
