"""Sentence splitting with exact offsets, and sentence-aligned chunking with overlap."""
from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

from index.models import Article, Chunk

# A sentence ends at . ! ? (optionally followed by closing quotes/brackets) before whitespace
# and a capital letter, digit or opening quote; line breaks always end a sentence.
_END = re.compile(r"[.!?][\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])")
_PARA = re.compile(r"\s*\n\s*")
_ABBREV = {
    "mr", "mrs", "ms", "dr", "st", "gen", "lt", "col", "sgt", "capt", "maj", "adm", "gov",
    "sen", "rep", "prof", "jr", "sr", "no", "vs", "etc", "inc", "ltd", "co", "corp", "jan",
    "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s",
    "u.k", "u.n", "e.g", "i.e", "mt", "ft", "approx", "dept", "est", "fig",
}


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the period at `dot` closes an abbreviation or an initial, not a sentence."""
    if text[dot] != ".":
        return False
    start = dot
    while start > 0 and (text[start - 1].isalpha() or text[start - 1] == "."):
        start -= 1
    word = text[start:dot].lower()
    if word in _ABBREV:
        return True
    # single-letter initials ("Mark T. Esper") and dotted acronyms ("U.S.")
    return len(word) == 1 and text[start:dot].isupper() or "." in word and len(word) <= 5


def _trimmed(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Offsets (start, end) of the sentences of text[start:end], whitespace trimmed."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    para_start = start
    for para in [*_PARA.finditer(text, start, end), None]:
        para_end = para.start() if para else end
        cursor = para_start
        for match in _END.finditer(text, para_start, para_end):
            if _is_abbreviation(text, match.start()):
                continue
            span = _trimmed(text, cursor, match.end())
            if span:
                spans.append(span)
            cursor = match.end()
        span = _trimmed(text, cursor, para_end)
        if span:
            spans.append(span)
        if para:
            para_start = para.end()
    return spans


def _split_long(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """Split an over-long sentence on whitespace (or hard, for runs without spaces)."""
    pieces: list[tuple[int, int]] = []
    cursor = start
    while end - cursor > limit:
        cut = text.rfind(" ", cursor + 1, cursor + limit + 1)
        if cut <= cursor:
            cut = cursor + limit
        span = _trimmed(text, cursor, cut)
        if span:
            pieces.append(span)
        cursor = cut
    span = _trimmed(text, cursor, end)
    if span:
        pieces.append(span)
    return pieces


def chunk_id(article_id: str, start: int, end: int) -> str:
    """Deterministic chunk id: the article's id plus a short hash of the span."""
    digest = hashlib.sha256(f"{article_id}:{start}:{end}".encode()).hexdigest()[:8]
    return f"{article_id}-{digest}"


def chunk_spans(text: str, max_chars: int, overlap: int) -> list[tuple[int, int]]:
    """Group sentences into spans of at most max_chars, repeating `overlap` sentences."""
    units: list[tuple[int, int]] = []
    for s, e in sentence_spans(text):
        units.extend(_split_long(text, s, e, max_chars) if e - s > max_chars else [(s, e)])
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(units):
        j = i + 1
        while j < len(units) and units[j][1] - units[i][0] <= max_chars:
            j += 1
        spans.append((units[i][0], units[j - 1][1]))
        if j >= len(units):
            break
        # step forward, keeping `overlap` sentences, but always make progress
        i = max(i + 1, j - overlap)
    return spans


def chunk_article(article: Article, max_chars: int = 700, overlap: int = 1) -> list[Chunk]:
    """Chunks of an article with exact offsets: article.text[c.start:c.end] == c.text."""
    return [
        Chunk(
            id=chunk_id(article.id, s, e),
            article_id=article.id,
            position=n,
            start=s,
            end=e,
            text=article.text[s:e],
        )
        for n, (s, e) in enumerate(chunk_spans(article.text, max_chars, overlap))
    ]


def iter_sentences(text: str, start: int, end: int) -> Iterator[tuple[int, int, str]]:
    """(start, end, sentence) for the sentences of text[start:end]."""
    for s, e in sentence_spans(text, start, end):
        yield s, e, text[s:e]


def embed_text(title: str, text: str) -> str:
    """What the embedding model and keyword index see: the title gives context; the cited text
    stays the article's own."""
    return f"{title}\n{text}"
