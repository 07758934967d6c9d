"""A learned answer-sentence scorer: per-sentence features and a fitted logistic model."""
from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from core import text as tx
from core.records import Hit
from core.text import query_terms, sentence_spans
from rag.fusion import analyse, title_terms

FORMAT = 1
# in the order of the weight vectors in scorer.json
FEATURES = (
    "coverage",        # idf-weighted share of the question's terms in the sentence
    "pairs",           # share of the question's adjacent term pairs kept together
    "typed",           # carries the kind of answer asked for (number, date, name, place)
    "kind_known",      # the question asks for a recognised kind of answer
    "rank_prior",      # 1 / (1 + rank of its passage)
    "hit_score",       # its passage's retrieval score over the best one's
    "semantic",        # cosine of the question and the sentence (the index's embedder)
    "semantic_rank",   # 1 / (1 + its rank by semantic among the candidates)
    "coverage_rank",   # 1 / (1 + its rank by coverage among the candidates)
    "new_names",       # log(1 + capitalised names the question does not have)
    "new_numbers",     # holds a number the question does not
    "q_names",         # share of the question's names it mentions
    "length",          # log(characters / 100)
    "title",           # share of the question's terms in its article's title
    "lead",            # the first sentence of its passage
    "agreement",       # how much of the candidates' evidence mentions its new names/numbers
)
Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class Sentence:
    """A sentence of a retrieved passage with its features."""

    hit_index: int  # 0-based index into hits
    start: int  # offsets in the passage text
    end: int
    text: str
    features: dict[str, float]


def _kind(question: str) -> str | None:
    from rag.extractive import answer_type  # the engine's answer-type cues

    return answer_type(question)


def _typed(kind: str | None, sentence: str, question: str) -> bool:
    from rag.extractive import _typed as typed

    return typed(kind, sentence, question)


def sentences(question: str, hits: Sequence[Hit], embed: Embed | None = None
              ) -> list[Sentence]:
    """Every sentence of the hits with the features the model reads."""
    q_list = query_terms(question)
    q_terms = set(q_list)
    q_pairs = set(pairwise(q_list))
    q_names = tx.names(" " + question)
    q_numbers = tx.numbers(question)
    q_words = set(tx.words(question))
    rows: list[tuple[int, int, int, str, frozenset[str], tuple[str, ...], bool]] = []
    for i, hit in enumerate(hits):
        analysis = analyse(hit.text)
        for n, ((s, e), term_set, term_list) in enumerate(zip(
                sentence_spans(hit.text), analysis.sentence_terms, analysis.sentence_lists)):
            rows.append((i, s, e, hit.text[s:e], term_set, term_list, n == 0))
    if not rows:
        return []
    df = Counter(t for *_, ts, _l, _f in rows for t in ts & q_terms)
    n_rows = len(rows)
    weight = {t: math.log((n_rows + 1) / (df.get(t, 0) + 0.5)) for t in q_terms}
    total = sum(weight.values()) or 1.0
    kind = _kind(question)
    top = max((h.score for h in hits), default=0.0) or 1.0
    semantic = [0.0] * n_rows
    if embed is not None:
        vectors = embed([question] + [r[3] for r in rows])
        semantic = [float(v) for v in vectors[1:] @ vectors[0]]
    coverage = [sum(weight[t] for t in q_terms & r[4]) / total if q_terms else 0.0
                for r in rows]
    sem_rank = _ranks(semantic)
    cov_rank = _ranks(coverage)
    # candidate answers: names and numbers a sentence adds to the question; one that many
    # question-like sentences repeat is likelier the answer (redundancy across passages)
    new = [(tx.names(r[3]) - q_names - q_words) | (tx.numbers(r[3]) - q_numbers) for r in rows]
    mass = [max(semantic[j], 0.0) + coverage[j] for j in range(n_rows)]
    support: dict[str, float] = {}
    for j, cands in enumerate(new):
        for c in cands:
            support[c] = support.get(c, 0.0) + mass[j]
    all_mass = sum(mass) or 1.0
    out = []
    for j, (i, s, e, sent, ts, s_list, lead) in enumerate(rows):
        folded = tx.fold(sent)
        names = tx.names(sent) - q_names - q_words
        features = {
            "coverage": coverage[j],
            "pairs": len(q_pairs & set(pairwise(s_list))) / len(q_pairs)
            if q_pairs else 0.0,
            "typed": float(kind is not None and _typed(kind, sent, question)),
            "kind_known": float(kind is not None),
            "rank_prior": 1.0 / (1 + i),
            "hit_score": hits[i].score / top if top > 0 else 0.0,
            "semantic": semantic[j],
            "semantic_rank": 1.0 / (1 + sem_rank[j]),
            "coverage_rank": 1.0 / (1 + cov_rank[j]),
            "new_names": math.log1p(len(names)),
            "new_numbers": float(bool(tx.numbers(sent) - q_numbers)),
            "q_names": sum(n in folded for n in q_names) / len(q_names) if q_names else 0.0,
            "length": math.log(max(len(sent), 10) / 100),
            "title": len(q_terms & title_terms(hits[i].title)) / len(q_terms) if q_terms
            else 0.0,
            "lead": float(lead),
            "agreement": max((support[c] for c in new[j]), default=0.0) / all_mass,
        }
        out.append(Sentence(i, s, e, sent, features))
    return out


def _ranks(values: Sequence[float]) -> list[int]:
    """0 for the largest value, 1 for the next..."""
    order = sorted(range(len(values)), key=lambda k: -values[k])
    ranks = [0] * len(values)
    for r, k in enumerate(order):
        ranks[k] = r
    return ranks


def matrix(rows: Sequence[Sentence]) -> np.ndarray:
    return np.array([[r.features[f] for f in FEATURES] for r in rows], dtype=np.float64)


@dataclass(frozen=True)
class Model:
    """The fitted sentence model and answer gate (see eval/fit_scorer.py)."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    gate_features: tuple[str, ...]
    gate_weights: np.ndarray
    gate_bias: float
    threshold: float  # answer when the gate's probability is at least this
    second_ratio: float  # a second sentence when its probability is at least this x the best's
    details: dict[str, Any]

    def probabilities(self, rows: Sequence[Sentence]) -> np.ndarray:
        if not rows:
            return np.zeros(0)
        x = (np.array([[r.features.get(f, 0.0) for f in self.features] for r in rows])
             - self.mean) / self.scale
        return np.asarray(1.0 / (1.0 + np.exp(-(x @ self.weights + self.bias))))

    def gate(self, values: dict[str, float]) -> float:
        x = np.array([values.get(f, 0.0) for f in self.gate_features])
        return float(1.0 / (1.0 + np.exp(-(x @ self.gate_weights + self.gate_bias))))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Model:
        if data.get("format") != FORMAT:
            raise ValueError(f"scorer format {data.get('format')!r}, expected {FORMAT}")
        s, g = data["sentence"], data["gate"]
        return cls(tuple(s["features"]), np.array(s["mean"]), np.array(s["scale"]),
                   np.array(s["weights"]), float(s["bias"]), tuple(g["features"]),
                   np.array(g["weights"]), float(g["bias"]), float(g["threshold"]),
                   float(data.get("second_ratio", 1.1)), dict(data.get("fit", {})))


def gate_values(probabilities: np.ndarray, rows: Sequence[Sentence],
                missing_names: float) -> dict[str, float]:
    """Question-level evidence for answering at all."""
    if len(rows) == 0:
        return {"best": 0.0, "margin": 0.0, "best_semantic": 0.0, "best_coverage": 0.0,
                "missing_names": missing_names}
    order = np.argsort(-probabilities)
    best = float(probabilities[order[0]])
    second = float(probabilities[order[1]]) if len(order) > 1 else 0.0
    return {"best": best, "logit_best": math.log(max(best, 1e-6) / max(1 - best, 1e-6)),
            "margin": best - second,
            "best_semantic": max(r.features["semantic"] for r in rows),
            "best_coverage": max(r.features["coverage"] for r in rows),
            "missing_names": missing_names}


def missing_names(question: str, hits: Sequence[Hit]) -> float:
    """Share of the question's names that no passage mentions."""
    names = tx.names(question)
    if not names:
        return 0.0
    folded = " ".join(tx.fold(h.text) for h in hits)
    return sum(n not in folded for n in names) / len(names)


@lru_cache(maxsize=4)
def load(path: str | None = None) -> Model | None:
    """The packaged model (rag/data/scorer.json), or the one at `path`; None when absent."""
    try:
        if path is not None:
            raw = Path(path).read_text(encoding="utf-8")
        else:
            raw = resources.files("rag").joinpath("data/scorer.json").read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        return None
    return Model.from_dict(json.loads(raw))
