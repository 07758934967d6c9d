"""The configurations the harness compares, and a common face for newscite and the baseline."""
from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from core.records import Citation, Hit
from eval.citations import CitedSentence, from_answer
from index.embed import Embedder

logger = logging.getLogger(__name__)

History = list[tuple[str, str]]


@dataclass(frozen=True)
class Config:
    """A named system under test: newscite with Settings overrides, or the stock baseline."""

    name: str
    kind: str  # "newscite" | "llamaindex"
    description: str
    engine: str = "extractive"
    overrides: Mapping[str, Any] = field(default_factory=dict)
    needs_llm: bool = False
    answers: bool = True  # False: retrieval metrics only
    hand_scorer: bool = False  # extractive with the hand-weighted sentence selection


CONFIGS: dict[str, Config] = {c.name: c for c in (
    Config("extractive", "newscite", "newscite, extractive engine (no LLM)"),
    Config("extractive-hand", "newscite", "newscite, extractive engine with the hand-weighted "
           "sentence selection (no learned scorer)", hand_scorer=True),
    Config("local", "newscite", "newscite, packaged local LLM", engine="local", needs_llm=True),
    Config("local-no-quick", "newscite", "newscite, packaged local LLM without the quick "
           "answer (a refused or unverified generated answer stays refused)", engine="local",
           overrides={"quick_answer": False}, needs_llm=True),
    Config("dense-only", "newscite", "newscite, extractive; dense retrieval only (no BM25, "
           "no rerank)", overrides={"keyword_weight": 0.0, "rerank": False}),
    Config("no-rerank", "newscite", "newscite, extractive; hybrid retrieval without rerank",
           overrides={"rerank": False}),
    Config("stock-llamaindex", "llamaindex", "stock LlamaIndex: SentenceSplitter, Chroma, "
           "CitationQueryEngine top-5, local LLM", engine="local", needs_llm=True),
    Config("stock-llamaindex-retriever", "llamaindex", "stock LlamaIndex retriever only "
           "(SentenceSplitter, Chroma, MiniLM)", engine="none", answers=False),
)}
DEFAULT_CONFIGS = ("extractive", "stock-llamaindex-retriever")


def get_config(name: str) -> Config:
    try:
        return CONFIGS[name]
    except KeyError:
        raise ValueError(f"unknown config {name!r}; choose from {', '.join(CONFIGS)}") from None


def llm_available() -> bool:
    try:
        from rag.llm import is_local_available  # type: ignore[attr-defined]
    except ImportError:
        try:
            from rag.llm.model import is_local_available
        except ImportError:
            return False
    try:
        return bool(is_local_available())
    except Exception:  # a half-installed engine is "not available", not a crash
        logger.exception("checking the local LLM failed")
        return False


@dataclass(frozen=True)
class Reply:
    """A system's answer to one question, in the shape the metrics need."""

    text: str
    refused: bool
    sentences: tuple[CitedSentence, ...]
    citations: tuple[Citation, ...]
    standalone: str
    engine: str
    timings: dict[str, float]
    notices: tuple[str, ...] = ()
    quick: bool = False  # the final answer is the quick (extractive) one, kept


class System(Protocol):
    """What the runner drives: ingest once, then answer and retrieve per question."""

    config: Config
    answers: bool
    notes: list[str]

    def ingest(self, paths: Sequence[Path]) -> float: ...

    def reply(self, question: str, history: History) -> Reply | None: ...

    def retrieve(self, question: str, k: int) -> list[Hit]: ...

    def close(self) -> None: ...


class NewsciteSystem:
    """The project's own pipeline through its public API (`rag.Assistant`)."""

    def __init__(self, config: Config, data_dir: Path, embedder: Embedder) -> None:
        from core.settings import Settings
        from rag.assistant import Assistant

        self.config = config
        self.answers = config.answers
        self.notes: list[str] = []
        settings = Settings(data_dir=data_dir, engine=config.engine, **dict(config.overrides))
        self.assistant = Assistant(settings, embedder=embedder)
        if config.hand_scorer:
            from rag.extractive import ExtractiveEngine

            self.assistant._engines["extractive"] = ExtractiveEngine()
        self.last_answer: Any = None

    def ingest(self, paths: Sequence[Path]) -> float:
        started = time.perf_counter()
        report = self.assistant.ingest(list(paths))
        if report.skipped:
            logger.warning("ingest skipped %d files: %s", len(report.skipped),
                           "; ".join(f"{s.path}: {s.reason}" for s in report.skipped[:5]))
        return time.perf_counter() - started

    def reply(self, question: str, history: History, as_of: str | None = None) -> Reply:
        answer = self.assistant.ask(question, history=history or None, as_of=as_of)
        self.last_answer = answer  # the full Answer (passages too), for miss diagnosis
        return Reply(text=answer.text, refused=answer.refused,
                     sentences=tuple(from_answer(answer)), citations=answer.citations,
                     standalone=answer.standalone_question or question, engine=answer.engine,
                     timings=dict(answer.timings), notices=answer.notices, quick=answer.quick)

    def retrieve(self, question: str, k: int, as_of: str | None = None) -> list[Hit]:
        from core.records import with_as_of

        return self.assistant.retrieve(question, with_as_of(None, as_of), k=k)

    def close(self) -> None:
        self.assistant.close()
