"""Frozen records passed between the stages: ingest (Article, Chunk, reports) and query (Hit, Answer)."""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

# a progress callback of ingest, import and rebuild: (chunks done, chunks total)
Progress = Callable[[int, int], None]
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
    """A sentence-aligned span of an article: `article.text[start:end] == text`.

    The ingest side's record: the chunker makes it from an `Article` before anything is stored,
    and the stores and `index.verify` check against it. It has no scores and no article
    metadata (title, outlet, date, URL), which the manifest holds once per article; everything
    retrieved from the index is a `Hit`, the passage with that metadata and its scores.
    """

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


# --- the query side ------------------------------------------------------------------------
REFUSAL = "The articles do not contain the answer to this question."


def iso_date(value: str | None, name: str = "date") -> str | None:
    """`value` as an ISO date (YYYY-MM-DD), None when empty; InputError for anything else
    ("yesterday", "01/03/2020"). The one date parser of the CLI, the Python API, REST and the
    web chat."""
    import datetime

    from core.errors import InputError

    text = (value or "").strip() if isinstance(value, str) or value is None else str(value)
    if not text:
        return None
    try:
        return datetime.date.fromisoformat(text).isoformat()
    except ValueError:
        raise InputError(f"{name} must be a date like 2020-02-28, not {text[:40]!r}") from None


@dataclass(frozen=True)
class Filters:
    """Restrict retrieval to some outlets, a published-date range or some articles."""

    sources: tuple[str, ...] = ()
    date_from: str | None = None  # ISO date, inclusive
    date_to: str | None = None  # ISO date, inclusive
    article_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("date_from", "date_to"):
            object.__setattr__(self, name, iso_date(getattr(self, name), name))
        if self.date_from and self.date_to and self.date_from > self.date_to:
            from core.errors import InputError
            raise InputError("date_from is after date_to")

    def is_empty(self) -> bool:
        return not (self.sources or self.date_from or self.date_to or self.article_ids)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "Filters":
        if not data:
            return cls()
        return cls(
            sources=tuple(data.get("sources") or ()),
            date_from=data.get("date_from") or None,
            date_to=data.get("date_to") or None,
            article_ids=tuple(data.get("article_ids") or ()),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "sources": list(self.sources),
            "date_from": self.date_from,
            "date_to": self.date_to,
            "article_ids": list(self.article_ids),
        }


def with_as_of(filters: Filters | None, as_of: str | None) -> Filters | None:
    """`filters` with nothing published after `as_of` (an ISO date: the question's "now");
    an earlier date_to the caller set stays."""
    as_of = iso_date(as_of, "as_of")
    if not as_of:
        return filters
    import dataclasses

    base = filters or Filters()
    if base.date_to and base.date_to <= as_of:
        return base
    return dataclasses.replace(base, date_to=as_of)


@dataclass(frozen=True)
class Hit:
    """A passage (one chunk) with its article's metadata and scores: the one record of a
    passage from the manifest to the answer (retrieval, engines, citations, `Answer.passages`).

    Read from the manifest it is unscored (`score` 0, no `scores`); each retrieval stage makes
    a `rescored` copy ("dense", "rrf", the reranker's parts in `scores`).
    """

    chunk_id: str
    article_id: str
    title: str
    text: str
    start: int
    end: int
    score: float
    source: str | None = None
    published: str | None = None
    url: str | None = None
    position: int = 0
    # other outlets carrying a near-identical passage ("reported by N outlets")
    also_in: tuple[str, ...] = ()
    scores: dict[str, float] = field(default_factory=dict)

    def rescored(self, score: float, scores: dict[str, float]) -> Hit:
        """A copy with a new score and score breakdown, made without `dataclasses.replace`
        (which sends every field back through `__init__`, several times the cost of this
        copy, and retrieval makes two per candidate)."""
        copy = object.__new__(type(self))
        copy.__dict__.update(self.__dict__, score=score, scores=scores)
        return copy


@dataclass(frozen=True)
class Citation:
    """One numbered citation: an exact span `article.text[start:end] == quote`."""

    number: int
    article_id: str
    title: str
    chunk_id: str
    quote: str
    start: int
    end: int
    source: str | None = None
    published: str | None = None
    url: str | None = None
    score: float = 0.0  # support score from the checker (1.0 = verbatim)


@dataclass(frozen=True)
class Sentence:
    """One answer sentence, its span in `Answer.text`, its citation numbers and support."""

    text: str
    start: int
    end: int
    citations: tuple[int, ...]
    supported: bool = True
    # "supported" | "partial" | "unsupported" (rag.support.verify); "" when not checked
    state: str = ""
    # for a "partial" sentence: its names, numbers and words the cited passage does not state
    unsupported: tuple[str, ...] = ()


@dataclass(frozen=True)
class Claim:
    """One value a question's passages state, and the outlets that state it (a per-claim
    agreement line: "33: Levant Ledger, Northern Dispatch"); syndicated copies count once."""

    value: str
    outlets: tuple[str, ...]
    citations: tuple[int, ...]  # numbers of `Answer.citations`
    first_published: str | None = None  # ISO date of the earliest article stating it
    last_published: str | None = None
    also_in: tuple[str, ...] = ()  # outlets carrying a near-identical copy (not counted)

    def line(self) -> str:
        """ "33: Levant Ledger, Northern Dispatch (also in 1 outlet) [2][3]" """
        extra = (f" (also in {len(self.also_in)} outlet{'s' if len(self.also_in) != 1 else ''})"
                 if self.also_in else "")
        marks = "".join(f"[{n}]" for n in self.citations)
        return f"{self.value}: {', '.join(self.outlets)}{extra} {marks}".rstrip()


@dataclass(frozen=True)
class Answer:
    """What every entry point (Python, REST, web chat, harness) gets for a question."""

    question: str
    text: str
    citations: tuple[Citation, ...] = ()
    passages: tuple[Hit, ...] = ()
    refused: bool = False
    standalone_question: str = ""
    engine: str = "extractive"
    sentences: tuple[Sentence, ...] = ()
    notices: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    # the extractive answer shown at once while a generating engine writes (or kept instead)
    quick: bool = False
    # what each outlet says: the values the passages give, grouped by outlet (rag.desk)
    outlets: tuple[Claim, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["timings"] = {k: round(v, 4) for k, v in self.timings.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Answer":
        return cls(
            question=data["question"],
            text=data["text"],
            citations=tuple(Citation(**c) for c in data.get("citations", ())),
            passages=tuple(
                Hit(**{**p, "also_in": tuple(p.get("also_in", ()))})
                for p in data.get("passages", ())
            ),
            refused=bool(data.get("refused", False)),
            standalone_question=data.get("standalone_question", ""),
            engine=data.get("engine", "extractive"),
            sentences=tuple(
                Sentence(**{**s, "citations": tuple(s["citations"]),
                            "unsupported": tuple(s.get("unsupported", ()))})
                for s in data.get("sentences", ())
            ),
            notices=tuple(data.get("notices", ())),
            timings=dict(data.get("timings", {})),
            quick=bool(data.get("quick", False)),
            outlets=tuple(
                Claim(**{**c, "outlets": tuple(c["outlets"]),
                         "citations": tuple(c["citations"]),
                         "also_in": tuple(c.get("also_in", ()))})
                for c in data.get("outlets", ())
            ),
        )
