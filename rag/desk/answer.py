"""An answer made time-aware and outlet-aware: the dated lead, earlier values, agreement."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from core.records import Answer, Citation, Claim, Hit
from rag.cite import finalize
from rag.desk.claims import Statement, group, history, number_citations, statements
from rag.desk.dates import long_date
from rag.desk.recency import lead

MIN_STATEMENTS = 2
UNREFUSE = 0.35  # share of the question a dated sentence covers to answer a refused question  # an agreement line needs two sources or two values to say anything


def _newest(found: Sequence[Statement]) -> Statement:
    return max(found, key=lambda s: (s.hit.published or "", s.score))


def latest_draft(question: str, hits: Sequence[Hit], min_coverage: float = 0.0
                 ) -> str | None:
    """For a "latest" question: the newest article's sentence giving the value, as a draft
    citing its passage (None when no passage gives one, or none covers `min_coverage` of the
    question)."""
    found = statements(question, hits)
    if not any(s.hit.published for s in found):
        return None
    # answerable when some passage covers the question well; the newest one gives the value
    if max(s.coverage for s in found) < min_coverage:
        return None
    best = _newest(found)
    return f"{best.sentence} [{list(hits).index(best.hit) + 1}]"


def _with_lead(answer: Answer, text: str) -> Answer:
    """`answer` with `text` put before its first sentence (sentence spans moved with it)."""
    if not text:
        return answer
    shift = len(text)
    sentences = tuple(dataclasses.replace(s, start=s.start + shift, end=s.end + shift)
                      for s in answer.sentences)
    return dataclasses.replace(answer, text=text + answer.text, sentences=sentences)


def _first_citation(answer: Answer) -> Citation | None:
    for sent in sorted(answer.sentences, key=lambda s: s.start):
        for n in sent.citations:
            for c in answer.citations:
                if c.number == n:
                    return c
    return None


def _earlier_line(claims: Sequence[Claim], latest: Citation | None) -> str:
    """ "Earlier reports: 33 on February 28, 2020 (Anatolia Wire Review) [2]; ..." for the
    dated values other than the one the answer gives."""
    dated = history(claims)
    if latest is not None:
        dated = [c for c in dated if latest.number not in c.citations]
    if not dated:
        return ""
    parts = [f"{c.value} on {long_date(c.first_published)} ({', '.join(c.outlets)}) "
             + "".join(f"[{n}]" for n in c.citations) for c in dated]
    return "Earlier reports: " + "; ".join(parts) + "."


def annotate(answer: Answer, hits: Sequence[Hit], recent: bool) -> Answer:
    """The answer with its per-claim agreement (`Answer.outlets`); for a "latest" question
    also a dated lead from its first cited passage and the earlier values with their dates,
    each cited."""
    if answer.refused or answer.quick:
        return answer
    question = answer.standalone_question or answer.question
    found = statements(question, hits)
    citations, numbers = number_citations(found, answer.citations)
    claims = group(found, numbers) if len(found) >= MIN_STATEMENTS else []
    out = dataclasses.replace(answer, citations=tuple(citations), outlets=tuple(claims))
    if recent:
        first = _first_citation(out)
        if first is not None:
            out = _with_lead(out, lead(first))
        earlier = _earlier_line(claims, first)
        if earlier:
            out = dataclasses.replace(out, text=f"{out.text}\n{earlier}")
    # citations no sentence or claim refers to are not kept
    used = {n for s in out.sentences for n in s.citations} | {
        n for c in out.outlets for n in c.citations}
    if any(c.number not in used for c in out.citations):
        out = dataclasses.replace(out, citations=tuple(c for c in out.citations
                                                       if c.number in used))
    return out


def recompose(question: str, answer: Answer, hits: Sequence[Hit], unsupported: str
              ) -> Answer | None:
    """The extractive answer to a "latest" question rebuilt from the newest article's
    sentence giving the value (None when no passage gives a dated value)."""
    # a refused answer is overturned only by a sentence covering the question well
    draft = latest_draft(question, hits, UNREFUSE if answer.refused else 0.0)
    if draft is None:
        return None
    checked = finalize(draft, hits, None, unsupported)
    if checked.refused:
        return None
    return dataclasses.replace(answer, text=checked.text, citations=checked.citations,
                               sentences=checked.sentences, refused=False)

