"""Metrics on hand-made examples: retrieval ranks, answer text, refusals, CRAG, bootstrap."""
from __future__ import annotations

import math

import pytest

from eval import metrics as m
from eval.dataset import GoldSpan

GOLD = GoldSpan("a1", 100, 140)


def r(article: str, start: int, end: int) -> m.Ranked:
    return m.Ranked(article, start, end)


def test_covers_containment_and_half_overlap():
    assert m.covers(r("a1", 0, 200), GOLD)
    assert m.covers(r("a1", 120, 300), GOLD)  # 20 of 40 chars = 50%
    assert not m.covers(r("a1", 121, 300), GOLD)  # 19 of 40
    assert not m.covers(r("a2", 0, 200), GOLD)  # other article
    assert not m.covers(r("a1", 140, 300), GOLD)  # touches, no overlap


def test_retrieval_first_rank():
    ranked = [r("a1", 0, 200), r("a2", 0, 50)]
    got = m.retrieval_scores(ranked, [[GOLD]])
    assert got["recall@1"] == got["recall@5"] == got["recall@10"] == 1.0
    assert got["mrr@10"] == 1.0 and got["ndcg@10"] == 1.0
    assert got["article_recall@5"] == 1.0


def test_retrieval_third_rank():
    ranked = [r("a2", 0, 50), r("a1", 200, 400), r("a1", 90, 150)]
    got = m.retrieval_scores(ranked, [[GOLD]])
    assert got["recall@1"] == 0.0 and got["recall@5"] == 1.0
    assert got["mrr@10"] == pytest.approx(1 / 3)
    assert got["ndcg@10"] == pytest.approx(1 / math.log2(4))
    assert got["article_recall@5"] == 1.0


def test_retrieval_beyond_ten_is_a_miss():
    ranked = [r("a2", 0, 50)] * 10 + [r("a1", 0, 500)]
    got = m.retrieval_scores(ranked, [[GOLD]])
    assert got["recall@10"] == 0.0 and got["mrr@10"] == 0.0 and got["ndcg@10"] == 0.0
    assert got["article_recall@5"] == 0.0


def test_multi_needs_every_group_and_repeats_earn_nothing():
    other = GoldSpan("b1", 0, 30)
    groups = m.evidence_groups("multi", [[GOLD], [other]])
    assert len(groups) == 2
    ranked = [r("a1", 0, 200), r("a1", 50, 250), r("b1", 0, 100)]
    got = m.retrieval_scores(ranked, groups)
    assert got["recall@1"] == 0.5 and got["recall@5"] == 1.0
    assert got["mrr@10"] == 1.0
    ideal = 1 + 1 / math.log2(3)
    assert got["ndcg@10"] == pytest.approx((1 + 1 / math.log2(4)) / ideal)


def test_factoid_alternatives_form_one_group():
    other = GoldSpan("b1", 0, 30)
    groups = m.evidence_groups("factoid", [[GOLD], [other]])
    assert len(groups) == 1
    got = m.retrieval_scores([r("b1", 0, 100)], groups)
    assert got["recall@1"] == 1.0 and got["ndcg@10"] == 1.0


def test_unlocated_support_is_ignored():
    assert m.evidence_groups("factoid", [[]]) == []
    assert m.retrieval_scores([r("a1", 0, 10)], []) == {}


def test_normalise_and_exact_match():
    assert m.normalise("The  “Worst-case” scenario!") == "worst case scenario"
    assert m.exact_match("Rahmi Dogan. [1]", ["rahmi dogan"]) == 1.0
    assert m.exact_match("Governor Rahmi Dogan", ["Rahmi Dogan"]) == 0.0


def test_token_f1():
    assert m.token_f1("Rahmi Dogan", ["Rahmi Dogan"]) == 1.0
    # pred: governor rahmi dogan said (4), gold: rahmi dogan (2): p=.5 r=1
    assert m.token_f1("Governor Rahmi Dogan said", ["Rahmi Dogan"]) == pytest.approx(2 / 3)
    assert m.token_f1("nothing here", ["Rahmi Dogan", "Dogan"]) == 0.0


def test_contains_answer_on_word_boundaries():
    assert m.contains_answer("At least 33 soldiers died [1].", ["33"]) == 1.0
    assert m.contains_answer("At least 333 soldiers died.", ["33"]) == 0.0
    assert m.contains_answer("It was the worst-case scenario.", ["worst-case scenario"]) == 1.0


def test_answer_scores_and_crag():
    right = m.answer_scores("At least 33 soldiers [1].", False, ["33"])
    assert right["answer_contained"] == 1.0 and right["crag"] == 1.0
    assert right["false_refusal"] == 0.0
    wrong = m.answer_scores("Twelve soldiers [1].", False, ["33"])
    assert wrong["crag"] == -1.0 and wrong["answer_contained"] == 0.0
    refused = m.answer_scores("The articles do not say.", True, ["33"])
    assert refused["crag"] == 0.0 and refused["false_refusal"] == 1.0
    assert refused["answer_contained"] == 0.0
    good_refusal = m.answer_scores("", True, [])
    assert good_refusal == {"correct_refusal": 1.0, "crag": 0.0}
    hallucinated = m.answer_scores("It cost $2.5 billion.", False, [])
    assert hallucinated == {"correct_refusal": 0.0, "crag": -1.0}


def test_refusal_rates_and_crag_aggregate():
    units = [m.answer_scores("33", False, ["33"]), m.answer_scores("", True, ["33"]),
             m.answer_scores("", True, []), m.answer_scores("x", False, [])]
    agg = m.aggregate(units)
    assert agg["false_refusal"].value == 0.5 and agg["false_refusal"].n == 2
    assert agg["correct_refusal"].value == 0.5 and agg["correct_refusal"].n == 2
    assert agg["crag"].value == pytest.approx((1 + 0 + 0 - 1) / 4)


def test_bootstrap_is_deterministic_and_brackets_the_mean():
    values = [1, 0, 1, 1, 0, 1, 0, 1, 1, 1]
    a, b = m.bootstrap(values), m.bootstrap(values)
    assert a == b
    assert a.value == pytest.approx(0.7) and a.low <= 0.7 <= a.high and a.n == 10
    assert 0.3 <= a.low < a.high <= 1.0
    assert m.bootstrap([1, 1, 1]).low == 1.0
    assert math.isnan(m.bootstrap([]).value)
    spread = [0.1 * i for i in range(37)]
    assert m.bootstrap(spread, seed=1) != m.bootstrap(spread, seed=2)
    assert m.bootstrap(spread, seed=1) == m.bootstrap(spread, seed=1)


def test_latency_median_and_p95():
    timings = [{"total": float(i), "retrieve": 0.1} for i in range(1, 101)]
    got = m.latency(timings)
    assert got["total"]["median"] == pytest.approx(50.5)
    assert got["total"]["p95"] == pytest.approx(95.0)  # nearest rank: the 95th of 100
    assert got["retrieve"]["n"] == 100


def test_regressed_respects_direction():
    assert m.regressed("recall@5", 0.80, 0.77, 0.02)
    assert not m.regressed("recall@5", 0.80, 0.79, 0.02)
    assert not m.regressed("recall@5", 0.80, 0.95, 0.02)
    assert m.regressed("false_refusal", 0.10, 0.15, 0.02)
    assert not m.regressed("false_refusal", 0.10, 0.01, 0.02)


def test_median_p95_is_nearest_rank():
    from eval.metrics import median_p95
    assert median_p95([]) == (0.0, 0.0)
    assert median_p95([3.0]) == (3.0, 3.0)
    values = [float(v) for v in range(1, 21)]  # 1..20: rank ceil(19) = 19
    assert median_p95(values) == (10.5, 19.0)
    assert median_p95(list(reversed(values))) == (10.5, 19.0)
    assert median_p95([float(v) for v in range(1, 101)])[1] == 95.0
