"""Answers and conversations as Markdown, with numbered footnotes for the citations."""
from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import quote

from core.records import Answer, Citation
from index.load import web_url

_MARKER = re.compile(r"\[(\d{1,3})\]")
# characters that start Markdown syntax anywhere in a line: emphasis, code, links, images,
# HTML, footnotes, tables, strikethrough, maths; each gets a backslash (CommonMark escapes)
_INLINE = re.compile(r"([\\`*_\[\]<>|~^$])")
_ENTITY = re.compile(r"&(?=#?\w+;)")  # "&amp;" would be read as "&"
# what makes a line a heading, list item or rule when it starts the line (">" and "`" are
# escaped everywhere); an ordered list's number keeps its digits and escapes its dot
_BULLET = re.compile(r"^([#+\-=])", re.MULTILINE)
_NUMBERED = re.compile(r"^(\d{1,9})([.)])", re.MULTILINE)
_INDENT = re.compile(r"^[ \t]+", re.MULTILINE)  # four spaces would make a code block
REFUSED = "No answer: the articles do not say."


def escape(text: str, line_start: bool = True) -> str:
    """`text` shown as itself in Markdown: no emphasis, links, images, HTML or headings.
    `line_start=False`: the text continues a line, so its first line cannot start a block."""
    if not line_start:
        return escape("x" + text)[1:]
    text = _INDENT.sub("", text)
    text = _INLINE.sub(r"\\\1", text)
    text = _ENTITY.sub(r"\\&", text)
    text = _BULLET.sub(r"\\\1", text)
    return _NUMBERED.sub(r"\1\\\2", text)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _url(url: str | None) -> str:
    """An http(s) URL as an autolink, or '' (no javascript:, data:, ...); spaces, angle
    brackets and other characters an autolink cannot hold are percent-encoded."""
    link = web_url(url)
    if not link:
        return ""
    return "<" + quote(link, safe=":/?#[]@!$&'()*+,;=%~") + ">"


def footnote(label: int, citation: Citation) -> str:
    """`[^label]: Title. Outlet, date. <url> "quote"` on one line."""
    parts = [f"*{escape(_one_line(citation.title))}*" if citation.title.strip() else ""]
    meta = ", ".join(escape(_one_line(x)) for x in (citation.source, citation.published) if x)
    if meta:
        parts.append(meta)
    link = _url(citation.url)
    if link:
        parts.append(link)
    head = ". ".join(p for p in parts if p)
    return f"[^{label}]: {head}: “{escape(_one_line(citation.quote))}”"


def _body(answer: Answer, labels: dict[int, int]) -> str:
    """The answer text, escaped, its [n] markers turned into footnote references and its
    unsupported sentences marked."""
    text = answer.text
    cuts = {m.start(): (m.end(), f"[^{labels[int(m.group(1))]}]")
            for m in _MARKER.finditer(text) if int(m.group(1)) in labels}
    ends = {s.end for s in answer.sentences if not s.supported and s.end <= len(text)}
    out, pos = [], 0
    for i in sorted(set(cuts) | ends):
        if i < pos:
            continue
        out.append(escape(text[pos:i], line_start=pos == 0 or text[pos - 1] == "\n"))
        if i in ends:
            out.append(" *(unverified)*")
        pos = i
        if i in cuts:
            pos, reference = cuts[i]
            out.append(reference)
    out.append(escape(text[pos:], line_start=pos == 0 or text[pos - 1] == "\n"))
    return "".join(out).strip()


def answer_markdown(answer: Answer, first: int = 1, heading: str = "#") -> str:
    """One answer: its question as a heading, the text with footnote references, then one
    footnote per citation (title, outlet, date, URL, the quoted passage). Footnotes are
    numbered from `first` in citation order, so answers of one document never share one."""
    citations = sorted(answer.citations, key=lambda c: c.number)
    labels = {c.number: first + i for i, c in enumerate(citations)}
    lines = [f"{heading} {escape(_one_line(answer.question))}", ""]
    if answer.refused:
        lines += [f"**{REFUSED}**", ""]
    lines += [_body(answer, labels), ""]
    if answer.outlets:  # what each outlet says, its citations as footnote references
        lines += ["**What each outlet says:**", ""]
        lines += [f"- {escape(_one_line(c.value))}: {escape(', '.join(c.outlets))}"
                  + (f" (also in {len(c.also_in)} outlets)" if c.also_in else "") + " "
                  + "".join(f"[^{labels[n]}]" for n in c.citations if n in labels)
                  for c in answer.outlets]
        lines.append("")
    lines += [f"> Note: {escape(_one_line(n))}" for n in answer.notices]
    if answer.notices:
        lines.append("")
    lines += [footnote(labels[c.number], c) for c in citations]
    return "\n".join(lines).rstrip() + "\n"


def conversation_markdown(answers: Sequence[Answer], title: str = "newscite conversation"
                          ) -> str:
    """Every answer of a conversation in order, footnotes numbered through the whole of it."""
    parts = [f"# {escape(title)}\n"]
    first = 1
    for answer in answers:
        parts.append(answer_markdown(answer, first=first, heading="##"))
        first += len(answer.citations)
    return "\n".join(parts)


def file_name(question: str, fallback: str = "answer") -> str:
    """A download name from a question: `newscite-how-many-soldiers.md`."""
    words = re.findall(r"[a-z0-9]+", question.lower())
    slug = "-".join(words)[:60].rstrip("-") or fallback
    return f"newscite-{slug}.md"
