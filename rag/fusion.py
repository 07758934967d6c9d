"""Reciprocal rank fusion, the second-stage scorer and near-duplicate collapse (no extra model)."""
from __future__ import annotations

import dataclasses
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from core import text as tx
from core.records import Hit
from core.text import fast_fold, query_terms, sentence_spans, span_terms
from index.keyword import parse_sentence_terms

_QUOTED = re.compile(r"[\"“]([^\"”]{3,80})[\"”]")
_RECENT = re.compile(r"\b(latest|most recent|newest|last|currently|now|so far|as of)\b", re.I)


def rrf(rankings: Mapping[str, Sequence[str]], weights: Mapping[str, float],
        k: int = 60) -> list[tuple[str, float]]:
    """Fuse ranked id lists: score(id) = sum_w weight / (k + rank); ties keep first-seen order."""
    scores: dict[str, float] = {}
    for name, ids in rankings.items():
        w = weights.get(name, 1.0)
        for rank, cid in enumerate(ids, start=1):
            scores[cid] = scores.get(cid, 0.0) + w / (k + rank)
    return sorted(scores.items(), key=lambda kv: -kv[1])


@dataclass(frozen=True)
class RerankWeights:
    """Weights of the second-stage signals; 0 switches a signal off.

    Only ratios matter, so `fused` stays 1; the rest are what the coordinate sweep of
    `python -m eval.sweeps --sweep-rerank` chose (eval/reports/retrieval-sweep.md). `numbers`
    is off: numbers in questions are mostly dates ("on February 27") that off-target passages
    repeat. `semantic` is off: its gain was within noise on the gold sets and, from a cold
    sentence cache, it embeds every sentence of the candidates (about a second here).
    """

    fused: float = 1.0
    coverage: float = 0.6
    numbers: float = 0.0
    names: float = 0.2
    phrases: float = 0.3
    title: float = 0.1
    recency: float = 0.15
    semantic: float = 0.0


@dataclass(frozen=True)
class _Analysis:
    """What the scorers need from a passage text, computed once per text."""

    terms: tuple[str, ...]
    term_set: frozenset[str]
    sentence_terms: tuple[frozenset[str], ...]
    sentence_lists: tuple[tuple[str, ...], ...]  # the same terms in order, per sentence
    folded: str
    shingles: frozenset[tuple[str, ...]]


_CACHE: OrderedDict[str, _Analysis] = OrderedDict()
_CACHE_SIZE = 2048  # passages; hits recur across questions (popular chunks, follow-ups)
# sentence terms stored at ingest (`index.keyword.sentence_terms`) of passages just fetched,
# by text, until `analyse` is asked for them: a hit's stored terms cost about a third of
# analysing its text (at 100k chunks, about 25 of a question's 30 candidates are new to the
# cache)
_STORED: OrderedDict[str, str] = OrderedDict()
_STORED_SIZE = 512


def remember(text: str, stored: str | None) -> None:
    """Note a passage's stored sentence terms, for `analyse` to use instead of the text."""
    if stored and text not in _CACHE:
        _STORED[text] = stored
        while len(_STORED) > _STORED_SIZE:
            try:
                _STORED.popitem(last=False)
            except KeyError:  # emptied by another thread meanwhile
                break


def analyse(text: str) -> _Analysis:
    """Terms, per-sentence term sets, folded text and 3-word shingles of a passage (cached).

    Each sentence is tokenised once and the passage's terms are their concatenation (sentence
    boundaries fall on whitespace, so this equals tokenising the whole text). Terms stored at
    ingest (`remember`) are used when they are there."""
    got = _CACHE.get(text)
    if got is not None:
        try:
            _CACHE.move_to_end(text)
        except KeyError:  # evicted by another thread meanwhile
            pass
        return got
    per_sentence = parse_sentence_terms(_STORED.pop(text, None))
    if per_sentence is None:
        per_sentence = span_terms(text, sentence_spans(text))
    terms = [term for sentence in per_sentence for term in sentence]
    got = _Analysis(
        terms=tuple(terms), term_set=frozenset(terms),
        sentence_terms=tuple(map(frozenset, per_sentence)),
        sentence_lists=tuple(map(tuple, per_sentence)), folded=fast_fold(text),
        shingles=frozenset(zip(terms, terms[1:], terms[2:])) if len(terms) > 2
        else frozenset([tuple(terms)]))
    _CACHE[text] = got
    while len(_CACHE) > _CACHE_SIZE:
        try:
            _CACHE.popitem(last=False)
        except KeyError:
            break
    return got


@lru_cache(maxsize=4096)
def title_terms(title: str) -> frozenset[str]:
    """A title's terms (cached: the candidates of a question share few titles, and titles
    recur across questions)."""
    return frozenset(query_terms(title))


def _best_sentence_coverage(q_terms: set[str], weights: dict[str, float],
                            sentence_terms: Sequence[frozenset[str]]) -> float:
    total = sum(weights[t] for t in q_terms) or 1.0
    best = 0.0
    for ts in sentence_terms:
        best = max(best, sum(weights[t] for t in q_terms & ts) / total)
    return best


class SentenceSimilarity:
    """Max cosine similarity between a question and each passage's sentences.

    A passage often holds the answer in one sentence among unrelated ones, which its single
    chunk vector blurs. Sentence vectors come from the index's own embedder (no extra model),
    embedded in one batch per question and cached by sentence text: popular passages, the
    sentences overlapping chunks share, and follow-ups cost nothing the second time.
    """

    def __init__(self, embed: Callable[[Sequence[str]], np.ndarray], size: int = 8192) -> None:
        self._embed = embed
        self._size = size  # 8192 x 384 float32 = 12.6 MB
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def _lookup(self, sentences: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors of the distinct sentences; the missing ones embedded in one batch."""
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for sent in sentences:
                got = self._vectors.get(sent)
                if got is not None:
                    self._vectors.move_to_end(sent)
                    found[sent] = got
        missing = [sent for sent in dict.fromkeys(sentences) if sent not in found]
        if missing:
            found.update(zip(missing, self._embed(missing)))
            with self._lock:
                for sent in missing:
                    self._vectors[sent] = found[sent]
                while len(self._vectors) > self._size:
                    self._vectors.popitem(last=False)
        return found

    def best(self, query_vector: Sequence[float], texts: Sequence[str]) -> list[float]:
        """For each text, the highest cosine between the query and one of its sentences
        (vectors are L2-normalised, so a dot product); 0 for a text without sentences."""
        split = [[t[s:e] for s, e in sentence_spans(t)] for t in texts]
        vectors = self._lookup([sent for sents in split for sent in sents])
        q = np.asarray(query_vector, dtype=np.float32)
        return [max(0.0, float(np.max(np.stack([vectors[x] for x in sents]) @ q)))
                if sents else 0.0 for sents in split]

    def clear(self) -> None:
        with self._lock:
            self._vectors.clear()

    def __len__(self) -> int:
        return len(self._vectors)


def rerank(question: str, hits: Sequence[Hit], w: RerankWeights = RerankWeights(),
           semantic: Sequence[float] | None = None) -> list[Hit]:
    """Reorder fused candidates with lexical signals at sentence level plus exact matches, and
    `semantic` (each hit's best sentence similarity to the question) when given."""
    if not hits:
        return []
    q_terms = set(query_terms(question))
    analyses = [analyse(h.text) for h in hits]
    doc_terms = [a.term_set for a in analyses]
    n = len(hits)
    weights = {t: 1.0 + (n - sum(t in d for d in doc_terms)) / n for t in q_terms}
    q_numbers = tx.numbers(question)
    q_names = tx.names(" " + question)
    phrases = [tx.fold(p) for p in _QUOTED.findall(question)]
    recent = bool(_RECENT.search(question))
    dates = sorted({h.published for h in hits if h.published})
    top_fused = max(h.score for h in hits) or 1.0
    date_rank = {d: i for i, d in enumerate(dates)}
    scored = []
    for i, (h, a) in enumerate(zip(hits, analyses)):
        folded = a.folded
        signals = {
            "fused": h.score / top_fused,
            "coverage": _best_sentence_coverage(q_terms, weights, a.sentence_terms),
            # numbers are off by default (see RerankWeights): not extracted unless weighted
            "numbers": len(q_numbers & tx.numbers(h.text)) / len(q_numbers)
            if q_numbers and w.numbers else 0.0,
            "names": sum(n in folded for n in q_names) / len(q_names) if q_names else 0.0,
            "phrases": sum(p in folded for p in phrases) / len(phrases) if phrases else 0.0,
            "title": len(q_terms & title_terms(h.title)) / len(q_terms) if q_terms else 0.0,
            "recency": (date_rank[h.published] + 1) / len(dates)
            if recent and h.published and dates else 0.0,
            "semantic": semantic[i] if semantic is not None else 0.0,
        }
        score = sum(getattr(w, k) * v for k, v in signals.items())
        scored.append(h.rescored(score, {**h.scores, **signals}))
    return sorted(scored, key=lambda h: -h.score)


def _shingles(text: str) -> frozenset[tuple[str, ...]]:
    return analyse(text).shingles


def collapse(hits: Sequence[Hit], threshold: float = 0.5) -> tuple[list[Hit], list[Hit]]:
    """Keep the best of near-duplicate passages (syndicated copies, rewrites).

    Returns (unique hits, each with `also_in` naming the other outlets, duplicates demoted).
    """
    kept: list[Hit] = []
    kept_sh: list[frozenset[tuple[str, ...]]] = []
    dups: list[Hit] = []
    for h in hits:
        sh = _shingles(h.text)
        match = None
        for i, other in enumerate(kept_sh):
            inter = len(sh & other)
            if inter and inter / min(len(sh), len(other)) >= threshold:
                match = i
                break
        if match is None:
            kept.append(h)
            kept_sh.append(sh)
            continue
        dups.append(h)
        outlet = h.source or h.title
        if h.article_id != kept[match].article_id and outlet not in kept[match].also_in:
            kept[match] = dataclasses.replace(kept[match], also_in=kept[match].also_in + (outlet,))
    return kept, dups
