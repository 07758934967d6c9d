"""The answer-engine protocols: turn a question and numbered passages into cited draft text."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

from core.records import Hit


class Engine(Protocol):
    """An answer engine.

    `draft` yields pieces of answer text as they are produced. Citation markers `[n]` refer
    to `hits[n-1]` (1-based, in the order given). The text is checked afterwards by
    `rag.cite`, which verifies every citation against its passage, so an engine does not
    need to be trusted. An engine that cannot answer yields exactly `core.records.REFUSAL`.
    Engines raise `core.errors.EngineError` when they fail (model missing, server down,
    timeout, garbled output).

    Optional abilities are protocols of their own, checked with `isinstance`: an engine that
    can rewrite follow-up questions is also a `Condenser`, one with something heavy to load
    ahead of the first question (a model) is also `Loadable`.
    """

    name: str

    def draft(self, question: str, hits: Sequence[Hit]) -> Iterator[str]: ...


@runtime_checkable
class Condenser(Protocol):
    """Rewrites a follow-up question into a standalone one, given earlier (question, answer) turns."""

    def condense(self, question: str, history: Sequence[tuple[str, str]]) -> str: ...


@runtime_checkable
class Loadable(Protocol):
    """Loads what it needs now (a model), rather than on its first question."""

    def load(self) -> object: ...
