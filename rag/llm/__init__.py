"""LLM answer engines: the packaged local model (xllamacpp) and OpenAI-compatible servers."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rag.llm.model import is_local_available, packaged_model_path

if TYPE_CHECKING:
    from rag.llm.llamaindex import EngineLLM
    from rag.llm.local import LocalEngine
    from rag.llm.openai import OpenAIEngine

__all__ = ["EngineLLM", "LocalEngine", "OpenAIEngine", "is_local_available",
           "packaged_model_path"]

# the engine modules are light too (xllamacpp and httpx load on first use), but
# llamaindex.py imports llama-index; keep every import of `rag.llm` cheap
_LAZY = {
    "LocalEngine": "rag.llm.local",
    "OpenAIEngine": "rag.llm.openai",
    "EngineLLM": "rag.llm.llamaindex",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rag.llm' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
