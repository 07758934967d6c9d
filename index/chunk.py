"""Sentence splitting with exact offsets, and sentence-aligned chunking with overlap."""
from __future__ import annotations

import hashlib
from collections.abc import Iterator

from core.records import Article, Chunk
from core.text import sentence_spans, trimmed_span


def _split_long(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """Split an over-long sentence on whitespace (or hard, for runs without spaces)."""
    pieces: list[tuple[int, int]] = []
    cursor = start
    while end - cursor > limit:
        cut = text.rfind(" ", cursor + 1, cursor + limit + 1)
        if cut <= cursor:
            cut = cursor + limit
        span = trimmed_span(text, cursor, cut)
        if span:
            pieces.append(span)
        cursor = cut
    span = trimmed_span(text, cursor, end)
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
