"""The outlet named in boilerplate: "originally appeared on X", copyright and reprint lines."""
from __future__ import annotations

import re

from index.formats import SCAN_CHARS, collapse_space

__all__ = ["source_from_line"]

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


def _clean_source(name: str) -> str | None:
    name = collapse_space(name).strip(" ,;:-–—\"'“”[]()*")
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
    s = collapse_space(line[:SCAN_CHARS])  # a note or footer is short
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
