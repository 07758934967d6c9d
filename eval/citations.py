"""Citation scoring: ALCE-style recall and precision judged by rag.cite.check, and strict spans."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.records import Answer, Citation, Hit
from eval.dataset import GoldSpan
from rag.cite import check, parse


@dataclass(frozen=True)
class Cited:
    """One citation of a sentence: the passage it points at (None = a number naming no passage)
    and, when known, the exact span it claims in the article."""

    hit: Hit | None
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True)
class CitedSentence:
    """An answer sentence as the user sees it, with what it cites."""

    text: str
    cited: tuple[Cited, ...]


def from_answer(answer: Answer) -> list[CitedSentence]:
    """A newscite Answer: sentences with their verified citations (exact spans)."""
    if answer.refused:
        return []
    by_number = {c.number: c for c in answer.citations}
    passages = {h.chunk_id: h for h in answer.passages}
    out = []
    for sentence in answer.sentences:
        cited = []
        for number in sentence.citations:
            citation = by_number.get(number)
            if citation is None:
                cited.append(Cited(None))
                continue
            hit = passages.get(citation.chunk_id) or _quote_hit(citation)
            cited.append(Cited(hit, citation.start, citation.end))
        out.append(CitedSentence(sentence.text, tuple(cited)))
    return out


def _quote_hit(c: Citation) -> Hit:
    return Hit(chunk_id=c.chunk_id, article_id=c.article_id, title=c.title, text=c.quote,
               start=c.start, end=c.end, score=0.0)


def from_draft(draft: str, hits: Sequence[Hit]) -> list[CitedSentence]:
    """Raw engine output (e.g. llama-index's): [n] refers to hits[n-1], nothing verified yet.
    The span of a citation is the passage sentence the checker finds closest to the claim."""
    out = []
    for sent in parse(draft):
        cited = []
        for n in sent.cites:
            if not 1 <= n <= len(hits):
                cited.append(Cited(None))
                continue
            hit = hits[n - 1]
            sup = check(sent.text, hit)
            cited.append(Cited(hit, hit.start + sup.start, hit.start + sup.end))
        out.append(CitedSentence(sent.text, tuple(cited)))
    return out


def draft_citations(sentences: Sequence[CitedSentence]) -> tuple[Citation, ...]:
    """Citation records for an unverified draft, for the per-question report."""
    out: list[Citation] = []
    for sentence in sentences:
        for c in sentence.cited:
            if c.hit is None or c.start is None or c.end is None:
                continue
            quote = c.hit.text[c.start - c.hit.start:c.end - c.hit.start]
            out.append(Citation(number=len(out) + 1, article_id=c.hit.article_id,
                                title=c.hit.title, chunk_id=c.hit.chunk_id, quote=quote,
                                start=c.start, end=c.end, source=c.hit.source))
    return tuple(out)


def _joined(hits: Sequence[Hit]) -> Hit:
    """Several passages read as one (each keeps its own sentences)."""
    first = hits[0]
    return Hit(chunk_id="+".join(h.chunk_id for h in hits), article_id=first.article_id,
               title=first.title, text="\n".join(h.text for h in hits), start=0,
               end=0, score=0.0)


def _supports(sentence: str, hits: Sequence[Hit]) -> bool:
    return bool(hits) and check(sentence, hits[0] if len(hits) == 1 else _joined(hits)).ok


def citation_scores(sentences: Sequence[CitedSentence],
                    gold: Sequence[GoldSpan] | None = None) -> dict[str, float]:
    """ALCE-style scores for one answer, judged by the project's checker.

    recall: share of sentences whose cited passages, together, support them (a sentence
    without citations is unsupported). precision: share of citations that are needed: one
    that supports its sentence alone, or without which the rest no longer does; when the
    citations together do not support the sentence, none of them counts. strict: share of
    citations whose span overlaps a gold quote in the same article; strict_hit: 1 when any
    does. Empty when the answer has no sentences (a refusal).
    """
    if not sentences:
        return {}
    supported = 0
    precise = 0
    total = 0
    strict = 0
    for sentence in sentences:
        hits = [c.hit for c in sentence.cited if c.hit is not None]
        total += len(sentence.cited)
        joint = _supports(sentence.text, hits)
        supported += joint
        if not joint:
            pass  # every citation of an unsupported sentence is imprecise
        elif len(sentence.cited) == 1:
            precise += 1
        else:
            for i, c in enumerate(sentence.cited):
                if c.hit is None:
                    continue
                rest = [x.hit for j, x in enumerate(sentence.cited)
                        if j != i and x.hit is not None]
                if _supports(sentence.text, [c.hit]) or not _supports(sentence.text, rest):
                    precise += 1
        if gold:
            strict += sum(1 for c in sentence.cited if _overlaps(c, gold))
    out = {"citation_recall": supported / len(sentences)}
    if total:
        out["citation_precision"] = precise / total
    if gold is not None and gold:
        out["citation_strict"] = strict / total if total else 0.0
        out["citation_strict_hit"] = float(strict > 0)
    return out


def _overlaps(c: Cited, gold: Sequence[GoldSpan]) -> bool:
    if c.hit is None or c.start is None or c.end is None:
        return False
    return any(g.article_id == c.hit.article_id and c.start < g.end and g.start < c.end
               for g in gold)
