"""Recognise news boilerplate (share lines, notes, footers, tag lines, captions) as metadata."""
from __future__ import annotations

import logging
import re

logger = logging.getLogger(__name__)

__all__ = ["is_boilerplate", "clean_lines", "source_from_line"]

# Length gates keep every check linear: boilerplate is short, and long lines are never scanned
# by anything but anchored prefix patterns or a fixed-size tail.
_SHORT = 300
_NOTE_MAX = 2000
_CAPTION_MAX = 1000
_TAIL = 300

_WS = re.compile(r"\s+")
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
      | this\s+(?:story|article|report)\s+(?:is\s+developing|will\s+be\s+updated|has\s+been\s+updated|was\s+updated|is\s+being\s+updated)\b
      | (?:read\s+more|related(?:\s+(?:articles?|stories|content|coverage))?|see\s+also|also\s+read|more\s+from|recommended|tags|topics|filed\s+under)\s*[:»|]
      | (?:read\s+more|related(?:\s+(?:articles?|stories|content|coverage))?|see\s+also)\s*[.…»]?\s*$
      | (?:advertisement|advertising|sponsored(?:\s+content)?|story\s+continues\s+below(?:\s+advertisement)?)\s*$
    )""",
    re.IGNORECASE | re.VERBOSE,
)
_SHORT_PREFIX = re.compile(
    r"""^[\[(*\s]*(?:
        share\s+(?:this|on|via)\b
      | follow\s+us\b
      | follow\s+(?:@?[\w.]+\s+){1,4}on\s+(?:twitter|facebook|instagram|x|linkedin|telegram|youtube|tiktok|threads|bluesky|social\s+media)\b
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

_ORIGINALLY = re.compile(
    r"originally\s+(?:appeared|ran|was\s+published|published)\s+(?:on|in|at|by)\s+"
    r"(?:the\s+(?=[a-z]))?(?P<src>.+)$",
    re.IGNORECASE,
)
_ORIGINALLY_CUT = re.compile(
    r"\s+(?:and\s+(?:is|was|has|appears|it)\b|under\s+a\b|on\s+\w+\s+\d{1,2},|with\s+permission\b)"
    r"|,\s+(?:and\s+)?(?:is|was|it)\b|\s*\((?:http|www)",
    re.IGNORECASE,
)
_COPYRIGHT_HEAD = re.compile(
    r"^[\[(\s]*(?:copyright\b\s*|\(c\)\s*|©\s*)+(?:\(c\)\s*|©\s*)*"
    r"(?:\d{4}(?:\s*[-–]\s*\d{4})?)?\s*[.,:]?\s*(?:by\s+)?",
    re.IGNORECASE,
)
_COPYRIGHT_CUT = re.compile(
    r"\ball rights reserved\b|\breprinted\b|\brepublished\b|\bused with\b|\bdistributed by\b"
    r"|\bthis material may not\b|\bmay not be\b",
    re.IGNORECASE,
)
_REPRINT_SOURCE = re.compile(
    r"reprinted\s+(?:here\s+)?with\s+(?:the\s+)?(?:kind\s+)?permission\s+(?:of|from)\s+(?:the\s+(?=[a-z]))?"
    r"(?P<src>[^,.;]{2,100})",
    re.IGNORECASE,
)
_ABBREV_END = re.compile(r"(?:\b(?:Inc|Ltd|Co|Corp|LLC|L\.L\.C|S\.A|A\.G|Plc|PLC|Jr|Sr|Bros)|\b[A-Z])\.$")
_SENTENCE_CUT = re.compile(r"\.\s+(?=[A-Z])")


def _collapse(text: str) -> str:
    return _WS.sub(" ", text).strip()


def _is_social(s: str) -> bool:
    if len(s) > 80:
        return False
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


def _ends_with_credit(s: str) -> bool:
    """True when a paragraph ends with a photo credit (not a mention of an agency mid-sentence)."""
    if len(s) > _CAPTION_MAX:
        return False
    tail = s[-_TAIL:]
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
    """Whole-line rules (everything except paragraph-level photo credits)."""
    if not s:
        return False
    if len(s) <= _NOTE_MAX and _PREFIX.match(s):
        return True
    if len(s) > _SHORT:
        return False
    return bool(_SHORT_PREFIX.match(s) or _is_social(s) or _is_tag_line(s) or _RIGHTS.search(s))


def is_boilerplate(line: str) -> bool:
    """True when a whole line or paragraph is boilerplate that must never become citable text."""
    s = _collapse(line) if len(line) <= _NOTE_MAX else line.strip()
    return _line_rule(s) or _ends_with_credit(s)


def _clean_source(name: str) -> str | None:
    name = _collapse(name).strip(" ,;:-–—\"'“”[]()*")
    if name.endswith(".") and not _ABBREV_END.search(name):
        name = name[:-1].rstrip()
    if not name or len(name) > 100 or not any(ch.isalpha() for ch in name):
        return None
    return name


def _source_from_note(s: str) -> str | None:
    match = _ORIGINALLY.search(s)
    if not match:
        return None
    src = match.group("src")
    cut = _ORIGINALLY_CUT.search(src)
    if cut:
        src = src[: cut.start()]
    return _clean_source(src)


def _source_from_copyright(s: str) -> str | None:
    head = _COPYRIGHT_HEAD.match(s)
    if not head:
        return None
    rest = s[head.end():]
    cut = _COPYRIGHT_CUT.search(rest)
    if cut:
        rest = rest[: cut.start()]
    else:
        # No marker: the owner is the first sentence, keeping abbreviations such as "Inc."
        for sentence_end in _SENTENCE_CUT.finditer(rest):
            if not _ABBREV_END.search(rest[: sentence_end.start() + 1]):
                rest = rest[: sentence_end.start() + 1]
                break
    return _clean_source(rest)


def source_from_line(line: str) -> tuple[str, str] | None:
    """(kind, outlet) named by a boilerplate line: kind is "note", "copyright" or "reprint"."""
    s = _collapse(line[:_NOTE_MAX])
    for kind, finder in (("note", _source_from_note), ("copyright", _source_from_copyright)):
        found = finder(s)
        if found:
            return kind, found
    match = _REPRINT_SOURCE.search(s)
    if match:
        found = _clean_source(match.group("src"))
        if found:
            return "reprint", found
    return None


def _caption_start(lines: list[str]) -> int | None:
    """Index of the first line of a trailing caption in a block of lines, if the block ends in one.

    A caption glued to a paragraph (one paragraph per line) starts on its own line; a
    hard-wrapped caption continues backwards over lines that end mid-sentence.
    """
    last = lines[-1].strip()
    if not _ends_with_credit(_collapse(last) if len(last) <= _CAPTION_MAX else last):
        joined = _collapse(" ".join(line.strip() for line in lines[-8:]))
        if len(lines) == 1 or not _ends_with_credit(joined):
            return None
    start = len(lines) - 1
    while start > 0 and not lines[start - 1].rstrip().endswith(tuple(_TERMINAL)):
        start -= 1
    return start


def clean_lines(lines: list[str]) -> tuple[list[str], list[str], dict[str, str]]:
    """Split paragraphs (or lines) into kept text, removed boilerplate and metadata found.

    Each item may hold several lines joined by "\\n". A boilerplate line inside an item is
    removed on its own and splits the item there, so every kept item is a contiguous
    (whitespace-trimmed) substring of an input item; a paragraph ending with a photo credit
    is removed whole. Metadata: {"source": ...} from "originally appeared on X" (wins) or a
    copyright / reprint line.
    """
    kept: list[str] = []
    removed: list[str] = []
    found: dict[str, str] = {}
    for item in lines:
        run: list[str] = []
        for line in item.split("\n"):
            if not line.strip():
                _flush(run, kept, removed)
                run = []
            elif _line_rule(_collapse(line) if len(line) <= _NOTE_MAX else line.strip()):
                _flush(run, kept, removed)
                run = []
                removed.append(line.strip())
                meta = source_from_line(line)
                if meta and meta[0] not in found:
                    found[meta[0]] = meta[1]
            else:
                run.append(line)
        _flush(run, kept, removed)
    metadata: dict[str, str] = {}
    for kind in ("note", "copyright", "reprint"):
        if kind in found:
            metadata["source"] = found[kind]
            break
    logger.debug("clean: kept %d, removed %d", len(kept), len(removed))
    return kept, removed, metadata


def _flush(run: list[str], kept: list[str], removed: list[str]) -> None:
    if not run:
        return
    start = _caption_start(run)
    if start is not None:
        body, caption = run[:start], run[start:]
        removed.append("\n".join(caption).strip())
        run = body
    if run:
        kept.append("\n".join(run).strip())
