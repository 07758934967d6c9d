"""Build the system under test for a configuration: newscite, or the stock LlamaIndex baseline."""
from __future__ import annotations

from pathlib import Path

from eval.baseline import StockLlamaIndex
from eval.systems import Config, NewsciteSystem, System, llm_available
from index.embed import Embedder


def make_system(config: Config, data_dir: Path, embedder: Embedder,
                use_llm: bool = True) -> System:
    """Build the system for a config. The baseline falls back to its retriever alone when the
    local LLM is missing or `use_llm` is off; a newscite LLM config then raises ValueError."""
    if config.kind == "llamaindex":
        with_llm = config.needs_llm and use_llm and llm_available()
        system = StockLlamaIndex(config, data_dir, embedder, with_llm=with_llm)
        if config.needs_llm and not with_llm:
            system.notes.append("local LLM not available: retrieval metrics only")
        return system
    if config.needs_llm and not (use_llm and llm_available()):
        raise ValueError(f"config {config.name!r} needs the local LLM, which is not available "
                         "(pip install 'newscite[local]')")
    return NewsciteSystem(config, data_dir, embedder)
