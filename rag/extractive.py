"""The extractive engine: answer with the retrieved sentences that best answer the question."""
from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from core import text as tx
from core.records import REFUSAL, Hit
from core.text import query_terms, sentence_spans
from rag.fusion import analyse

_HOW_MANY = re.compile(r"\bhow (many|much)\b|\bwhat (number|percentage|share|toll)\b|\bdeath toll\b",
                       re.I)
_WHO = re.compile(r"^\s*(who|whom|whose)\b|\bwhich (official|minister|president|governor|leader|"
                  r"spokes\w*|agency|group|outlet|monitor|country)\b", re.I)
_WHEN = re.compile(r"^\s*when\b|\bwhat (date|day|time|month|year)\b|\bon which day\b", re.I)
_WHERE = re.compile(r"^\s*where\b|\bwhich (province|city|town|region|country|sea|border)\b", re.I)


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved passage, scored against the question."""

    hit_index: int  # 0-based index into hits
    start: int  # offsets in the passage text
    end: int
    text: str
    score: float
    coverage: float
    typed: bool  # carries the kind of answer the question asks for


def answer_type(question: str) -> str | None:
    if _HOW_MANY.search(question):
        return "number"
    if _WHEN.search(question):
        return "date"
    if _WHO.search(question):
        return "name"
    if _WHERE.search(question):
        return "place"
    return None


def _typed(kind: str | None, sentence: str, question: str) -> bool:
    if kind is None:
        return True
    if kind == "number":
        return bool(tx.numbers(sentence) - tx.numbers(question))
    if kind == "date":
        return tx.has_date(sentence)
    return bool(tx.names(sentence) - tx.names(question) - set(tx.words(question)))


def score_sentences(question: str, hits: Sequence[Hit]) -> list[Candidate]:
    """Score every sentence of the hits: idf-weighted term coverage + answer type + rank prior."""
    q_list = query_terms(question)
    q_terms = set(q_list)
    q_pairs = set(zip(q_list, q_list[1:]))
    sentences: list[tuple[int, int, int, str, frozenset[str], tuple[str, ...]]] = []
    for i, hit in enumerate(hits):
        # the reranker's analysis of the hit (cached, often from terms stored at ingest): the
        # terms of each of its sentences, as `tx.terms` gives them
        analysis = analyse(hit.text)
        for (s, e), term_set, term_list in zip(sentence_spans(hit.text),
                                               analysis.sentence_terms,
                                               analysis.sentence_lists):
            sentences.append((i, s, e, hit.text[s:e], term_set, term_list))
    if not sentences:
        return []
    df = Counter(t for *_, ts, _ in sentences for t in ts & q_terms)
    n = len(sentences)
    # terms absent from every passage weigh most: they are what the passages do not cover
    weight = {t: math.log((n + 1) / (df.get(t, 0) + 0.5)) for t in q_terms}
    total = sum(weight.values()) or 1.0
    kind = answer_type(question)
    out = []
    for i, s, e, sent, ts, s_list in sentences:
        coverage = sum(weight[t] for t in q_terms & ts) / total if q_terms else 0.0
        typed = _typed(kind, sent, question)
        prior = 0.1 / (1 + i)
        # adjacent question terms kept together ("Turkish soldiers") beat scattered matches
        pairs = len(q_pairs & set(zip(s_list, s_list[1:]))) / len(q_pairs) if q_pairs else 0.0
        score = coverage + 0.25 * pairs + (0.15 if typed and kind else 0.0) + prior
        out.append(Candidate(i, s, e, sent, score, coverage, typed))
    out.sort(key=lambda c: c.score, reverse=True)
    return out


def _same_fact(a: str, b: str) -> bool:
    """Two sentences reporting the same fact: shared numbers/names and most content terms."""
    ta, tb = set(tx.terms(a)), set(tx.terms(b))
    if not ta or not tb:
        return False
    overlap = len(ta & tb) / min(len(ta), len(tb))
    if tx.numbers(a) & tx.numbers(b):
        return overlap >= 0.3
    return overlap >= 0.5 and bool(tx.names(a) & tx.names(b))


class ExtractiveEngine:
    """No LLM: quotes the best sentence(s) verbatim, cites them, refuses when evidence is weak."""

    name = "extractive"

    def __init__(self, min_coverage: float = 0.5, second_ratio: float = 0.95,
                 max_sentences: int = 2) -> None:
        self.min_coverage = min_coverage
        self.second_ratio = second_ratio
        self.max_sentences = max_sentences

    def select(self, question: str, hits: Sequence[Hit]) -> list[Candidate]:
        """The chosen sentences: the best answer, a second if nearly as good, and the same
        fact as told by one other outlet (each quoted from its own article)."""
        ranked = score_sentences(question, hits)
        if not ranked:
            return []
        # a name the question asks about that no passage mentions: the articles do not say
        folded = " ".join(tx.fold(h.text) for h in hits)
        if any(name not in folded for name in tx.names(question)):
            return []
        # the best sentence that carries the kind of answer asked for (a number, a name...)
        best = next((c for c in ranked if c.typed and c.coverage >= self.min_coverage), None)
        if best is None:
            return []
        chosen: list[Candidate] = [best]
        for cand in ranked:
            if cand is best:
                continue
            if len(chosen) >= self.max_sentences or cand.score < best.score * self.second_ratio:
                break
            if cand.coverage >= self.min_coverage and cand.typed and not any(
                    _same_fact(c.text, cand.text) for c in chosen):
                chosen.append(cand)
        articles = {hits[c.hit_index].article_id for c in chosen}
        for cand in ranked[1:40]:
            if hits[cand.hit_index].article_id in articles or cand.coverage < 0.3:
                continue
            if cand.typed and _same_fact(best.text, cand.text):
                chosen.append(cand)  # another outlet reports the same fact
                break
        return chosen

    def draft(self, question: str, hits: Sequence[Hit]) -> Iterator[str]:
        chosen = self.select(question, hits)
        if not chosen:
            yield REFUSAL
            return
        yield " ".join(f"{c.text} [{c.hit_index + 1}]" for c in chosen)
