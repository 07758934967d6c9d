"""Timelines: dated events about a topic in the order they happened, each cited, merged
across outlets ("reported by N outlets")."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from core import text as tx
from core.records import Citation, Hit
from rag.cite import check
from rag.desk.claims import outlet_name
from rag.desk.dates import mentioned
from rag.extractive import score_sentences

MIN_COVERAGE = 0.3  # share of the topic's weighted terms an event sentence covers
MAX_EVENTS = 12
SAME_EVENT = 0.3  # share of content terms two same-day sentences share to be one event


def same_event(a: str, b: str) -> bool:
    """Two sentences of one day telling one event (the counts they give may differ)."""
    ta, tb = set(tx.terms(a)), set(tx.terms(b))
    return bool(ta and tb) and len(ta & tb) / min(len(ta), len(tb)) >= SAME_EVENT


@dataclass(frozen=True)
class Event:
    date: str  # ISO date the event happened (or its article's published date)
    resolved: bool  # the date was read from the sentence ("on Thursday", "March 5")
    text: str  # the first outlet's sentence, quoted
    citations: tuple[Citation, ...]
    outlets: tuple[str, ...]

    @property
    def reported_by(self) -> int:
        return len(self.outlets)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "reported_by": self.reported_by}


@dataclass(frozen=True)
class Timeline:
    topic: str
    events: tuple[Event, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"topic": self.topic, "events": [e.to_dict() for e in self.events]}


def timeline(topic: str, hits: Sequence[Hit], max_events: int = MAX_EVENTS) -> Timeline:
    ranked = score_sentences(topic, hits)
    if not ranked:
        return Timeline(topic, ())
    top = ranked[0].score
    events: list[Event] = []
    for cand in ranked:
        if cand.coverage < MIN_COVERAGE or cand.score < top * 0.4:
            continue
        hit = hits[cand.hit_index]
        date, resolved = mentioned(cand.text, hit.published)
        if not date or not resolved:
            continue  # an event says when it happened; other sentences are background
        sup = check(cand.text, hit)
        if not sup.ok:
            continue
        citation = Citation(0, hit.article_id, hit.title, hit.chunk_id,
                            hit.text[sup.start:sup.end], hit.start + sup.start,
                            hit.start + sup.end, hit.source, hit.published, hit.url,
                            round(sup.score, 3))
        outlets = (outlet_name(hit), *hit.also_in)
        for k, ev in enumerate(events):
            if ev.date == date and same_event(ev.text, cand.text):
                if any(c.article_id == hit.article_id for c in ev.citations):
                    break  # the same article says it twice: once is enough
                events[k] = Event(ev.date, ev.resolved, ev.text, (*ev.citations, citation),
                                  tuple(dict.fromkeys((*ev.outlets, *outlets))))
                break
        else:
            if len(events) < max_events:
                events.append(Event(date, resolved, citation.quote, (citation,),
                                    tuple(dict.fromkeys(outlets))))
    # numbered in the order shown
    events.sort(key=lambda e: e.date)
    n = 0
    numbered = []
    for ev in events:
        cites = []
        for c in ev.citations:
            n += 1
            cites.append(Citation(**{**c.__dict__, "number": n}))
        numbered.append(Event(ev.date, ev.resolved, ev.text, tuple(cites), ev.outlets))
    return Timeline(topic, tuple(numbered))
