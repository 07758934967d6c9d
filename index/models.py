"""Frozen records passed between the ingestion stages."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

ID_CHARS = 16  # an article id is the first ID_CHARS hex digits of its content hash


def content_hash(title: str, text: str) -> str:
    """sha256 of an article's title and text: its identity (the same text is stored once)."""
    return hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()


@dataclass(frozen=True)
class Article:
    """One cleaned news article; `text` is the citable body, offsets point into it."""

    id: str
    title: str
    text: str
    path: str
    key: str
    source: str | None = None
    url: str | None = None
    published: str | None = None  # ISO date (YYYY-MM-DD) when known
    content_hash: str = ""
    boilerplate: tuple[str, ...] = ()  # removed lines, kept as metadata, never cited


@dataclass(frozen=True)
class Chunk:
    """A sentence-aligned span of an article: `article.text[start:end] == text`."""

    id: str
    article_id: str
    position: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Skipped:
    """A file (or record) that was not ingested, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class IngestReport:
    """What one ingest did."""

    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    warnings: tuple[str, ...] = ()
    chunks_embedded: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged, {len(self.removed)} removed, "
            f"{len(self.skipped)} skipped; {self.chunks_embedded} chunks embedded "
            f"in {self.seconds:.1f}s"
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "added": list(self.added),
            "updated": list(self.updated),
            "unchanged": list(self.unchanged),
            "removed": list(self.removed),
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "warnings": list(self.warnings),
            "chunks_embedded": self.chunks_embedded,
            "seconds": round(self.seconds, 3),
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }
