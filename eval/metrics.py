"""Scoring: retrieval ranks, answer text, refusals, CRAG score, latency and bootstrap intervals."""
from __future__ import annotations

import math
import re
import statistics
import string
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from eval.dataset import GoldSpan

KS = (1, 5, 10)
ARTICLE_K = 5
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 20240229

# higher is better for every metric except these
LOWER_IS_BETTER = frozenset({"false_refusal"})
HEADLINE = ("recall@5", "mrr@10", "ndcg@10", "answer_contained", "f1", "citation_recall",
            "citation_precision", "correct_refusal", "false_refusal", "crag")


@dataclass(frozen=True)
class Ranked:
    """A retrieved passage as the metrics see it: its article and span in the article text."""

    article_id: str
    start: int
    end: int


# --- retrieval --------------------------------------------------------------------------------

def covers(passage: Ranked, gold: GoldSpan) -> bool:
    """The passage holds the quote, or (quote cut across chunks) >= 50% of it."""
    if passage.article_id != gold.article_id:
        return False
    if passage.start <= gold.start and gold.end <= passage.end:
        return True
    overlap = min(passage.end, gold.end) - max(passage.start, gold.start)
    return overlap > 0 and overlap >= 0.5 * (gold.end - gold.start)


def evidence_groups(kind: str, located: Sequence[Sequence[GoldSpan]]) -> list[list[GoldSpan]]:
    """What must be found. 'multi' needs every support entry (one group each); otherwise the
    entries are the same fact in different articles, so any one will do (a single group)."""
    located = [list(spans) for spans in located if spans]
    if not located:
        return []
    if kind == "multi":
        return located
    return [[span for spans in located for span in spans]]


def retrieval_scores(ranked: Sequence[Ranked], groups: Sequence[Sequence[GoldSpan]],
                     ks: Sequence[int] = KS, article_k: int = ARTICLE_K) -> dict[str, float]:
    """recall@k (share of evidence groups found in the top k), MRR@10, nDCG@10 (gain = groups
    newly found at a rank, so repeats of the same evidence earn nothing), article recall."""
    if not groups:
        return {}
    found_at: list[set[int]] = [
        {g for g, group in enumerate(groups) if any(covers(p, span) for span in group)}
        for p in ranked
    ]
    out: dict[str, float] = {}
    for k in ks:
        hit = set().union(*found_at[:k]) if found_at[:k] else set()
        out[f"recall@{k}"] = len(hit) / len(groups)
    first = next((i for i, f in enumerate(found_at[:10]) if f), None)
    out["mrr@10"] = 0.0 if first is None else 1.0 / (first + 1)
    seen: set[int] = set()
    dcg = 0.0
    for i, found in enumerate(found_at[:10]):
        new = found - seen
        seen |= found
        dcg += len(new) / math.log2(i + 2)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(groups), 10)))
    out["ndcg@10"] = min(1.0, dcg / ideal)
    top_articles = {p.article_id for p in ranked[:article_k]}
    art_hit = sum(1 for group in groups if {s.article_id for s in group} & top_articles)
    out[f"article_recall@{article_k}"] = art_hit / len(groups)
    return out


# --- answers ----------------------------------------------------------------------------------

_MARKER = re.compile(r"\s*[\[【]\s*\d{1,3}(?:\s*[,;&]\s*\d{1,3})*\s*[\]】]")
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def strip_markers(text: str) -> str:
    return _MARKER.sub("", text).strip()


def normalise(text: str) -> str:
    """SQuAD normalisation: lowercase, no punctuation (any Unicode P*), no a/an/the, one space."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(" " if (unicodedata.category(c).startswith("P") or c in string.punctuation)
                   else c for c in text)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, answers: Sequence[str]) -> float:
    pred = normalise(strip_markers(prediction))
    return float(any(pred == normalise(a) for a in answers))


def token_f1(prediction: str, answers: Sequence[str]) -> float:
    pred = normalise(strip_markers(prediction)).split()
    best = 0.0
    for answer in answers:
        gold = normalise(answer).split()
        common = sum((Counter(pred) & Counter(gold)).values())
        if not common:
            continue
        precision, recall = common / len(pred), common / len(gold)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


def contains_answer(prediction: str, answers: Sequence[str]) -> float:
    """Any acceptable answer appears in the text, on word boundaries, after normalisation."""
    pred = f" {normalise(strip_markers(prediction))} "
    return float(any(normalise(a) and f" {normalise(a)} " in pred for a in answers))


def answer_scores(prediction: str, refused: bool, answers: Sequence[str]) -> dict[str, float]:
    """Answer metrics for one unit. Answerable: EM, F1, contained, false refusal; unanswerable:
    correct refusal. CRAG: +1 correct, 0 refused, -1 wrong or answered the unanswerable."""
    if not answers:
        return {"correct_refusal": float(refused), "crag": 0.0 if refused else -1.0}
    if refused:
        return {"exact_match": 0.0, "f1": 0.0, "answer_contained": 0.0,
                "false_refusal": 1.0, "crag": 0.0}
    contained = contains_answer(prediction, answers)
    return {"exact_match": exact_match(prediction, answers),
            "f1": token_f1(prediction, answers),
            "answer_contained": contained,
            "false_refusal": 0.0,
            "crag": 1.0 if contained else -1.0}


# --- aggregation ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Estimate:
    """A mean with its 95% bootstrap interval over `n` units."""

    value: float
    low: float
    high: float
    n: int

    def to_dict(self) -> dict[str, float | int]:
        return {"value": round(self.value, 4), "ci_low": round(self.low, 4),
                "ci_high": round(self.high, 4), "n": self.n}


def bootstrap(values: Sequence[float], resamples: int = BOOTSTRAP_RESAMPLES,
              seed: int = BOOTSTRAP_SEED) -> Estimate:
    """Mean and percentile 95% interval from `resamples` resamples with a fixed seed."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, arr.size, size=(resamples, arr.size))
    means = arr[idx].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return Estimate(float(arr.mean()), float(low), float(high), int(arr.size))


def aggregate(units: Sequence[Mapping[str, float | None]]) -> dict[str, Estimate]:
    """Per-metric mean (with interval) over the units where the metric applies."""
    names = sorted({k for u in units for k, v in u.items() if v is not None})
    return {name: bootstrap([float(u[name]) for u in units if u.get(name) is not None])
            for name in names}


def median_p95(values: Sequence[float]) -> tuple[float, float]:
    """Median and nearest-rank 95th percentile (the value at rank ceil(0.95 n)); the one
    percentile rule of every report here. (0.0, 0.0) for no values."""
    xs = sorted(values)
    if not xs:
        return 0.0, 0.0
    return float(statistics.median(xs)), float(xs[math.ceil(0.95 * len(xs)) - 1])


def latency(timings: Sequence[Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """Median and p95 seconds per stage."""
    stages = sorted({k for t in timings for k in t})
    out = {}
    for stage in stages:
        vals = [t[stage] for t in timings if stage in t]
        median, p95 = median_p95(vals)
        out[stage] = {"median": round(median, 4), "p95": round(p95, 4), "n": len(vals)}
    return out


def regressed(metric: str, previous: float, current: float, tolerance: float) -> bool:
    """A change worse than `tolerance` (absolute) in the metric's bad direction."""
    if math.isnan(previous) or math.isnan(current):
        return False
    delta = current - previous
    return delta > tolerance if metric in LOWER_IS_BETTER else -delta > tolerance
