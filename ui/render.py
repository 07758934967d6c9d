"""HTML for answers, sources, the article page and the library; every text is escaped here."""
from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from core.records import Answer, Article, Citation, Hit
from ui.desk_render import DESK_CSS, outlets_html
from ui.markdown import answer_markdown, conversation_markdown, file_name

if TYPE_CHECKING:
    from index.feeds import Feed
    from index.manifest import ArticleInfo

_MARKER = re.compile(r"\[(\d{1,3})\]")
LIBRARY_ROWS = 300  # rows drawn at once in the Library tab

# Every custom element takes its colours from one palette, light by default and dark under
# Gradio's `.dark` class (set on <body> when the OS prefers dark): an element that sets a
# background always sets its text colour too, so nothing inherits near-white text onto a light
# card or the reverse. Pairs are chosen for a contrast ratio of at least 4.5.
PALETTE_LIGHT = {
    "fg": "#111827", "muted": "#4b5563", "answer-bg": "#f7f7f8", "card-bg": "#ffffff",
    "border": "#e5e7eb", "q-bg": "#e0ecff", "q-fg": "#0b1f44", "link": "#1d4ed8",
    "mark-bg": "#fde047", "mark-fg": "#111827", "warn-bg": "#fff4e5", "warn-line": "#b45309",
    "badge-bg": "#fde68a", "badge-fg": "#78350f", "refused-bg": "#fee2e2",
    "refused-fg": "#7f1d1d", "notice-bg": "#eef2ff", "notice-fg": "#312e81", "ok": "#14532d",
    "error": "#991b1b", "focus": "#2563eb", "focus-soft": "#bfdbfe", "button-bg": "#ffffff",
}
PALETTE_DARK = {
    "fg": "#e5e7eb", "muted": "#a1a1aa", "answer-bg": "#111827", "card-bg": "#1f2937",
    "border": "#374151", "q-bg": "#1e3a8a", "q-fg": "#e0ecff", "link": "#93c5fd",
    "mark-bg": "#facc15", "mark-fg": "#111827", "warn-bg": "#422006", "warn-line": "#f59e0b",
    "badge-bg": "#78350f", "badge-fg": "#fef3c7", "refused-bg": "#450a0a",
    "refused-fg": "#fecaca", "notice-bg": "#1e1b4b", "notice-fg": "#c7d2fe", "ok": "#86efac",
    "error": "#fca5a5", "focus": "#60a5fa", "focus-soft": "#1e3a8a", "button-bg": "#1f2937",
}


def _palette(colors: dict[str, str]) -> str:
    return "".join(f"--nc-{name}:{value};" for name, value in colors.items())


CSS = (":root{" + _palette(PALETTE_LIGHT) + "}\n.dark{" + _palette(PALETTE_DARK) + "}\n" + """
.nc-chat{display:flex;flex-direction:column;gap:14px;font-size:15px;line-height:1.5;
  color:var(--nc-fg)}
.nc-empty{color:var(--nc-muted);padding:24px;text-align:center}
.nc-q{align-self:flex-end;max-width:80%;background:var(--nc-q-bg);color:var(--nc-q-fg);
  border-radius:12px;padding:8px 12px;white-space:pre-wrap}
.nc-a{align-self:flex-start;max-width:100%;width:100%;background:var(--nc-answer-bg);
  color:var(--nc-fg);border:1px solid var(--nc-border);border-radius:12px;padding:10px 14px}
.nc-text{white-space:pre-wrap;color:var(--nc-fg)}
.nc-draft{color:var(--nc-fg)}
.nc-draft::after{content:" \\25CF";color:var(--nc-focus);animation:nc-blink 1s infinite}
@keyframes nc-blink{50%{opacity:.2}}
a.nc-cite{font-weight:600;font-size:.8em;vertical-align:.25em;text-decoration:none;
  color:var(--nc-link);padding:0 1px}
a.nc-cite:hover{text-decoration:underline}
.nc-unsupported{background:var(--nc-warn-bg);color:var(--nc-fg);
  border-bottom:2px dotted var(--nc-warn-line)}
.nc-badge{display:inline-block;font-size:11px;font-weight:600;border-radius:8px;padding:0 6px;
  margin-left:4px;vertical-align:middle}
.nc-badge-warn{background:var(--nc-badge-bg);color:var(--nc-badge-fg)}
.nc-missing{font-size:12px;color:var(--nc-muted);margin-left:6px}
.nc-refused{background:var(--nc-refused-bg);color:var(--nc-refused-fg);border-radius:8px;
  padding:6px 10px;margin:6px 0;font-weight:600}
.nc-notice{background:var(--nc-notice-bg);color:var(--nc-notice-fg);border-radius:8px;
  padding:4px 10px;margin:6px 0;font-size:13px}
.nc-meta{color:var(--nc-muted);font-size:12px;margin-top:6px}
.nc-sources{margin-top:10px;display:flex;flex-direction:column;gap:8px}
.nc-sources h4{margin:4px 0;font-size:13px;color:var(--nc-muted);text-transform:uppercase;
  letter-spacing:.04em}
.nc-card{border:1px solid var(--nc-border);border-radius:10px;padding:8px 12px;
  background:var(--nc-card-bg);color:var(--nc-fg);scroll-margin-top:80px}
.nc-card:target{outline:3px solid var(--nc-focus);box-shadow:0 0 0 4px var(--nc-focus-soft)}
.nc-card-head{font-weight:600;color:var(--nc-fg)}
.nc-num{display:inline-block;min-width:22px;color:var(--nc-link)}
.nc-card-meta{color:var(--nc-muted);font-size:12px;margin:2px 0 4px}
.nc-card-meta a,a.nc-open,.nc-lib a{color:var(--nc-link)}
.nc-passage{white-space:pre-wrap;font-size:14px;color:var(--nc-fg);margin:4px 0}
.nc-passage mark,.nc-chat mark{background:var(--nc-mark-bg);color:var(--nc-mark-fg);
  padding:0 1px}
.nc-open{font-size:13px}
details.nc-more summary{cursor:pointer;color:var(--nc-muted);font-size:13px}
.nc-lib{width:100%;border-collapse:collapse;font-size:14px;color:var(--nc-fg)}
.nc-lib th,.nc-lib td{border-bottom:1px solid var(--nc-border);padding:4px 8px;text-align:left;
  color:var(--nc-fg)}
.nc-lib td.nc-id{font-family:monospace;font-size:12px;color:var(--nc-muted)}
.nc-actions{display:flex;gap:8px;margin-top:8px;font-size:13px}
.nc-actions-all{justify-content:flex-end;margin-top:0}
.nc-actions button,.nc-actions a{background:var(--nc-button-bg);color:var(--nc-fg);
  border:1px solid var(--nc-border);border-radius:6px;padding:2px 10px;cursor:pointer;
  text-decoration:none;font:inherit}
.nc-actions button:hover,.nc-actions a:hover{border-color:var(--nc-focus)}
.nc-status-line{background:var(--nc-notice-bg);color:var(--nc-notice-fg);border-radius:8px;
  padding:4px 10px;margin:0 0 6px;font-size:13px}
.nc-status-ok{color:var(--nc-ok)}
.nc-status-error{color:var(--nc-error)}
""") + DESK_CSS


def safe_url(url: str | None) -> str | None:
    """The URL when it is a plain http(s) address, else None (no javascript:, data:, ...)."""
    if not url or not isinstance(url, str):
        return None
    url = url.strip()
    if any(c.isspace() or ord(c) < 32 for c in url):
        return None
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def article_href(article_id: str, start: int | None = None, end: int | None = None) -> str:
    href = f"/article/{quote(article_id, safe='')}"
    if start is not None and end is not None:
        href += f"?start={int(start)}&end={int(end)}#hl"
    return href


def _meta_line(source: str | None, published: str | None, url: str | None) -> str:
    parts = [escape(x) for x in (source, published) if x]
    link = safe_url(url)
    if link:
        parts.append(f'<a href="{escape(link, quote=True)}" target="_blank" '
                     f'rel="noopener noreferrer nofollow">original article ↗</a>')
    return " · ".join(parts)


def highlight(text: str, start: int, end: int) -> str:
    """Escaped text with text[start:end] inside <mark>."""
    start = max(0, min(start, len(text)))
    end = max(start, min(end, len(text)))
    return (escape(text[:start]) + '<mark>' + escape(text[start:end]) + '</mark>'
            + escape(text[end:]))


def _cited_passage(citation: Citation, hits: Sequence[Hit]) -> str:
    """The passage the citation comes from with its span marked (the quote alone as fallback)."""
    for hit in hits:
        if hit.chunk_id == citation.chunk_id and hit.start <= citation.start \
                and citation.end <= hit.end:
            s, e = citation.start - hit.start, citation.end - hit.start
            if hit.text[s:e] == citation.quote:
                return highlight(hit.text, s, e)
    return f"<mark>{escape(citation.quote)}</mark>"


def _linked(text: str, anchor: str, numbers: set[int]) -> str:
    """Escape, then turn [n] of known citations into links to their source cards."""
    def link(m: re.Match[str]) -> str:
        n = int(m.group(1))
        if n not in numbers:
            return m.group(0)
        return (f'<a class="nc-cite" href="#{anchor}-{n}" data-cite="{n}" '
                f'title="Show source {n}">[{n}]</a>')
    return _MARKER.sub(link, escape(text))


def answer_text_html(answer: Answer, anchor: str) -> str:
    """The answer text, sentence by sentence; unsupported sentences marked."""
    numbers = {c.number for c in answer.citations}
    text = answer.text
    if not answer.sentences:
        return _linked(text, anchor, numbers)
    out, pos = [], 0
    for sent in sorted(answer.sentences, key=lambda s: s.start):
        if sent.start < pos or sent.end > len(text):
            continue
        out.append(_linked(text[pos:sent.start], anchor, numbers))
        body = _linked(text[sent.start:sent.end], anchor, numbers)
        if sent.supported:
            out.append(body)
        elif sent.state == "partial":
            missing = ", ".join(sent.unsupported)
            tip = (f"The cited passage does not state: {missing}" if missing
                   else "The cited passage states only part of this sentence")
            out.append(f'<span class="nc-unsupported nc-partial" title="{escape(tip)}">{body}'
                       f'</span><span class="nc-badge nc-badge-warn">partly supported</span>')
            if missing:
                out.append(f'<span class="nc-missing">not in the passage: {escape(missing)}'
                           f'</span>')
        else:
            out.append(f'<span class="nc-unsupported" title="No cited passage supports this '
                       f'sentence">{body}</span><span class="nc-badge nc-badge-warn">'
                       f'unverified</span>')
        pos = sent.end
    out.append(_linked(text[pos:], anchor, numbers))
    return "".join(out)


def sources_html(answer: Answer, anchor: str) -> str:
    """Cards for the cited sources (in citation order) and, collapsed, the uncited passages."""
    cards = []
    for c in sorted(answer.citations, key=lambda c: c.number):
        cards.append(
            f'<div class="nc-card" id="{anchor}-{c.number}">'
            f'<div class="nc-card-head"><span class="nc-num">[{c.number}]</span> '
            f'{escape(c.title)}</div>'
            f'<div class="nc-card-meta">{_meta_line(c.source, c.published, c.url)}</div>'
            f'<div class="nc-passage">{_cited_passage(c, answer.passages)}</div>'
            f'<a class="nc-open" href="{escape(article_href(c.article_id, c.start, c.end))}" '
            f'target="_blank" rel="noopener">Show in article</a></div>')
    cited = {c.chunk_id for c in answer.citations}
    rest = [h for h in answer.passages if h.chunk_id not in cited]
    html = ""
    if cards:
        html += '<div class="nc-sources"><h4>Sources</h4>' + "".join(cards) + "</div>"
    if rest:
        items = "".join(
            f'<div class="nc-card"><div class="nc-card-head">{escape(h.title)}</div>'
            f'<div class="nc-card-meta">{_meta_line(h.source, h.published, h.url)}</div>'
            f'<div class="nc-passage">{escape(h.text)}</div>'
            f'<a class="nc-open" href="{escape(article_href(h.article_id, h.start, h.end))}" '
            f'target="_blank" rel="noopener">Show in article</a></div>' for h in rest)
        html += (f'<details class="nc-more"><summary>{len(rest)} more retrieved passage'
                 f'{"s" if len(rest) != 1 else ""} (not cited)</summary>{items}</details>')
    return html


def markdown_href(text: str) -> str:
    """A data: URL holding `text` as a Markdown file (a download needs no server state)."""
    return "data:text/markdown;charset=utf-8;base64," + base64.b64encode(
        text.encode("utf-8")).decode("ascii")


def actions_html(markdown: str, name: str, what: str, label: str = "",
                 extra_class: str = "") -> str:
    """Copy and Export buttons for some Markdown (`what` it is, for the tooltips; `label` after
    the button names). The chat's script copies the text of the export link."""
    suffix = f" {escape(label)}" if label else ""
    return (f'<div class="nc-actions {extra_class}"><button type="button" class="nc-copy" '
            f'title="Copy {escape(what)} as Markdown">Copy{suffix}</button>'
            f'<a class="nc-export" href="{markdown_href(markdown)}" '
            f'download="{escape(name, quote=True)}" '
            f'title="Download {escape(what)} as Markdown">Export{suffix}</a></div>')


def answer_html(answer: Answer, anchor: str, final: bool = True) -> str:
    """An answer card; `final=False` for the quick answer shown while the full one is written."""
    parts = [f'<div class="nc-a {"nc-final" if final else "nc-quick"}">']
    if answer.refused:
        parts.append('<div class="nc-refused">No answer: the articles do not say.</div>')
    parts.append(f'<div class="nc-text">{answer_text_html(answer, anchor)}</div>')
    parts.extend(f'<div class="nc-notice">{escape(n)}</div>' for n in answer.notices)
    total = answer.timings.get("total")
    meta = f"engine: {escape(answer.engine)}"
    if total is not None:
        meta += f" · {total:.1f} s"
    if answer.standalone_question and answer.standalone_question != answer.question:
        meta += f" · searched for: {escape(answer.standalone_question)}"
    parts.append(f'<div class="nc-meta">{meta}</div>')
    parts.append(outlets_html(answer, anchor))
    parts.append(sources_html(answer, anchor))
    if final:
        parts.append(actions_html(answer_markdown(answer), file_name(answer.question),
                                  "this answer"))
    parts.append("</div>")
    return "".join(parts)


def draft_html(text: str, status: str | None = None) -> str:
    """The answer being written; `status` says what it waits for (the model loading)."""
    note = (f'<div class="nc-status-line" role="status">{escape(status)}</div>'
            if status else "")
    return (f'<div class="nc-a nc-streaming">{note}<div class="nc-text nc-draft">'
            f'{escape(text)}</div><div class="nc-meta">checking citations when the draft is '
            f'complete…</div></div>')


def chat_html(turns: Sequence[dict[str, Any]], pending: str | None = None,
              draft: str | None = None, quick: Answer | None = None,
              status: str | None = None) -> str:
    """The whole conversation; `pending` is a question still being answered, `quick` its quick
    answer (if any), `draft` the text generated so far and `status` what the answer waits for
    (e.g. "loading the local model…")."""
    if not turns and pending is None:
        return ('<div class="nc-chat"><div class="nc-empty">Ask a question about the indexed '
                'articles. Every sentence of the answer cites its passage.</div></div>')
    parts = ['<div class="nc-chat">']
    if turns and pending is None:  # not while an answer streams in: it is redrawn often
        whole = conversation_markdown([t["answer"] for t in turns])
        parts.append(actions_html(whole, file_name("conversation"), "the whole conversation",
                                  "conversation", "nc-actions-all"))
    for i, turn in enumerate(turns):
        parts.append(f'<div class="nc-q">{escape(turn["question"])}</div>')
        parts.append(answer_html(turn["answer"], f"c{i + 1}"))
    if pending is not None:
        parts.append(f'<div class="nc-q">{escape(pending)}</div>')
        if quick is not None:
            parts.append(answer_html(quick, f"c{len(turns) + 1}", final=False))
        parts.append(draft_html(draft or "", status))  # the model is still writing
    parts.append("</div>")
    return "".join(parts)


def article_page(article: Article, start: int | None, end: int | None) -> str:
    """A standalone page with the whole article, start..end marked (id="hl") to scroll to."""
    text = article.text
    if start is not None and end is not None and 0 <= start < end <= len(text):
        body = (escape(text[:start]) + '<mark id="hl">' + escape(text[start:end]) + "</mark>"
                + escape(text[end:]))
    else:
        body = escape(text)
    meta = _meta_line(article.source, article.published, article.url)
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<meta name=\"color-scheme\" content=\"light dark\">"
        f"<title>{escape(article.title)}</title><style>"
        "body{font-family:system-ui,sans-serif;max-width:760px;margin:32px auto;padding:0 16px;"
        "line-height:1.6;color:#111827;background:#ffffff}.meta{color:#4b5563;font-size:14px}"
        "a{color:#1d4ed8}.text{white-space:pre-wrap}"
        "mark{background:#fde047;color:#111827;padding:0 2px;scroll-margin-top:40vh}"
        "@media (prefers-color-scheme: dark){body{color:#e5e7eb;background:#111827}"
        ".meta{color:#a1a1aa}a{color:#93c5fd}}"
        "</style></head><body>"
        f"<h1>{escape(article.title)}</h1><div class=\"meta\">{meta}</div>"
        f"<div class=\"text\">{body}</div></body></html>")


def library_html(infos: Sequence[ArticleInfo], query: str = "") -> str:
    q = (query or "").strip().lower()
    rows = [a for a in infos
            if not q or q in " ".join(str(x or "") for x in (a.title, a.source, a.published,
                                                            a.id)).lower()]
    if not rows:
        what = "match the search" if infos else "are indexed yet; upload some below"
        return f'<div class="nc-empty">No articles {what}.</div>'
    note = f"{len(rows)} of {len(infos)} articles"
    if len(rows) > LIBRARY_ROWS:
        note += f"; showing the first {LIBRARY_ROWS}, search to narrow them down"
        rows = rows[:LIBRARY_ROWS]
    body = "".join(
        f"<tr><td>{escape(a.title)}</td><td>{escape(a.source or '')}</td>"
        f"<td>{escape(a.published or '')}</td><td>{a.chunks}</td>"
        f'<td class="nc-id"><a href="{escape(article_href(a.id))}" target="_blank" '
        f'rel="noopener">{escape(a.id)}</a></td></tr>' for a in rows)
    return (f'<div class="nc-meta">{note}</div>'
            '<table class="nc-lib"><thead><tr><th>Title</th><th>Outlet</th><th>Date</th>'
            f'<th>Chunks</th><th>Id</th></tr></thead><tbody>{body}</tbody></table>')


def feeds_html(feeds: Sequence[Feed]) -> str:
    """The feed list: address, title, last sync and how it went (its error, if any)."""
    import time

    if not feeds:
        return ('<div class="nc-empty">No feeds yet: add the address of an RSS or Atom feed '
                'below (or of an article page, to add just that article).</div>')

    def when(t: float | None) -> str:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(t)) if t else "never"

    rows = []
    for f in feeds:
        href = safe_url(f.url)
        address = (f'<a href="{escape(href)}" target="_blank" rel="noopener noreferrer">'
                   f'{escape(f.url)}</a>' if href else escape(f.url))
        if f.last_error:
            state = f'<span style="color:#7f1d1d">error: {escape(f.last_error)}</span>'
        elif f.last_sync:
            state = escape(f"ok: {f.items} items, {f.new_items} new or changed")
        else:
            state = "not synced yet"
        rows.append(f"<tr><td>{address}</td><td>{escape(f.title or '')}</td>"
                    f"<td>{escape(when(f.last_sync))}</td><td>{state}</td></tr>")
    return ('<table class="nc-lib" id="nc-feeds-table"><thead><tr><th>Feed</th><th>Title</th>'
            f'<th>Last sync</th><th>Status</th></tr></thead><tbody>{"".join(rows)}</tbody>'
            '</table>')


def status_html(lines: Sequence[str], error: bool = False) -> str:
    kind = "nc-status-error" if error else "nc-status-ok"
    return "".join(f'<div class="{kind}">{escape(line)}</div>' for line in lines)
