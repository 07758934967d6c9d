"""newscite: answer questions about news articles with citations to the exact passages."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.errors import (
    ConfigError,
    EngineError,
    IndexLockedError,
    InputError,
    ModelMismatchError,
    RagError,
    StoreError,
)
from core.records import REFUSAL, Answer, Citation, Filters, Hit, Sentence
from core.settings import Settings, load_settings

if TYPE_CHECKING:
    from core.records import IngestReport
    from rag.assistant import Assistant, StreamEvent
    from rag.support import Support, verify

__all__ = [
    "Answer", "Assistant", "Citation", "ConfigError", "EngineError", "Filters", "Hit",
    "IndexLockedError", "IngestReport", "InputError", "ModelMismatchError", "REFUSAL",
    "RagError", "Sentence", "Settings", "StoreError", "StreamEvent", "Support", "load_settings",
    "verify",
]


def __getattr__(name: str) -> Any:
    # heavy parts (torch, chromadb, llama-index) load only when first used
    if name in ("Assistant", "StreamEvent"):
        from rag import assistant
        return getattr(assistant, name)
    if name in ("Support", "verify"):  # numpy loads on first use
        from rag import support
        return getattr(support, name)
    if name == "IngestReport":
        from core.records import IngestReport
        return IngestReport
    raise AttributeError(name)
