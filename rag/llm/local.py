"""The local answer engine: the packaged GGUF model run in-process by xllamacpp."""
from __future__ import annotations

import logging
import queue
import secrets
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import EngineError
from core.settings import Settings
from rag.llm import prompt
from rag.llm.chat import ANSWER_STOP, ChatEngine, ContextOverflow, TopLogprobs
from rag.llm.model import load_server, packaged_model_path, report_load, short_message

log = logging.getLogger(__name__)


@dataclass
class _Model:
    """One loaded model: the xllamacpp server object and the lock serialising its use."""

    path: Path
    server: Any
    n_ctx: int
    load_seconds: float
    lock: threading.Lock = field(default_factory=threading.Lock)


_MODELS: dict[Path, _Model] = {}
_MODELS_LOCK = threading.Lock()


def _load_model(path: Path, settings: Settings) -> _Model:
    """Load `path` once per process; later calls (any settings) reuse the loaded model."""
    key = path.resolve()
    with _MODELS_LOCK:
        model = _MODELS.get(key)
        if model is not None:
            return model
        started = time.perf_counter()
        report_load("loading")
        try:
            # a random key: in-process calls need none, and nobody else may use the port
            server = load_server(key, n_ctx=settings.llm_ctx, threads=settings.llm_threads,
                                 api_key=secrets.token_urlsafe(32))
        finally:
            report_load(None)
        model = _Model(path=key, server=server, n_ctx=settings.llm_ctx,
                       load_seconds=time.perf_counter() - started)
        _MODELS[key] = model
        log.info("loaded %s in %.1f s (n_ctx=%d, threads=%d)", key.name, model.load_seconds,
                 settings.llm_ctx, settings.llm_threads)
        return model


class LocalEngine(ChatEngine):
    """Answers with the local model (the draft loop is `ChatEngine`'s).

    Nothing is loaded until the first call (or `load()`); the model is then shared by every
    `LocalEngine` in the process, and calls are served one at a time.
    """

    name = "local"
    subject = "the local model"
    # a raw stream through the local model (the llama-index baseline in eval/) stops where
    # an answer would: the baseline's reported figures were measured with these stops
    raw_stop = ANSWER_STOP

    # -- model -------------------------------------------------------------------------
    def model_path(self) -> Path:
        path = self.settings.llm_model_path
        if path is None:
            return packaged_model_path(self.settings.cache_dir)
        path = Path(path).expanduser()
        if not path.is_file():
            raise EngineError(f"local model file not found: {path}")
        return path

    def load(self) -> float:
        """Assemble (if needed) and load the model now; returns the load time in seconds."""
        return self._model().load_seconds

    def _model(self) -> _Model:
        return _load_model(self.model_path(), self.settings)

    # -- transport ---------------------------------------------------------------------
    def _context_size(self) -> int:
        return self._model().n_ctx

    def _stream(self, messages: list[prompt.Message], max_tokens: int, stop: list[str] | None,
                deadline: float, usage: dict[str, float]) -> Generator[str, None, None]:
        request: dict[str, Any] = {
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": 0.0,
            "top_k": 1,
            "seed": 0,
            "stream": True,
            "cache_prompt": True,
            "stream_options": {"include_usage": True},
        }
        if stop is not None:
            request["stop"] = stop
        timings: dict[str, Any] = {}
        events = self._run(self._model(), request, deadline)
        try:
            for kind, value in events:
                if kind == "timings":
                    timings = value
                elif kind == "text":
                    yield value
        finally:
            events.close()  # stops the worker if we leave early
            usage.update(_usage(timings))

    def _first_token(self, messages: list[prompt.Message],
                     deadline: float) -> tuple[TopLogprobs, dict[str, float]]:
        request = {
            "messages": messages,
            "max_tokens": 1,
            "temperature": 0.0,
            "stream": True,
            "cache_prompt": True,
            "logprobs": True,
            "top_logprobs": 5,
        }
        top: TopLogprobs = []
        timings: dict[str, Any] = {}
        for kind, value in self._run(self._model(), request, deadline):
            if kind == "logprobs" and not top:
                top = value
            elif kind == "timings":
                timings = value
        usage = _usage(timings)
        return top, {"prompt_tokens": usage["prompt_tokens"],
                     "new_prompt_tokens": usage["prompt_tokens"] - usage["cached_tokens"]}

    def _run(self, model: _Model, request: dict[str, Any],
             deadline: float) -> Generator[tuple[str, Any], None, None]:
        """Run one streamed request in a worker thread; yield its events as they arrive.

        Events: ("text", str), ("logprobs", [(token, logprob), ...]) for the first token,
        ("timings", dict). The worker owns the model lock; this generator only waits on a
        queue, so a timeout or an abandoned iteration returns at once and the worker stops
        at its next token.
        """
        events: queue.Queue[tuple[str, Any]] = queue.Queue()
        cancel = threading.Event()
        timeout = self.settings.llm_timeout

        def on_chunk(chunk: dict[str, Any]) -> bool:
            if cancel.is_set():
                return True  # tells xllamacpp to stop generating
            if "error" in chunk:
                events.put(("error", chunk["error"]))
                return True
            for choice in chunk.get("choices") or ():
                text = (choice.get("delta") or {}).get("content")
                if text:
                    events.put(("text", text))
                content = (choice.get("logprobs") or {}).get("content") or ()
                if content:
                    events.put(("logprobs", [(t.get("token", ""), float(t.get("logprob", 0.0)))
                                             for t in content[0].get("top_logprobs") or ()]))
            if chunk.get("timings"):
                events.put(("timings", chunk["timings"]))
            return cancel.is_set()

        def work() -> None:
            try:
                if not model.lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
                    return  # the caller has timed out already
                try:
                    if not cancel.is_set():
                        model.server.handle_chat_completions(request, on_chunk)
                finally:
                    model.lock.release()
            except Exception as exc:  # noqa: BLE001 - reported to the caller as EngineError
                events.put(("exception", short_message(exc)))
            finally:
                events.put(("end", None))

        worker = threading.Thread(target=work, name="newscite-local-llm", daemon=True)
        worker.start()
        try:
            while True:
                try:
                    kind, value = events.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    raise EngineError(f"local model timed out after {timeout:g} s") from None
                if kind == "end":
                    return
                if kind == "error":
                    err = value if isinstance(value, dict) else {"message": str(value)}
                    message = str(err.get("message") or "unknown error")
                    if err.get("type") == "exceed_context_size_error" or (
                            "context" in message.lower() and "exceed" in message.lower()):
                        raise ContextOverflow()
                    raise EngineError("local model failed: " + message[:200])
                if kind == "exception":
                    raise EngineError(f"local model failed: {value}")
                yield kind, value
        finally:
            cancel.set()


def _usage(timings: dict[str, Any]) -> dict[str, float]:
    """Token counts from llama.cpp's timings record (prompt_n counts only uncached tokens)."""
    cached = float(timings.get("cache_n", 0))
    return {"prompt_tokens": float(timings.get("prompt_n", 0)) + cached,
            "cached_tokens": cached,
            "generated_tokens": float(timings.get("predicted_n", 0))}
