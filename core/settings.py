"""One frozen Settings record; the environment and TOML files are read only by `load_settings`."""
from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ConfigError

ENGINES = ("auto", "extractive", "local", "openai")
ENV_PREFIX = "NEWSCITE_"


@dataclass(frozen=True)
class Settings:
    """Everything that can be configured; validated on creation."""

    data_dir: Path = Path(".newscite")
    chroma_url: str | None = None  # e.g. http://127.0.0.1:8000; None = embedded Chroma in data_dir
    collection: str = "newscite"
    # chunking (characters of article text; overlap in whole sentences)
    chunk_chars: int = 700
    chunk_overlap: int = 1
    # passages indexed per article at most: a longer one is cut there, with a warning (a news
    # article is a few dozen passages; a multi-megabyte "article" is a dump or an accident)
    max_article_chunks: int = 1000
    embed_batch_size: int = 8  # index.embed.EMBED_BATCH (measured there)
    onnx_queries: bool = True  # embed questions with ONNX Runtime (False: PyTorch)
    onnx_ingest: bool = True  # embed chunks at ingest with ONNX Runtime (False: PyTorch)
    # retrieval
    top_k: int = 6
    candidates: int = 30
    dense_weight: float = 1.0
    keyword_weight: float = 1.0
    rrf_k: int = 60
    rerank: bool = True
    collapse_duplicates: bool = True
    # answering
    engine: str = "auto"
    max_question_chars: int = 2000
    unsupported: str = "mark"  # "mark" or "remove" unsupported answer sentences
    # with a generating engine, show the extractive answer (verbatim quotes, ~0.1 s) at once as
    # a quick answer; it stays when the generated answer keeps no verified sentence or the
    # engine fails, and also when the model refuses if keep_quick_on_refusal (off: on news
    # weeks it cost 0.06 of correct refusals for 0.04 more answers, eval/reports/realtimeqa-dev)
    quick_answer: bool = True
    keep_quick_on_refusal: bool = False
    misnumbered: str = "repair"  # "repair": a sentence whose citations all fail may cite the
    # retrieved passage that does support it; "drop": it is unsupported
    # local LLM
    llm_model_path: Path | None = None  # None = the packaged Qwen2.5-Coder-1.5B GGUF
    llm_threads: int = 2
    llm_ctx: int = 4096
    llm_max_tokens: int = 200
    llm_timeout: float = 120.0
    evidence_tokens: int = 250  # chosen by measurement (docs/engines.md, "Local LLM")
    llm_precheck: bool = True  # a one-token "do the passages answer this?" check first
    llm_refuse_below: float = 0.3  # refuse when log P(yes) - log P(no) is below this (calibrated)
    # OpenAI-compatible server
    openai_base_url: str | None = None
    openai_model: str = "local"
    openai_api_key_env: str = "OPENAI_API_KEY"
    # fetching web pages and feeds (index/fetch.py): seconds per page, bytes kept per page,
    # redirects followed, seconds between two requests to one host; private, loopback and
    # link-local addresses are refused unless fetch_allow_private
    fetch_timeout: float = 20.0
    fetch_max_bytes: int = 5_000_000
    fetch_max_redirects: int = 5
    fetch_host_delay: float = 1.0
    fetch_allow_private: bool = False
    cache_dir: Path = field(default_factory=lambda: Path.home() / ".cache" / "newscite")

    def __post_init__(self) -> None:
        for name in ("data_dir", "cache_dir", "llm_model_path"):  # accept str paths too
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, Path(value).expanduser())
        if self.engine not in ENGINES:
            raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, not {self.engine!r}")
        if self.unsupported not in ("mark", "remove"):
            raise ConfigError("unsupported must be 'mark' or 'remove'")
        if self.misnumbered not in ("repair", "drop"):
            raise ConfigError("misnumbered must be 'repair' or 'drop'")
        positive = ("chunk_chars", "max_article_chunks", "embed_batch_size", "top_k", "candidates", "rrf_k",
                    "max_question_chars", "llm_threads", "llm_ctx", "llm_max_tokens",
                    "evidence_tokens")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        if self.chunk_chars < 100:
            raise ConfigError("chunk_chars must be at least 100")
        if self.chunk_overlap < 0 or self.chunk_overlap > 5:
            raise ConfigError("chunk_overlap must be between 0 and 5 sentences")
        if self.candidates < self.top_k:
            raise ConfigError("candidates must be at least top_k")
        if self.fetch_timeout <= 0 or self.fetch_max_bytes <= 0:
            raise ConfigError("fetch_timeout and fetch_max_bytes must be positive")
        if self.fetch_max_redirects < 0 or self.fetch_host_delay < 0:
            raise ConfigError("fetch_max_redirects and fetch_host_delay cannot be negative")
        if self.llm_timeout <= 0:
            raise ConfigError("llm_timeout must be positive")
        if self.chroma_url is not None and not self.chroma_url.startswith(("http://", "https://")):
            raise ConfigError(f"chroma_url must start with http:// or https://: {self.chroma_url!r}")
        if self.openai_base_url is not None and not self.openai_base_url.startswith(
            ("http://", "https://")
        ):
            raise ConfigError("openai_base_url must start with http:// or https://")

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **changes)


def _coerce(name: str, raw: Any) -> Any:
    """Turn a TOML or environment value into the field's type."""
    kind = {f.name: f.type for f in dataclasses.fields(Settings)}[name]
    if raw is None or raw == "":
        return None if "None" in str(kind) else raw
    kind = str(kind)
    try:
        if "Path" in kind:
            return Path(str(raw)).expanduser()
        if kind == "bool":
            return raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes", "on")
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {name}: cannot read {raw!r} as {kind}") from exc
    return str(raw)


def load_settings(config: Path | None = None, env: dict[str, str] | None = None,
                  **overrides: Any) -> Settings:
    """Settings from defaults < TOML file < NEWSCITE_* environment < explicit overrides."""
    env = dict(os.environ if env is None else env)
    names = {f.name for f in dataclasses.fields(Settings)}
    values: dict[str, Any] = {}
    config = config or (Path(env[ENV_PREFIX + "CONFIG"]) if env.get(ENV_PREFIX + "CONFIG") else None)
    if config is not None:
        try:
            data = tomllib.loads(Path(config).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"config file not found: {config}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {config} is not valid TOML: {exc}") from exc
        data = data.get("newscite", data)
        unknown = set(data) - names
        if unknown:
            raise ConfigError(f"unknown settings in {config}: {', '.join(sorted(unknown))}")
        values.update({k: _coerce(k, v) for k, v in data.items()})
    for name in names:
        key = ENV_PREFIX + name.upper()
        if key in env:
            values[name] = _coerce(name, env[key])
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)
