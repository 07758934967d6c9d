"""Format parsers: Markdown front matter and body, HTML main text and meta, JSON records."""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any

# The one list of accepted article files: extension -> the parser that reads it. Loading,
# folder walks, uploads (web and REST) and the help texts all read it.
FORMATS: dict[str, str] = {
    ".txt": "txt", ".md": "md", ".markdown": "md", ".html": "html", ".htm": "html",
    ".json": "json", ".jsonl": "jsonl",
}
EXTENSIONS: tuple[str, ...] = tuple(FORMATS)


def extensions_text() -> str:
    """The accepted extensions for a label or help text (".txt .md ... .jsonl")."""
    return " ".join(EXTENSIONS)

_WS = re.compile(r"\s+")
_SURROGATE = re.compile("[\ud800-\udfff]")
SCAN_CHARS = 2000  # heuristics only ever look at this many characters of a line


@dataclass(frozen=True)
class Meta:
    """What a format's own metadata says, before the body is cleaned."""

    title: str | None = None
    source: str | None = None
    url: str | None = None
    published: object = None



def collapse_space(text: str) -> str:
    return _WS.sub(" ", text).strip()


# Inline HTML formatting inside plain text, Markdown or a JSON text field ("was <b>rebuilt</b>
# at"): the tags go and their words stay in the sentence. Other markup is left for
# index.injection, which makes it boilerplate (never citable) and breaks the text around it.
_INLINE_TAG = re.compile(
    r"<\s*/?\s*(?:a|abbr|b|bdi|bdo|big|cite|code|data|del|dfn|em|font|i|ins|kbd|mark|q|s|samp|"
    r"small|span|strike|strong|sub|sup|time|tt|u|var)(?=[\s/>])[^<>]{0,500}>",
    re.IGNORECASE)
_LINE_BREAK_TAG = re.compile(r"<\s*br\s*/?\s*>", re.IGNORECASE)


def unwrap_inline_markup(text: str) -> str:
    """`text` without inline formatting tags (their words kept in place); <br> is a line break."""
    if "<" not in text:
        return text
    return _LINE_BREAK_TAG.sub("\n", _INLINE_TAG.sub("", text))


def paragraphs(text: str) -> list[str]:
    """Paragraphs: runs of non-blank lines of `text` with its inline markup unwrapped
    (`unwrap_inline_markup`), each an exact substring of that text (outer space trimmed)."""
    from index.injection import strip_invisible

    text = strip_invisible(unwrap_inline_markup(text))
    blocks: list[str] = []
    run: list[str] = []
    for line in text.split("\n"):
        if line.strip():
            run.append(line)
        elif run:
            blocks.append("\n".join(run).strip())
            run = []
    if run:
        blocks.append("\n".join(run).strip())
    return blocks


def _front_matter(text: str, shown: str, notes: list[str]) -> tuple[dict[str, Any], str]:
    if not re.match(r"---[ \t]*\n", text):
        return {}, text
    end = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.MULTILINE).search(text, 4)
    if end is None:
        return {}, text
    block, body = text[text.index("\n") + 1: end.start()], text[end.end():]
    import yaml  # lazy: the upload form and CLI help read FORMATS without loading it

    try:
        # BaseLoader keeps every scalar a string: "title: No" stays "No", dates are parsed by us.
        data = yaml.load(block, Loader=yaml.BaseLoader)  # noqa: S506 - BaseLoader builds no objects
    except (yaml.YAMLError, RecursionError) as err:
        problem = getattr(err, "problem", None) or type(err).__name__
        notes.append(f"{shown}: invalid YAML front matter ({problem}); loaded the body only")
        return {}, body
    if data is not None and not isinstance(data, dict):
        notes.append(f"{shown}: front matter is not a mapping; ignored")
        return {}, body
    return data or {}, body


_MD_HEADING = re.compile(r"^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_MD_SKIP = re.compile(r"^ {0,3}(?:(?:[-*_][ \t]*){3,}|```.*|~~~.*|\[[^\]]{1,200}\]:\s*\S+.*)$")
_MD_QUOTE = re.compile(r"^ {0,3}>[ \t]?")
_MD_IMAGE = re.compile(r"!\[[^\]\n]{0,500}\]\([^)\n]{0,500}\)")
_MD_LINK = re.compile(r"\[([^\]\n]{0,500})\]\([^)\n]{0,500}\)")
_MD_EMPHASIS = [
    re.compile(r"(?<![\w*])(\*{1,3})(?=[^\s*])([^*\n]{1,500}?)(?<=[^\s*])\1(?![\w*])"),
    re.compile(r"(?<![\w_])(_{1,3})(?=[^\s_])([^_\n]{1,500}?)(?<=[^\s_])\1(?![\w_])"),
]
_MD_INLINE_MAX = 10_000  # a longer "line" is not hand-written markdown: keep it verbatim


def _inline_markdown(line: str) -> str:
    """Drop images, unwrap links and emphasis; a very long line is kept verbatim."""
    if len(line) <= _MD_INLINE_MAX:
        if "](" in line:
            line = _MD_LINK.sub(r"\1", _MD_IMAGE.sub("", line))
        if "*" in line or "_" in line:
            for pattern in _MD_EMPHASIS:
                line = pattern.sub(r"\2", line)
    return line


def _strip_markdown(body: str) -> tuple[list[str], str | None]:
    """(lines with light markup removed, first heading if it opens the document)."""
    lines: list[str] = []
    first_heading: str | None = None
    seen_text = False
    for line in body.split("\n"):
        if len(line) <= 300 and _MD_SKIP.match(line):
            lines.append("")
            continue
        is_heading = (len(line) <= SCAN_CHARS and line.lstrip(" ").startswith("#")
                      and _MD_HEADING.match(line))
        line = _inline_markdown(_MD_QUOTE.sub("", line, count=1))
        if is_heading:
            text = _MD_HEADING.match(line)
            line = (text.group(1) or "") if text else line
            if not seen_text and first_heading is None:
                first_heading, line = collapse_space(line), ""
            lines.extend(["", line, ""])  # a heading is a paragraph of its own
        else:
            lines.append(line)
        seen_text = seen_text or bool(line.strip())
    return lines, first_heading or None


def fix_unicode(text: str) -> str:
    """JSON may carry lone surrogates ("\\ud800"): replace them so the text can be stored."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)


def _str(value: object) -> str | None:
    if isinstance(value, dict):
        value = value.get("name") or value.get("title")
    if isinstance(value, (str, int, float)) and not isinstance(value, bool) and str(value).strip():
        return fix_unicode(collapse_space(str(value)[:2000]))
    return None


def _pick(data: dict[str, Any], *names: str) -> object:
    for name in names:
        value = data.get(name)
        if value not in (None, "", [], {}):
            return value
    return None


def parse_markdown(text: str, shown: str, notes: list[str]) -> tuple[Meta, list[str]]:
    data, body = _front_matter(text, shown, notes)
    lines, heading = _strip_markdown(body)
    title = _str(data.get("title"))
    title = collapse_space(_inline_markdown(title)) if title else None
    blocks = paragraphs("\n".join(lines))
    if heading and title and heading.lower() != title.lower():
        blocks.insert(0, heading)
    meta = Meta(
        title=title or heading,
        source=_str(_pick(data, "source", "outlet", "publisher", "site")),
        url=_str(_pick(data, "url", "link")),
        published=_pick(data, "published", "date", "published_at"),
    )
    return meta, blocks


def parse_html(text: str) -> tuple[Meta, list[str]]:
    from bs4 import BeautifulSoup  # lazy: only HTML needs it

    with warnings.catch_warnings():  # bs4 warns when markup "looks like a URL or file name"
        warnings.simplefilter("ignore")
        soup = BeautifulSoup(text, "html.parser")

    def meta(*keys: str) -> str | None:
        for key in keys:
            for attr in ("property", "name", "itemprop"):
                tag = soup.find("meta", attrs={attr: key})
                if tag is not None and _str(tag.get("content")):
                    return _str(tag.get("content"))
        return None

    h1 = soup.find("h1")
    title = meta("og:title") or (_str(soup.title.get_text()) if soup.title else None)
    title = title or (_str(h1.get_text()) if h1 else None)
    time_tag = soup.find("time", attrs={"datetime": True})
    # read now: the <br> replacement below can detach the tag (a <time> inside a <br>)
    time_value = _str(time_tag.get("datetime")) if time_tag is not None else None
    published = meta("article:published_time", "date", "pubdate", "datePublished", "DC.date.issued")
    canonical = soup.find("link", rel="canonical")
    url = (_str(canonical.get("href")) if canonical else None) or meta("og:url")
    for tag in soup.find_all(["script", "style", "nav", "header", "footer", "aside", "form",
                              "figure", "figcaption", "noscript", "template", "iframe"]):
        tag.decompose()
    articles = soup.find_all("article")
    container = (max(articles, key=lambda a: len(a.get_text())) if articles else None) \
        or soup.find("main") or soup.body or soup
    for br in container.find_all("br"):
        br.replace_with("\n")
    names = ["p", "h2", "h3", "h4", "h5", "h6", "li", "blockquote"]
    leaves = [el for el in container.find_all(names) if el.find(names) is None]
    paras = [p for p in (collapse_space(el.get_text()) for el in leaves) if p]
    if not paras:
        paras = [p for p in (collapse_space(x) for x in container.get_text("\n").split("\n")) if p]
    source = meta("og:site_name")
    if published is None:
        published = time_value
    return Meta(title=title, source=source, url=url, published=published), paras


def parse_record(obj: object) -> tuple[Meta, list[str]] | str:
    """A JSON object's metadata and paragraphs, or the reason it cannot be used."""
    if not isinstance(obj, dict):
        return "not a JSON object"
    body = _pick(obj, "text", "body", "content")
    if isinstance(body, list) and all(isinstance(part, str) for part in body):
        body = "\n\n".join(body)
    if not isinstance(body, str) or not body.strip():
        return "no article text (expected a text, body or content field)"
    meta = Meta(
        title=_str(_pick(obj, "title", "headline")),
        source=_str(_pick(obj, "source", "outlet", "publisher", "site")),
        url=_str(_pick(obj, "url", "link")),
        published=_pick(obj, "published", "date", "published_at"),
    )
    return meta, paragraphs(fix_unicode(body).replace("\r\n", "\n").replace("\r", "\n"))
