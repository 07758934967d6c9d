"""The answer-engine protocol: turn a question and numbered passages into cited draft text."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from core.records import Hit


class Engine(Protocol):
    """An answer engine.

    `draft` yields pieces of answer text as they are produced. Citation markers `[n]` refer
    to `hits[n-1]` (1-based, in the order given). The text is checked afterwards by
    `rag.cite`, which verifies every citation against its passage, so an engine does not
    need to be trusted. An engine that cannot answer yields exactly `core.records.REFUSAL`.
    Engines raise `core.errors.EngineError` when they fail (model missing, server down,
    timeout, garbled output).
    """

    name: str

    def draft(self, question: str, hits: Sequence[Hit]) -> Iterator[str]: ...


class Condenser(Protocol):
    """Rewrites a follow-up question into a standalone one, given earlier (question, answer) turns."""

    def condense(self, question: str, history: Sequence[tuple[str, str]]) -> str: ...
