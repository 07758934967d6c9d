"""Load news articles from files of the accepted formats (`index.formats.FORMATS`) into Article records."""
from __future__ import annotations

import codecs
import json
import logging
import os
import re
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from core.records import ID_CHARS, Article, Skipped, content_hash
from index.clean import clean_lines, normalise_date, take_meta_lines
from index.formats import (
    FORMATS,
    SCAN_CHARS,
    Meta,
    collapse_space,
    paragraphs,
    parse_markdown,
    parse_record,
)
from index.html_extract import byline, extract_page
from index.injection import strip_invisible

logger = logging.getLogger(__name__)

__all__ = ["build_article", "load_file", "load_paths"]

DEFAULT_MAX_BYTES = 20_000_000
_TITLE_MAX = 90
_HEADLINE_MAX = 200
_CONTROL = bytes(c for c in range(32) if c not in (9, 10, 11, 12, 13)) + b"\x7f"

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
    text = strip_invisible(text.replace("\r\n", "\n").replace("\r", "\n"))
    if not text.strip():
        return Skipped(shown, "empty file")
    return text




def _first_sentence(text: str) -> str:
    head = collapse_space(text[:SCAN_CHARS])
    for match in _SENTENCE_END.finditer(head):
        candidate = head[: match.start() + 1]
        if not _ABBREV.search(candidate):
            return candidate
    return head


def _shorten(text: str, limit: int = _TITLE_MAX) -> str:
    """At most `limit` chars, cut at a word (preferably before a preposition) and marked with "…"."""
    text = collapse_space(text[: limit * 4])
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
        return collapse_space(lines[0]), ([rest] if rest else []) + paras[1:], True
    return _shorten(_first_sentence(paras[0])), paras, False




def _article(path: Path, shown: str, key: str, meta: Meta, blocks: list[str],
             notes: list[str]) -> Article | Skipped:
    return build_article(str(path), shown, key, meta, blocks, notes, path.stem)


def build_article(where: str, shown: str, key: str, meta: Meta, blocks: list[str],
                  notes: list[str], fallback_title: str,
                  extra_boilerplate: tuple[str, ...] = ()) -> Article | Skipped:
    """An Article from a parsed document's metadata and paragraphs, cleaned like every loaded
    file (boilerplate lines become metadata); `where` is its path or web address, `key` its
    source key, `extra_boilerplate` metadata lines found elsewhere (a byline)."""
    kept, removed, found = clean_lines(blocks)
    removed = list(extra_boilerplate) + list(removed)
    from_headline = True
    raw_date: str | None = None
    if meta.title:
        title = _shorten(meta.title, 300)
        if kept and collapse_space(kept[0][:1000]).lower() == title.lower():
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
        # only strings are shown: str() of a nested YAML value can be huge (alias bombs)
        shown_date = raw[:60] if isinstance(raw, str) else f"a {type(raw).__name__} value"
        notes.append(f"{shown}: unparseable date {shown_date!r}; published left empty")
    title = title or fallback_title
    digest = content_hash(title, text)
    url = web_url(meta.url)
    if meta.url and url is None:
        notes.append(f"{shown}: the url is not an http(s) address; left empty")
    return Article(
        id=digest[:ID_CHARS], title=title, text=text, path=where, key=key,
        source=meta.source or found.get("source"), url=url, published=published,
        content_hash=digest, boilerplate=tuple(removed),
    )


def web_url(url: str | None) -> str | None:
    """`url` when it is an http(s) address; None for anything else (javascript:, data:,
    file:...), which a link on the web chat or in an API client must never open."""
    if not url:
        return None
    url = url.strip()
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    return url if scheme in ("http", "https") and len(url) <= 2048 else None


_Loaded = tuple[list[Article | Skipped], list[str]]  # items, warnings


def _load(path: Path, shown: str, explicit: bool, max_bytes: int) -> _Loaded:
    kind = FORMATS.get(path.suffix.lower())
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
        return [_article(path, shown, key, Meta(), paragraphs(text), notes)]
    if kind == "md":
        return [_article(path, shown, key, *parse_markdown(text, shown, notes), notes)]
    if kind == "html":
        page = extract_page(text)
        return [build_article(str(path), shown, key, page.meta, list(page.blocks), notes,
                              path.stem, byline(page.author))]
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
        parsed = parse_record(data)
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
    parsed = parse_record(obj)
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
            if not name.startswith(".") and path.suffix.lower() in FORMATS and path.is_file():
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
        for error in errors:
            skipped += 1
            yield error
        for path in files:
            resolved = path.resolve()
            if resolved in seen:
                continue
            seen.add(resolved)
            shown = str(raw) if path is root else str(path)
            items: list[Article | Skipped]
            found: list[str]
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
