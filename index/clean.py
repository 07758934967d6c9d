"""Recognise news boilerplate and metadata lines (notes, footers, tags, captions, bylines, dates)."""
from __future__ import annotations

import datetime as dt
import logging
import re

from index.formats import collapse_space
from index.injection import is_planted, split_planted
from index.outlet import source_from_line

logger = logging.getLogger(__name__)

__all__ = ["clean_lines", "is_boilerplate", "normalise_date", "take_meta_lines"]

# Length gates keep every check linear: boilerplate is short, and long lines are never scanned
# by anything but anchored prefix patterns or a fixed-size tail.
_SHORT = 300
_NOTE_MAX = 2000
_CAPTION_MAX = 1000
_TAIL = 300

_TERMINAL = ".!?\"”’'»)"

_SOCIAL_CORE = {
    "share", "shares", "tweet", "email", "e-mail", "print", "pin", "whatsapp", "facebook",
    "twitter", "linkedin", "reddit", "messenger", "telegram", "comment", "comments", "flipboard",
}
_SOCIAL_EXTRA = {"this", "article", "story", "page", "post", "on", "via", "it", "copy", "link", "x", "save"}
_SOCIAL_SPLIT = re.compile(r"[\s|/·•,;:()\[\]-]+")

_PREFIX = re.compile(
    r"""^[\[(*\s]*(?:
        editor[’'`]?s[’'`]?\s+note\s*[:\-–—]
      | (?:copyright|\(c\)|©)\s*(?:\(c\)|©)?\s*\d{4}
      | ©
      | reprinted\s+(?:here\s+)?with\s+(?:the\s+)?(?:kind\s+)?permission\b
      | (?:photo|image|caption|picture|photograph|photo\s+credit|credit|video)s?\s*:
      | this\s+is\s+a\s+(?:developing|breaking)\s+(?:news\s+)?story\b
      | this\s+(?:story|article|report)\s+
        (?:is\s+developing|will\s+be\s+updated|has\s+been\s+updated|was\s+updated|is\s+being\s+updated)\b
      | (?:read\s+more|related(?:\s+(?:articles?|stories|content|coverage))?|see\s+also|also\s+read
         |more\s+from|recommended|tags|topics|filed\s+under)\s*[:»|]
      | (?:read\s+more|related(?:\s+(?:articles?|stories|content|coverage))?|see\s+also)\s*[.…»]?\s*$
      | (?:advertisement|advertising|sponsored(?:\s+content)?
         |story\s+continues\s+below(?:\s+advertisement)?)\s*$
    )""",
    re.IGNORECASE | re.VERBOSE,
)
_SHORT_PREFIX = re.compile(
    r"""^[\[(*\s]*(?:
        share\s+(?:this|on|via)\b
      | follow\s+us\b
      | follow\s+(?:@?[\w.]+\s+){1,4}on\s+
        (?:twitter|facebook|instagram|x|linkedin|telegram|youtube|tiktok|threads|bluesky|social\s+media)\b
      | click\s+here\b
      | sign\s+up\s+(?:for|to|now|here)\b
      | subscribe\s+(?:to\s+our|to\s+the|now|for\s+free|here)\b
      | get\s+our\s+(?:free\s+)?newsletter\b
    )""",
    re.IGNORECASE | re.VERBOSE,
)
_RIGHTS = re.compile(r"\ball rights reserved\b", re.IGNORECASE)

# Photo credits at the END of a paragraph, in agency/photographer form.
_AGENCY = (
    r"AFP|AP|REUTERS|Reuters|EPA|EPA-EFE|Getty|Getty Images|Anadolu|Anadolu Agency|Xinhua|Sputnik|"
    r"TASS|SANA|Bloomberg|AAP|DPA|dpa|Pool|POOL|Photo|Images|Shutterstock|NurPhoto|SOPA|Kremlin|"
    r"Handout|HANDOUT|UPI|IMAGO|Zuma|ZUMA|Alamy|Polaris|Redux|AP Photo|Press Association|PA"
)
_NAME = r"[A-Z][\w.&'’-]*(?: (?:[A-Z][\w.&'’-]*|via|de|van|von|al|el|bin|da|di|le|la))*"
_SLASH_CREDIT = re.compile(rf"(?:^|\s)(?P<credit>{_NAME}(?:/{_NAME})+)\s*$")
_VIA_CREDIT = re.compile(rf"(?:^|[.!?”\"]\s+)(?:{_NAME} )?via (?:{_AGENCY})\s*$")
_AGENCY_WORD = re.compile(rf"(?<![\w-])(?:{_AGENCY})(?![\w-])")
_GETTY_END = re.compile(
    r"(?:^|[.!?”\"]\s+|/|\bvia\s+)(?:Getty Images|Shutterstock|iStock(?:photo)?|AFP|AP Photo)\s*\)?\s*$"
)
_PAREN_CREDIT = re.compile(
    r"\(\s*(?:(?:photo|photograph|image|picture|credit)s?(?:\s+by|\s*:)|(?:AP|AFP|REUTERS|Reuters|EPA)\b)"
    r"[^()]{0,120}\)\s*\.?\s*$",
    re.IGNORECASE,
)
_INLINE_PHOTO = re.compile(r"(?:^|[.!?”\"]\s+)(?:Photo|Photograph|Image|Credit)s?: [^.!?]{1,80}$")

_TAG_ITEM = re.compile(r"^[a-z0-9][a-z0-9 '’&/-]{0,29}$")
_SENTENCE_PUNCT = re.compile(r"[.!?;:\"“”]")


def _is_social(s: str) -> bool:
    tokens = [t for t in _SOCIAL_SPLIT.split(s.lower()) if t]
    if not tokens or not any(t in _SOCIAL_CORE for t in tokens):
        return False
    return all(t in _SOCIAL_CORE or t in _SOCIAL_EXTRA for t in tokens)


def _is_tag_line(s: str) -> bool:
    if "\n" in s or len(s) > 200 or s.count(",") < 2 or _SENTENCE_PUNCT.search(s):
        return False
    body = s[5:] if s.lower().startswith("tags ") else s
    items = [item.strip() for item in body.split(",")]
    if len(items) < 3 or any(not item for item in items):
        return False
    return all(_TAG_ITEM.match(item) and len(item.split()) <= 3 for item in items)


def _credit_at_end(text: str) -> bool:
    """True when `text` ends with a photo credit (not a mention of an agency mid-sentence)."""
    tail = collapse_space(text[-_TAIL:])
    if not tail or tail[-1] == "." and not tail.endswith(").") or tail[-1] in "!?,;:":
        return False
    match = _SLASH_CREDIT.search(tail)
    if match and _AGENCY_WORD.search(match.group("credit")):
        return True
    return bool(
        _GETTY_END.search(tail) or _PAREN_CREDIT.search(tail)
        or _VIA_CREDIT.search(tail) or _INLINE_PHOTO.search(tail)
    )


def _line_rule(s: str) -> bool:
    """Whole-line rules (everything except photo captions) on a stripped line."""
    if not s:
        return False
    if len(s) <= _NOTE_MAX and _PREFIX.match(s):
        return True
    if len(s) > _SHORT:
        return False
    low = s.lower()
    first = low.split(None, 1)[0].strip("|/·•,;:()[]-")
    return bool(
        _SHORT_PREFIX.match(s)
        or (len(s) <= 80 and (first in _SOCIAL_CORE or first in _SOCIAL_EXTRA) and _is_social(s))
        or ("," in s and _is_tag_line(s))
        or ("reserved" in low and _RIGHTS.search(s))
    )


def is_boilerplate(line: str) -> bool:
    """True when a whole line or paragraph is boilerplate that must never become citable text
    (including markup and instructions planted for an AI reader, see index.injection)."""
    s = line.strip()
    return _line_rule(s) or (len(s) <= _CAPTION_MAX and _credit_at_end(s)) or is_planted(s)


def _continues(previous: str, line: str) -> bool:
    """True when `line` continues `previous` in hard-wrapped text (so a caption spans both)."""
    previous = previous.rstrip()
    if not previous or previous.endswith(tuple(_TERMINAL)) or len(previous) > 100 or len(line) > 100:
        return False
    return line.lstrip()[:1].islower() or previous.endswith(",") or previous.split()[-1].islower()


def _caption_start(lines: list[str]) -> int | None:
    """Index of the first line of a trailing photo caption in a block of lines, if any.

    A caption glued under a paragraph (one paragraph per line) is its own line; a
    hard-wrapped caption also takes the earlier lines it continues.
    """
    tail = lines[-1] if len(lines) == 1 else lines[-2][-_TAIL:] + " " + lines[-1]
    if not _credit_at_end(tail):
        return None
    start = len(lines) - 1
    if len(lines) > 1 and not _credit_at_end(lines[-1]):
        start -= 1  # the credit itself is wrapped onto the last line
    while start > 0 and _continues(lines[start - 1], lines[start]):
        start -= 1
    if sum(len(line) for line in lines[start:]) > _CAPTION_MAX:
        return None
    return start


def clean_lines(lines: list[str]) -> tuple[list[str], list[str], dict[str, str]]:
    """Split paragraphs (or lines) into kept text, removed boilerplate and metadata found.

    Each item may hold several lines joined by "\\n". A boilerplate line inside an item is
    removed on its own and splits the item there, so every kept item is a contiguous
    (whitespace-trimmed) substring of an input item; a paragraph ending with a photo credit
    is removed whole. Markup and instructions planted for an AI reader (index.injection) are
    cut out the same way, even mid-line: removed, never dropped. Metadata: {"source": ...}
    from "originally appeared on X" (wins) or a copyright / reprint line.
    """
    kept: list[str] = []
    removed: list[str] = []
    found: dict[str, str] = {}
    for item in lines:
        run: list[str] = []
        for piece, planted in split_planted(item):
            if planted:
                run = _cut(run, piece, kept, removed)
            else:
                run = _take_lines(piece, run, kept, removed, found)
        _flush(run, kept, removed)
    metadata: dict[str, str] = {}
    for kind in ("note", "copyright", "reprint"):
        if kind in found:
            metadata["source"] = found[kind]
            break
    logger.debug("clean: kept %d, removed %d", len(kept), len(removed))
    return kept, removed, metadata


def _take_lines(piece: str, run: list[str], kept: list[str], removed: list[str],
                found: dict[str, str]) -> list[str]:
    """Apply the line rules to a piece of an item; returns the paragraph still being built."""
    for line in piece.split("\n"):
        if not line.strip():
            run = _cut(run, "", kept, removed)
        elif _line_rule(line.strip()):
            run = _cut(run, line, kept, removed)
            meta = source_from_line(line)
            if meta and meta[0] not in found:
                found[meta[0]] = meta[1]
        else:
            run.append(line)
    return run


def _cut(run: list[str], boilerplate: str, kept: list[str], removed: list[str]) -> list[str]:
    """End the paragraph being built at `boilerplate` (removed when not blank); a new one starts."""
    _flush(run, kept, removed)
    if boilerplate.strip():
        removed.append(boilerplate.strip())
    return []


def _maybe_credit(line: str) -> bool:
    """Cheap pre-check: could this line end a photo caption? (Credits end in a name or ")".)"""
    s = line.rstrip()
    if not s or s[-1] in ".!?,;:":
        return s.endswith(").")
    last = s.rsplit(None, 1)[-1]
    return last[:1].isupper() or s.endswith(")") or "/" in last or ":" in s[-100:]


def _flush(run: list[str], kept: list[str], removed: list[str]) -> None:
    """Move captions out of a run of non-boilerplate lines; keep the rest as paragraphs."""
    start = 0
    for end, line in enumerate(run, start=1):
        if not _maybe_credit(line) or (end < len(run) and _continues(line, run[end])):
            continue
        first = _caption_start(run[start:end])
        if first is None:
            continue
        if first:
            kept.append("\n".join(run[start:start + first]).strip())
        removed.append("\n".join(run[start + first:end]).strip())
        start = end
    if start < len(run):
        kept.append("\n".join(run[start:]).strip())


# Metadata lines at the top of a body (bylines, dates) and date normalisation.

_BYLINE = re.compile(r"^(?:by|BY|By)\s+(?P<names>\S.{0,100})$")
_BYLINE_WORD = re.compile(
    r"^(?:[A-Z\"“'(][\w.'’\"”()-]*|and|&|de|van|von|der|da|al|el|bin|of|the|for|in|at|[|,/-])$"
)
_DATELINE = re.compile(
    r"^(?P<kind>published|publication date|date|posted|updated|last updated)(?:\s+on)?"
    r"\s*[:\-–—]\s*(?P<value>\S.{0,150})$",
    re.IGNORECASE,
)

_MONTHS = {
    name: number
    for number, names in enumerate(
        [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
         ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
         ("oct", "october"), ("nov", "november"), ("dec", "december")],
        start=1,
    )
    for name in names
}
_ISO_DATE = re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:T|$)")
_MONTH_FIRST = re.compile(r"\b([A-Za-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})(?!\d)")
_DAY_FIRST = re.compile(r"(?<!\d)(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?([A-Za-z]{3,9})\.?,?\s+(\d{4})(?!\d)")
_NUMERIC_DATE = re.compile(r"(?<!\d)(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?!\d)")


def _valid(year: int, month: int, day: int) -> str | None:
    try:
        return dt.date(year, month, day).isoformat() if 1000 <= year <= 9999 else None
    except ValueError:
        return None


def normalise_date(value: object) -> str | None:
    """ISO "YYYY-MM-DD" for common date forms (a datetime keeps its own local date), else None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (int, float)):
        seconds = value / 1000 if value > 1e11 else value  # epoch milliseconds are common in JSON
        try:
            return dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc).date().isoformat()
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    s = value.strip()[:200]
    for pattern in (_ISO_DATE, _COMPACT_DATE):
        match = pattern.search(s)
        if match and (found := _valid(*(int(g) for g in match.groups()))):
            return found
    for match in _MONTH_FIRST.finditer(s):
        month = _MONTHS.get(match.group(1).lower())
        if month and (found := _valid(int(match.group(3)), month, int(match.group(2)))):
            return found
    for match in _DAY_FIRST.finditer(s):
        month = _MONTHS.get(match.group(2).lower())
        if month and (found := _valid(int(match.group(3)), month, int(match.group(1)))):
            return found
    match = _NUMERIC_DATE.search(s)
    if match:
        first, second, year = (int(g) for g in match.groups())
        if first > 12 >= second:
            return _valid(year, second, first)
        if second > 12 >= first:
            return _valid(year, first, second)
    return None  # includes ambiguous numeric dates such as 03/04/2020


def _meta_line(line: str) -> tuple[str, str | None] | None:
    """("byline" | "date", raw date) when `line` is a byline or a "Published: ..." line."""
    s = line.strip()
    match = _DATELINE.match(s)
    if match:
        return "date", (None if "updated" in match.group("kind").lower() else match.group("value"))
    match = _BYLINE.match(s)
    if match and not s.endswith((".", "!", "?")):
        words = match.group("names").replace(",", " , ").split()
        if len(words) <= 12 and all(_BYLINE_WORD.match(word) for word in words):
            return "byline", None
    return None


def take_meta_lines(paras: list[str]) -> tuple[list[str], list[str], str | None]:
    """Remove byline / date lines at the top of the body: (body, removed lines, raw date)."""
    removed: list[str] = []
    raw_date: str | None = None
    while paras and len(removed) < 4:
        lines = paras[0].split("\n")
        found = _meta_line(lines[0])
        if found is None:
            break
        removed.append(lines[0].strip())
        if found[1] is not None and raw_date is None:
            raw_date = found[1]
        rest = "\n".join(lines[1:]).strip()
        paras = ([rest] if rest else []) + paras[1:]
    return paras, removed, raw_date
