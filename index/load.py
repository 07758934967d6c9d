"""Load news articles from .txt, .md, .html, .json and .jsonl files into Article records."""
from __future__ import annotations

import codecs
import hashlib
import json
import logging
import os
import re
import time
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from index.clean import clean_lines, normalise_date, take_meta_lines
from index.models import Article, Skipped

logger = logging.getLogger(__name__)

__all__ = ["SUPPORTED_EXTENSIONS", "load_file", "load_paths"]

SUPPORTED_EXTENSIONS: dict[str, str] = {
    ".txt": "txt", ".md": "md", ".markdown": "md", ".html": "html", ".htm": "html",
    ".json": "json", ".jsonl": "jsonl",
}
DEFAULT_MAX_BYTES = 20_000_000
_TITLE_MAX = 90
_HEADLINE_MAX = 200
_SCAN = 2000  # title heuristics only ever look at this many characters of a line
_CONTROL = bytes(c for c in range(32) if c not in (9, 10, 11, 12, 13)) + b"\x7f"

_WS = re.compile(r"\s+")
_SURROGATE = re.compile("[\ud800-\udfff]")
_SENTENCE_END = re.compile(r"[.!?…][\"”’')\]]*\s+(?=[\"“‘(\[]?[A-Z0-9])")
_ABBREV = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|St|Gen|Gov|Sen|Rep|Lt|Col|Sgt|Capt|Prof|Jan|Feb|Mar|Apr|Jun|Jul|Aug|"
    r"Sep|Sept|Oct|Nov|Dec|No|vs|Inc|Co|Corp|Jr|Sr|Ltd|Mt|Ft|approx|est)|\b[A-Z]|\b(?:[A-Z]\.)+[A-Z])\.$"
)
_CUT_WORD = re.compile(
    r" (?:by|in|of|with|from|after|as|at|on|for|to|and|but|while|amid|over|near|during|which|that|who|"
    r"because|since|when|where|into|against|despite) ",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _Meta:
    """What a format's own metadata says, before the body is cleaned."""

    title: str | None = None
    source: str | None = None
    url: str | None = None
    published: object = None


def _collapse(text: str) -> str:
    return _WS.sub(" ", text).strip()


def _decode(path: Path, shown: str, max_bytes: int, notes: list[str]) -> str | Skipped:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return Skipped(shown, f"file too large ({size / 1e6:.1f} MB > {max_bytes / 1e6:.1f} MB limit)")
        data = path.read_bytes()
    except OSError as err:
        return Skipped(shown, f"cannot read: {err.strerror or err}")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = data.decode("utf-16", errors="replace")
    else:
        sample = data[:8192]
        controls = len(sample) - len(sample.translate(None, _CONTROL))
        if b"\x00" in data or controls > 0.1 * len(sample):
            return Skipped(shown, "binary file")
        if data.startswith(codecs.BOM_UTF8):
            data = data[len(codecs.BOM_UTF8):]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            try:
                text, encoding = data.decode("cp1252"), "cp1252"
            except UnicodeDecodeError:
                text, encoding = data.decode("latin-1"), "latin-1"
            notes.append(f"{shown}: not valid UTF-8, decoded as {encoding}")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        return Skipped(shown, "empty file")
    return text


def _blocks(text: str) -> list[str]:
    """Paragraphs: runs of non-blank lines, each an exact substring of `text` (outer space trimmed)."""
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


def _first_sentence(text: str) -> str:
    head = _collapse(text[:_SCAN])
    for match in _SENTENCE_END.finditer(head):
        candidate = head[: match.start() + 1]
        if not _ABBREV.search(candidate):
            return candidate
    return head


def _shorten(text: str, limit: int = _TITLE_MAX) -> str:
    """At most `limit` chars, cut at a word (preferably before a preposition) and marked with "…"."""
    text = _collapse(text[: limit * 4])
    if text.endswith(".") and not _ABBREV.search(text):
        text = text[:-1].rstrip()
    if len(text) <= limit:
        return text
    room = limit - 1
    cut = text.rfind(" ", 0, room + 1)
    if cut < limit // 3:
        return text[:room].rstrip() + "…"
    clauses = [m.start() for m in _CUT_WORD.finditer(text, 0, cut + 1)]
    if clauses and clauses[-1] >= 0.6 * room:
        cut = clauses[-1]
    return text[:cut].rstrip(" ,;:-–—") + "…"


def _looks_like_headline(line: str, next_line: str | None) -> bool:
    s = line.strip()
    if len(s) > _HEADLINE_MAX or s.rstrip("\"”’')]").endswith((".", "!", "?", "…", ",", ";", ":")):
        return False
    # A hard-wrapped lede continues on the next line in lower case.
    return next_line is None or not next_line.lstrip()[:1].islower()


def _split_title(paras: list[str]) -> tuple[str, list[str], bool]:
    """(title, body, title_was_a_headline) from the first kept paragraph."""
    lines = paras[0].split("\n")
    if _looks_like_headline(lines[0][: _HEADLINE_MAX + 1], lines[1] if len(lines) > 1 else None):
        rest = "\n".join(lines[1:]).strip()
        return _collapse(lines[0]), ([rest] if rest else []) + paras[1:], True
    return _shorten(_first_sentence(paras[0])), paras, False


def _front_matter(text: str, shown: str, notes: list[str]) -> tuple[dict[str, Any], str]:
    if not re.match(r"---[ \t]*\n", text):
        return {}, text
    end = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.MULTILINE).search(text, 4)
    if end is None:
        return {}, text
    block, body = text[text.index("\n") + 1: end.start()], text[end.end():]
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
        is_heading = len(line) <= _SCAN and line.lstrip(" ").startswith("#") and _MD_HEADING.match(line)
        line = _inline_markdown(_MD_QUOTE.sub("", line, count=1))
        if is_heading:
            text = _MD_HEADING.match(line)
            line = (text.group(1) or "") if text else line
            if not seen_text and first_heading is None:
                first_heading, line = _collapse(line), ""
            lines.extend(["", line, ""])  # a heading is a paragraph of its own
        else:
            lines.append(line)
        seen_text = seen_text or bool(line.strip())
    return lines, first_heading or None


def _unicode(text: str) -> str:
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
        return _unicode(_collapse(str(value)[:2000]))
    return None


def _pick(data: dict[str, Any], *names: str) -> object:
    for name in names:
        value = data.get(name)
        if value not in (None, "", [], {}):
            return value
    return None


def _parse_markdown(text: str, shown: str, notes: list[str]) -> tuple[_Meta, list[str]]:
    data, body = _front_matter(text, shown, notes)
    lines, heading = _strip_markdown(body)
    title = _str(data.get("title"))
    title = _collapse(_inline_markdown(title)) if title else None
    blocks = _blocks("\n".join(lines))
    if heading and title and heading.lower() != title.lower():
        blocks.insert(0, heading)
    meta = _Meta(
        title=title or heading,
        source=_str(_pick(data, "source", "outlet", "publisher", "site")),
        url=_str(_pick(data, "url", "link")),
        published=_pick(data, "published", "date", "published_at"),
    )
    return meta, blocks


def _parse_html(text: str) -> tuple[_Meta, list[str]]:
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
    paras = [p for p in (_collapse(el.get_text()) for el in leaves) if p]
    if not paras:
        paras = [p for p in (_collapse(x) for x in container.get_text("\n").split("\n")) if p]
    source = meta("og:site_name")
    if published is None and time_tag is not None:
        published = _str(time_tag.get("datetime"))
    return _Meta(title=title, source=source, url=url, published=published), paras


def _record(obj: object) -> tuple[_Meta, list[str]] | str:
    """A JSON object's metadata and paragraphs, or the reason it cannot be used."""
    if not isinstance(obj, dict):
        return "not a JSON object"
    body = _pick(obj, "text", "body", "content")
    if isinstance(body, list) and all(isinstance(part, str) for part in body):
        body = "\n\n".join(body)
    if not isinstance(body, str) or not body.strip():
        return "no article text (expected a text, body or content field)"
    meta = _Meta(
        title=_str(_pick(obj, "title", "headline")),
        source=_str(_pick(obj, "source", "outlet", "publisher", "site")),
        url=_str(_pick(obj, "url", "link")),
        published=_pick(obj, "published", "date", "published_at"),
    )
    return meta, _blocks(_unicode(body).replace("\r\n", "\n").replace("\r", "\n"))


def _article(path: Path, shown: str, key: str, meta: _Meta, blocks: list[str],
             notes: list[str]) -> Article | Skipped:
    kept, removed, found = clean_lines(blocks)
    from_headline = True
    raw_date: str | None = None
    if meta.title:
        title = _shorten(meta.title, 300)
        if kept and _collapse(kept[0][:1000]).lower() == title.lower():
            kept = kept[1:]  # the body repeats the headline
    elif kept:
        kept, removed_top, raw_date = take_meta_lines(kept)  # a byline may come before the headline
        removed += removed_top
        title, kept, from_headline = _split_title(kept) if kept else ("", kept, False)
    else:
        title = ""
    if from_headline:
        kept, meta_lines, date_line = take_meta_lines(kept)
        removed += meta_lines
        raw_date = raw_date or date_line
    text = "\n\n".join(kept)
    if not text:
        return Skipped(shown, "no article text after cleaning")
    raw = meta.published if meta.published not in (None, "") else raw_date
    published = normalise_date(raw)
    if raw not in (None, "") and published is None:
        notes.append(f"{shown}: unparseable date {str(raw)[:60]!r}; published left empty")
    title = title or path.stem
    content_hash = hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()
    return Article(
        id=content_hash[:16], title=title, text=text, path=str(path), key=key,
        source=meta.source or found.get("source"), url=meta.url, published=published,
        content_hash=content_hash, boilerplate=tuple(removed),
    )


_Loaded = tuple[list[Article | Skipped], list[str]]  # items, warnings


def _load(path: Path, shown: str, explicit: bool, max_bytes: int) -> _Loaded:
    kind = SUPPORTED_EXTENSIONS.get(path.suffix.lower())
    if kind is None:
        if not explicit:
            return [], []
        what = path.suffix.lower() or "(no extension)"
        return [Skipped(shown, f"unsupported file type {what}")], []
    notes: list[str] = []
    text = _decode(path, shown, max_bytes, notes)
    if isinstance(text, Skipped):
        return [text], notes
    try:
        return _parse(kind, path, shown, text, notes), notes
    except RecursionError:
        return [Skipped(shown, "too deeply nested to parse")], notes
    except Exception as err:  # one malformed file must not abort a whole ingest
        logger.exception("failed to parse %s", shown)
        return [Skipped(shown, f"could not be parsed ({type(err).__name__})")], notes


def _parse(kind: str, path: Path, shown: str, text: str, notes: list[str]) -> list[Article | Skipped]:
    key = str(path.resolve())
    if kind == "txt":
        return [_article(path, shown, key, _Meta(), _blocks(text), notes)]
    if kind == "md":
        return [_article(path, shown, key, *_parse_markdown(text, shown, notes), notes)]
    if kind == "html":
        return [_article(path, shown, key, *_parse_html(text), notes)]
    if kind == "jsonl":
        records: list[tuple[int, object]] = []
        for number, line in enumerate(text.split("\n"), start=1):
            if line.strip():
                try:
                    records.append((number, json.loads(line)))
                except (json.JSONDecodeError, RecursionError) as err:
                    reason = f"invalid JSON: {_json_error(err, False)}"
                    records.append((number, Skipped(f"{shown}#{number}", reason)))
        return [_from_record(path, shown, key, n, obj, notes) for n, obj in records]
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as err:
        return [Skipped(shown, f"invalid JSON: {_json_error(err)}")]
    if isinstance(data, dict):
        parsed = _record(data)
        if isinstance(parsed, str):
            return [Skipped(shown, parsed)]
        return [_article(path, shown, key, *parsed, notes)]
    if not isinstance(data, list):
        return [Skipped(shown, "JSON is neither an object nor a list of objects")]
    if not data:
        return [Skipped(shown, "no records in JSON list")]
    return [_from_record(path, shown, key, n, obj, notes) for n, obj in enumerate(data, start=1)]


def _json_error(err: Exception, with_line: bool = True) -> str:
    if isinstance(err, json.JSONDecodeError):
        return f"{err.msg} ({f'line {err.lineno}, ' if with_line else ''}column {err.colno})"
    return "too deeply nested"


def _from_record(path: Path, shown: str, key: str, number: int, obj: object,
                 notes: list[str]) -> Article | Skipped:
    if isinstance(obj, Skipped):
        return obj
    parsed = _record(obj)
    if isinstance(parsed, str):
        return Skipped(f"{shown}#{number}", parsed)
    return _article(path, f"{shown}#{number}", f"{key}#{number}", *parsed, notes)


def load_file(path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> _Loaded:
    """Load one named file: (articles and skipped records, warnings). Warnings are also logged."""
    p = Path(path)
    if not p.is_file():
        return [Skipped(str(path), "not found" if not p.exists() else "not a regular file")], []
    items, notes = _load(p, str(path), True, max_bytes)
    for warning in notes:
        logger.warning("%s", warning)
    return items, notes


def _walk(root: Path, errors: list[Skipped]) -> list[Path]:
    found: list[tuple[tuple[str, ...], Path]] = []

    def on_error(err: OSError) -> None:
        errors.append(Skipped(str(err.filename), f"cannot read folder: {err.strerror or err}"))

    for folder, dirs, files in os.walk(root, onerror=on_error):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            path = Path(folder) / name
            # is_file(): a FIFO or socket would block or fail on read
            if not name.startswith(".") and path.suffix.lower() in SUPPORTED_EXTENSIONS and path.is_file():
                found.append((path.relative_to(root).parts, path))
    return [path for _, path in sorted(found)]


def load_paths(paths: Iterable[str | Path], *, max_bytes: int = DEFAULT_MAX_BYTES,
               warnings: list[str] | None = None) -> Iterator[Article | Skipped]:
    """Yield an Article or Skipped for every supported file under `paths` (files or folders).

    Folders are walked in sorted order, skipping hidden entries and (silently) unsupported
    files. Warnings (encoding fallbacks, bad dates, bad front matter) are logged and, when a
    list is given, appended to `warnings`.
    """
    started, loaded, skipped = time.perf_counter(), 0, 0
    seen: set[Path] = set()
    for raw in paths:
        root = Path(raw)
        if not root.exists():
            skipped += 1
            yield Skipped(str(raw), "not found")
            continue
        errors: list[Skipped] = []
        files = _walk(root, errors) if root.is_dir() else [root]
        for item in errors:
            skipped += 1
            yield item
        for path in files:
            resolved = path.resolve()
            if resolved in seen:
                continue
            seen.add(resolved)
            shown = str(raw) if path is root else str(path)
            if path is root and not path.is_file():
                items, found = [Skipped(shown, "not a regular file")], []
            else:
                items, found = _load(path, shown, path is root, max_bytes)
            for warning in found:
                logger.warning("%s", warning)
            if warnings is not None:
                warnings.extend(found)
            for item in items:
                if isinstance(item, Article):
                    loaded += 1
                else:
                    skipped += 1
                    logger.debug("skipped %s: %s", item.path, item.reason)
                yield item
    logger.info("load: %d articles, %d skipped in %.2fs", loaded, skipped, time.perf_counter() - started)
