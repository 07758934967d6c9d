"""Recency intent ("latest", "now", "so far"), recency-aware ordering of hits, dated leads."""
from __future__ import annotations

import re
from collections.abc import Sequence

from core.records import Citation, Hit
from rag.desk.dates import long_date

# words that ask for the state of things at the question's "now", not at some past moment
_RECENT = re.compile(
    r"\b(latest|newest|most recent(?:ly)?|most up[- ]to[- ]date|up[- ]to[- ]date|"
    r"currently|current|now|nowadays|at present|presently|so far|to date|as of (?:now|today)|"
    r"as things stand|these days|right now|still|by now|recent(?:ly)?)\b", re.IGNORECASE)
# ... unless the "now" is part of a past frame ("what was known by then", "until now" is fine)
_PAST_FRAME = re.compile(r"\b(at the time|back then|by then|initially|first report\w*|"
                         r"earliest|original(?:ly)?)\b", re.IGNORECASE)
# relevance kept when hits are put in date order: a hit below this share of the best score
# keeps its place after the dated ones (a recent but off-topic article must not lead)
KEEP = 0.9


def is_recent(question: str) -> bool:
    """Does the question ask for the latest state of something (as of its "now")?"""
    return bool(_RECENT.search(question)) and not _PAST_FRAME.search(question)


def without_recency(question: str) -> str:
    """The question with its recency words taken out (they name no fact to look for)."""
    return " ".join(_RECENT.sub(" ", question).split())


def by_recency(hits: Sequence[Hit], keep: float = KEEP) -> list[Hit]:
    """The hits nearly as relevant as the best, newest first (undated ones after the dated),
    then the others in their order."""
    if not hits:
        return []
    best = max(h.score for h in hits)
    floor = best * keep if best > 0 else best
    near = [h for h in hits if h.score >= floor]
    rest = [h for h in hits if h.score < floor]
    near.sort(key=lambda h: h.published or "", reverse=True)  # stable: ties keep relevance
    return [*near, *rest]


def lead(citation: Citation | Hit, as_of: str | None = None) -> str:
    """ "As of March 9, 2020 (Northern Dispatch): " from a cited passage's metadata ("" when
    it has no date); the lead goes before the quoted sentence, never inside it."""
    when = long_date(citation.published)
    if not when:
        return ""
    outlet = f" ({citation.source})" if citation.source else ""
    return f"As of {when}{outlet}: "
