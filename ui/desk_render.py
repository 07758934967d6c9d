"""The news desk as HTML (web chat) and text (CLI): outlet agreement, compare tables, timelines.

Colours come from the web chat's palette variables (`--nc-*`, light and dark in ui/render.py)."""
from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import quote

from core.records import Answer, Citation, Claim
from rag.desk.dates import long_date

if TYPE_CHECKING:
    from rag.desk.compare import Comparison
    from rag.desk.timeline import Timeline

DESK_CSS = """
.nc-outlets{margin-top:8px;border-left:3px solid var(--nc-border);padding:2px 10px;
  font-size:13px;color:var(--nc-fg)}
.nc-outlets h4,.nc-desk h4{margin:2px 0;font-size:12px;color:var(--nc-muted);
  text-transform:uppercase;letter-spacing:.04em}
.nc-claim-value{font-weight:600;color:var(--nc-fg)}
.nc-desk{font-size:14px;line-height:1.5;color:var(--nc-fg)}
.nc-desk table{width:100%;border-collapse:collapse;color:var(--nc-fg)}
.nc-desk th,.nc-desk td{border-bottom:1px solid var(--nc-border);padding:4px 8px;
  text-align:left;vertical-align:top;color:var(--nc-fg)}
.nc-desk .nc-quote{display:block;font-size:13px;color:var(--nc-muted)}
.nc-desk .nc-date{white-space:nowrap;font-weight:600}
.nc-desk a{color:var(--nc-link)}
"""


def article_href(article_id: str, start: int, end: int) -> str:
    """The article page with the span marked: the address `ui.render.article_href` gives
    (kept here so that module can import this one)."""
    return f"/article/{quote(article_id, safe='')}?start={int(start)}&end={int(end)}#hl"


def _cite_link(c: Citation) -> str:
    title = escape(f"{c.source or c.title}: {c.quote}", quote=True)
    return (f'<a class="nc-cite" href="{escape(article_href(c.article_id, c.start, c.end))}" '
            f'target="_blank" rel="noopener" title="{title}">[{c.number}]</a>')


def _links(numbers: Sequence[int], citations: Sequence[Citation], anchor: str = "") -> str:
    by_number = {c.number: c for c in citations}
    out = []
    for n in numbers:
        if anchor:  # an answer's citation: its source card below
            out.append(f'<a class="nc-cite" href="#{escape(anchor)}-{n}">[{n}]</a>')
        elif n in by_number:
            out.append(_cite_link(by_number[n]))
    return "".join(out)


def _claim_html(claim: Claim, citations: Sequence[Citation], anchor: str = "") -> str:
    also = (f" (also in {len(claim.also_in)} outlet{'s' if len(claim.also_in) != 1 else ''})"
            if claim.also_in else "")
    when = f" · {escape(long_date(claim.first_published))}" if claim.first_published else ""
    return (f'<div><span class="nc-claim-value">{escape(claim.value)}</span>: '
            f'{escape(", ".join(claim.outlets))}{escape(also)}{when} '
            f'{_links(claim.citations, citations, anchor)}</div>')


def outlets_html(answer: Answer, anchor: str) -> str:
    """Under an answer: which outlets give which value ('' when the answer has no claims)."""
    if not answer.outlets:
        return ""
    rows = "".join(_claim_html(c, answer.citations, anchor) for c in answer.outlets)
    return f'<div class="nc-outlets"><h4>What each outlet says</h4>{rows}</div>'


def compare_html(table: Comparison) -> str:
    if not table.rows:
        return '<div class="nc-desk nc-meta">No outlet in the articles answers this.</div>'
    head = "Value" if table.kind == "value" else "What it says"
    body = []
    for row in table.rows:
        cells = "<br>".join(
            f'{escape(cell.value) if table.kind == "value" else ""}'
            f'{_links(cell.citations, table.citations)}'
            + "".join(f'<span class="nc-quote">“{escape(c.quote)}”</span>'
                      for c in table.citations if c.number in cell.citations)
            for cell in row.cells)
        also = (f'<div class="nc-meta">also in {len(row.also_in)} outlet'
                f'{"s" if len(row.also_in) != 1 else ""}</div>' if row.also_in else "")
        body.append(f"<tr><td>{escape(row.outlet)}{also}</td>"
                    f"<td class='nc-date'>{escape(long_date(row.published))}</td>"
                    f"<td>{cells}</td></tr>")
    agreement = "".join(_claim_html(c, table.citations) for c in table.claims)
    summary = f"<h4>By value</h4>{agreement}" if agreement else ""
    return (f'<div class="nc-desk"><table><thead><tr><th>Outlet</th><th>Latest article</th>'
            f'<th>{head}</th></tr></thead><tbody>{"".join(body)}</tbody></table>'
            f'{summary}</div>')


def timeline_html(tl: Timeline) -> str:
    if not tl.events:
        return '<div class="nc-desk nc-meta">No dated event about this topic.</div>'
    rows = []
    for ev in tl.events:
        by = (f'<div class="nc-meta">reported by {ev.reported_by} outlets: '
              f'{escape(", ".join(ev.outlets))}</div>' if ev.reported_by > 1
              else f'<div class="nc-meta">{escape(ev.outlets[0])}</div>')
        rows.append(f"<tr><td class='nc-date'>{escape(long_date(ev.date))}</td>"
                    f"<td>{escape(ev.text)} "
                    f"{_links([c.number for c in ev.citations], ev.citations)}{by}</td></tr>")
    return (f'<div class="nc-desk"><table><thead><tr><th>When</th><th>What happened</th></tr>'
            f'</thead><tbody>{"".join(rows)}</tbody></table></div>')


# --- text, for the CLI ----------------------------------------------------------------------
def outlets_text(answer: Answer) -> list[str]:
    if not answer.outlets:
        return []
    return ["", "What each outlet says:", *(f"  {c.line()}" for c in answer.outlets)]


def _footnotes(citations: Sequence[Citation]) -> list[str]:
    out = []
    for c in citations:
        meta = ", ".join(x for x in (c.source, c.published) if x)
        out.append(f"[{c.number}] {c.title}" + (f" ({meta})" if meta else ""))
        out.append(f"    \"{c.quote}\"  (chars {c.start}-{c.end} of article {c.article_id})")
    return out


def compare_text(table: Comparison) -> str:
    if not table.rows:
        return "No outlet in the articles answers this."
    lines = []
    for row in table.rows:
        when = f" ({row.published})" if row.published else ""
        also = f" (also in {len(row.also_in)} outlets)" if row.also_in else ""
        cells = "; ".join(
            (f"{cell.value} " if table.kind == "value" else "")
            + "".join(f"[{n}]" for n in cell.citations) for cell in row.cells)
        lines.append(f"{row.outlet}{when}{also}: {cells}")
    if table.claims:
        lines += ["", "By value:", *(f"  {c.line()}" for c in table.claims)]
    return "\n".join([*lines, "", *_footnotes(table.citations)])


def timeline_text(tl: Timeline) -> str:
    if not tl.events:
        return "No dated event about this topic."
    lines = []
    for ev in tl.events:
        marks = "".join(f"[{c.number}]" for c in ev.citations)
        by = (f" (reported by {ev.reported_by} outlets: {', '.join(ev.outlets)})"
              if ev.reported_by > 1 else f" ({ev.outlets[0]})")
        lines.append(f"{ev.date}  {ev.text} {marks}{by}")
    cites = [c for ev in tl.events for c in ev.citations]
    return "\n".join([*lines, "", *_footnotes(cites)])
