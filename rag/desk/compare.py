"""Compare outlets: a table of outlets by the values or statements they give, each cell cited."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from core.records import Citation, Claim, Hit
from rag.cite import check
from rag.desk.claims import Statement, group, number_citations, outlet_name, statements
from rag.extractive import score_sentences

STATEMENT_COVERAGE = 0.4  # a sentence said "about" the question when no value is asked for


@dataclass(frozen=True)
class Cell:
    """What one outlet gives: a value (or, for a question without one, its statement)."""

    value: str
    citations: tuple[int, ...]  # numbers of `Comparison.citations`


@dataclass(frozen=True)
class Row:
    outlet: str
    cells: tuple[Cell, ...]
    published: str | None = None  # the newest of its cited articles
    also_in: tuple[str, ...] = ()  # outlets carrying the same copy (counted once)


@dataclass(frozen=True)
class Comparison:
    """Outlets x values for a question; `claims` is the same grouped by value."""

    question: str
    rows: tuple[Row, ...]
    claims: tuple[Claim, ...]
    citations: tuple[Citation, ...]
    kind: str = "value"  # "value" | "statement"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _statements(question: str, hits: Sequence[Hit]) -> list[Statement]:
    """Each outlet's best sentence about the question (for questions asking for no value)."""
    out: list[Statement] = []
    seen: set[str] = set()
    for cand in score_sentences(question, hits):
        hit = hits[cand.hit_index]
        if cand.coverage < STATEMENT_COVERAGE or outlet_name(hit) in seen:
            continue
        sup = check(cand.text, hit)
        if not sup.ok:
            continue
        seen.add(outlet_name(hit))
        citation = Citation(0, hit.article_id, hit.title, hit.chunk_id,
                            hit.text[sup.start:sup.end], hit.start + sup.start,
                            hit.start + sup.end, hit.source, hit.published, hit.url,
                            round(sup.score, 3))
        out.append(Statement(citation.quote, cand.text, hit, citation, cand.score))
    return out


def compare(question: str, hits: Sequence[Hit]) -> Comparison:
    found = statements(question, hits)
    kind = "value"
    if not found:
        found, kind = _statements(question, hits), "statement"
    citations, numbers = number_citations([s for s in found], [])
    claims = group(found, numbers) if kind == "value" else []
    rows: dict[str, dict[str, list[int]]] = {}
    dates: dict[str, str] = {}
    also: dict[str, list[str]] = {}
    for k, st in enumerate(found):
        cells = rows.setdefault(st.outlet, {})
        cells.setdefault(st.value, [])
        if numbers[k] not in cells[st.value]:
            cells[st.value].append(numbers[k])
        if st.hit.published and st.hit.published > dates.get(st.outlet, ""):
            dates[st.outlet] = st.hit.published
        also.setdefault(st.outlet, []).extend(
            o for o in st.hit.also_in if o not in also.get(st.outlet, []))
    table = tuple(
        Row(outlet, tuple(Cell(v, tuple(ns)) for v, ns in cells.items()), dates.get(outlet),
            tuple(o for o in also.get(outlet, []) if o not in rows))
        for outlet, cells in rows.items())
    return Comparison(question, table, tuple(claims), tuple(citations), kind)
