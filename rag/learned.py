"""The extractive engine with the learned sentence scorer and answer gate (rag/data/scorer.json)."""
from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from core import text as tx
from core.records import Hit
from rag import scorer as sc
from rag.extractive import Candidate, ExtractiveEngine, _same_fact

logger = logging.getLogger(__name__)


def options(question: str) -> list[str]:
    """The options of a "Which of the following ...: A, B, C or D?" question (else [])."""
    head, sep, tail = question.rpartition(":")
    if not sep or "following" not in head.lower():
        return []
    tail = tail.strip().rstrip("?").strip()
    parts = [p.strip() for p in tail.replace(", or ", ", ").replace(" or ", ", ").split(",")]
    parts = [p for p in parts if p]
    return parts if 2 <= len(parts) <= 6 else []


class LearnedExtractiveEngine(ExtractiveEngine):
    """The hand-weighted selection first; when it finds no sentence good enough, the sentence
    the fitted model finds most likely to hold the answer (and a second one nearly as likely),
    unless the fitted gate says the passages do not answer.

    The hand-weighted answers stay as they were (the project's gold sets were written and
    tuned for them); the model answers what it refused: on news quiz questions, long and
    worded unlike the articles, it refused most answerable ones."""

    def __init__(self, embed: sc.Embed | None = None, model: sc.Model | None = None,
                 **kwargs: float) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.embed = embed
        self.model = model if model is not None else sc.load()

    def select(self, question: str, hits: Sequence[Hit]) -> list[Candidate]:
        chosen = super().select(question, hits)
        model = self.model
        if chosen or model is None:
            return chosen
        return self.learned(question, hits, model)

    def learned(self, question: str, hits: Sequence[Hit], model: sc.Model) -> list[Candidate]:
        """The model's choice alone (or [] when its gate refuses)."""
        rows = sc.sentences(question, hits, self.embed)
        if not rows:
            return []
        p = model.probabilities(rows)
        choices = options(question)
        if choices:
            # a sentence that names exactly one of the options supports that option
            folded = [tx.fold(r.text) for r in rows]
            named = np.array([sum(tx.fold(o) in f for o in choices) == 1 for f in folded])
            p = np.where(named, p, p * 0.5)
        values = sc.gate_values(p, rows, sc.missing_names(question, hits))
        if model.gate(values) < model.threshold:
            return []
        order = [int(k) for k in np.argsort(-p, kind="stable")]
        best = rows[order[0]]
        chosen = [best]
        for k in order[1:]:
            if len(chosen) >= self.max_sentences or p[k] < model.second_ratio * p[order[0]]:
                break
            cand = rows[k]
            if cand.text != best.text and not _same_fact(best.text, cand.text):
                chosen.append(cand)
        return [Candidate(r.hit_index, r.start, r.end, r.text, float(p[rows.index(r)]),
                          r.features["coverage"], bool(r.features["typed"])) for r in chosen]
