"""The local answer engine: the packaged GGUF model run in-process by xllamacpp."""
from __future__ import annotations

import logging
import queue
import secrets
import threading
import time
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import EngineError
from core.records import REFUSAL, Hit
from core.settings import Settings
from rag.llm import output, prompt
from rag.llm.model import INSTALL_HINT, packaged_model_path

log = logging.getLogger(__name__)

# the smallest evidence budget tried when a prompt has to be trimmed to fit n_ctx
_MIN_EVIDENCE_TOKENS = 120
_STOP = ["\n\n", "<passage", "</passage", "Question:"]
_CONDENSE_MAX_TOKENS = 64


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


class _ContextOverflow(Exception):
    pass


def _short(exc: BaseException) -> str:
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return text[:200]


def _load_model(path: Path, settings: Settings) -> _Model:
    """Load `path` once per process; later calls (any settings) reuse the loaded model."""
    key = path.resolve()
    with _MODELS_LOCK:
        model = _MODELS.get(key)
        if model is not None:
            return model
        try:
            import xllamacpp
        except ImportError as exc:
            raise EngineError(INSTALL_HINT) from exc
        started = time.perf_counter()
        params = xllamacpp.CommonParams()
        params.model.path = str(key)
        params.n_ctx = settings.llm_ctx
        params.n_parallel = 1
        params.cpuparams.n_threads = settings.llm_threads
        params.cpuparams_batch.n_threads = settings.llm_threads
        params.cache_prompt = True  # reuse the KV cache of the common prompt prefix
        params.n_cache_reuse = 256  # and of shifted chunks (same passages, new question)
        params.verbosity = 0
        # The server always listens on a loopback port; a random API key keeps other local
        # users off it. In-process calls do not go through HTTP, so they need no key.
        params.api_keys = [secrets.token_urlsafe(32)]
        try:
            server = xllamacpp.Server(params)
        except Exception as exc:  # noqa: BLE001 - any load failure is an engine failure
            raise EngineError(f"cannot load the local model {key.name}: {_short(exc)}") from None
        model = _Model(path=key, server=server, n_ctx=settings.llm_ctx,
                       load_seconds=time.perf_counter() - started)
        _MODELS[key] = model
        log.info("loaded %s in %.1f s (n_ctx=%d, threads=%d)", key.name, model.load_seconds,
                 settings.llm_ctx, settings.llm_threads)
        return model


class LocalEngine:
    """Answers with the local model; implements the `Engine` and `Condenser` protocols.

    Nothing is loaded until the first call (or `load()`); the model is then shared by every
    `LocalEngine` in the process, and calls are served one at a time. With `precheck`
    (default), a one-token "do the passages state the answer?" request on the same cached
    prompt runs first; if log P(yes) - log P(no) < `refuse_below`, the engine refuses
    without generating an answer.
    """

    name = "local"

    def __init__(self, settings: Settings, *, precheck: bool = True,
                 refuse_below: float = prompt.REFUSE_BELOW) -> None:
        self.settings = settings
        self.precheck = precheck
        self.refuse_below = refuse_below
        self.last_stats: dict[str, float] = {}

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
        return _load_model(self.model_path(), self.settings).load_seconds

    # -- Engine ------------------------------------------------------------------------
    def draft(self, question: str, hits: Sequence[Hit]) -> Iterator[str]:
        if not hits:
            yield REFUSAL
            return
        model = _load_model(self.model_path(), self.settings)
        max_tokens = self.settings.llm_max_tokens
        budget = self.settings.evidence_tokens
        limit = model.n_ctx - max_tokens - 64
        if limit < _MIN_EVIDENCE_TOKENS:
            raise EngineError("llm_ctx is too small for llm_max_tokens")
        deadline = time.monotonic() + self.settings.llm_timeout
        started = time.monotonic()
        while True:
            messages, evidence = prompt.build_answer_messages(question, hits, budget)
            estimate = sum(prompt.estimate_tokens(m["content"]) + 8 for m in messages)
            if estimate > limit and budget > _MIN_EVIDENCE_TOKENS:
                budget = max(_MIN_EVIDENCE_TOKENS, budget - (estimate - limit) - 32)
                continue
            gate = output.AnswerGate()
            try:
                margin: float | None = None
                check: dict[str, float] = {}
                if self.precheck:
                    margin, check = self._check(model, question, evidence, deadline)
                    if margin is not None and margin < self.refuse_below:
                        self.last_stats = {"seconds": time.monotonic() - started,
                                           "precheck_margin": margin, **check}
                        yield REFUSAL
                        return
                answer_at = time.monotonic() - started
                yield from self._generate(model, messages, max_tokens, deadline, gate)
                stats = self.last_stats
                stats["seconds"] = time.monotonic() - started
                if stats["first_token_seconds"] >= 0:  # the model's first token, from draft()
                    stats["draft_first_token_seconds"] = answer_at + stats["first_token_seconds"]
                if margin is not None:
                    stats["precheck_margin"] = margin
                # tokens the model had to read for this question: the pre-check's uncached
                # prompt plus the answer request's own suffix
                stats["new_prompt_tokens"] = (check.get("new_prompt_tokens", 0.0)
                                              + stats["prompt_tokens"] - stats["cached_tokens"])
                return
            except _ContextOverflow:
                if budget <= _MIN_EVIDENCE_TOKENS or gate.emitted:
                    raise EngineError(
                        "the question and passages do not fit the local model's context "
                        f"({model.n_ctx} tokens)") from None
                budget = max(_MIN_EVIDENCE_TOKENS, budget // 2)
                log.info("prompt too long for n_ctx=%d; retrying with %d evidence tokens",
                         model.n_ctx, budget)

    def precheck_margin(self, question: str, hits: Sequence[Hit]) -> float | None:
        """The pre-check's log P(yes) - log P(no) for `question` over `hits`, with the evidence
        `draft` would send (None: no signal). Used to calibrate `llm_refuse_below`."""
        if not hits:
            return None
        model = _load_model(self.model_path(), self.settings)
        evidence = prompt.select_evidence(question, hits, self.settings.evidence_tokens)
        deadline = time.monotonic() + self.settings.llm_timeout
        return self._check(model, question, evidence, deadline)[0]

    # -- Condenser ---------------------------------------------------------------------
    def condense(self, question: str, history: Sequence[tuple[str, str]]) -> str:
        if not history:
            return question
        model = _load_model(self.model_path(), self.settings)
        messages = prompt.condense_messages(question, history)
        deadline = time.monotonic() + self.settings.llm_timeout
        try:
            text = "".join(self._generate(model, messages, _CONDENSE_MAX_TOKENS, deadline, None,
                                          stop=["\n"], require_text=False))
        except _ContextOverflow:
            return question
        return output.clean_condensed(text, question)

    # -- plumbing shared by draft, condense and the llama-index wrapper ---------------
    def stream_messages(self, messages: list[prompt.Message], max_tokens: int | None = None,
                        stop: list[str] | None = None) -> Iterator[str]:
        """Stream a raw chat completion (no answer gate), e.g. for llama-index."""
        model = _load_model(self.model_path(), self.settings)
        deadline = time.monotonic() + self.settings.llm_timeout
        try:
            yield from self._generate(model, messages, max_tokens or self.settings.llm_max_tokens,
                                      deadline, None, stop=stop)
        except _ContextOverflow:
            raise EngineError("the prompt does not fit the local model's context "
                              f"({model.n_ctx} tokens)") from None

    def _check(self, model: _Model, question: str, evidence: Sequence[prompt.Evidence],
               deadline: float) -> tuple[float | None, dict[str, float]]:
        """log P(yes) - log P(no) that the evidence answers the question (None: no signal),
        and the request's prompt size: prompt_tokens (whole) and new_prompt_tokens (uncached)."""
        request = {
            "messages": prompt.check_messages(question, evidence),
            "max_tokens": 1,
            "temperature": 0.0,
            "stream": True,
            "cache_prompt": True,
            "logprobs": True,
            "top_logprobs": 5,
        }
        top: list[tuple[str, float]] = []
        timings: dict[str, Any] = {}
        for kind, value in self._run(model, request, deadline):
            if kind == "logprobs" and not top:
                top = value
            elif kind == "timings":
                timings = value
        margin = output.yes_no_margin(top)
        log.debug("precheck margin %s", margin)
        new = float(timings.get("prompt_n", 0))
        return margin, {"prompt_tokens": new + float(timings.get("cache_n", 0)),
                        "new_prompt_tokens": new}

    def _generate(self, model: _Model, messages: list[prompt.Message], max_tokens: int,
                  deadline: float, gate: output.AnswerGate | None,
                  stop: list[str] | None = None, require_text: bool = True) -> Iterator[str]:
        """Stream one chat completion's text, through `gate` when one is given."""
        request = {
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": 0.0,
            "top_k": 1,
            "seed": 0,
            "stream": True,
            "cache_prompt": True,
            "stop": _STOP if stop is None else stop,
            "stream_options": {"include_usage": True},
        }
        started = time.monotonic()
        first_at: float | None = None
        timings: dict[str, Any] = {}
        events = self._run(model, request, deadline)
        try:
            for kind, value in events:
                if kind == "timings":
                    timings = value
                elif kind == "text":
                    if first_at is None:
                        first_at = time.monotonic() - started
                    if gate is None:
                        yield value
                        continue
                    yield from gate.feed(value)
                    if gate.done:
                        break
            if gate is not None:
                try:
                    tail = gate.finish()
                except ValueError:
                    raise EngineError("local model returned no usable text") from None
                yield from tail
            elif first_at is None and require_text:
                raise EngineError("local model returned no text")
        finally:
            events.close()  # stops the worker if we leave early
            self.last_stats = {
                "seconds": time.monotonic() - started,
                "generate_seconds": time.monotonic() - started,
                "first_token_seconds": first_at if first_at is not None else -1.0,
                "prompt_tokens": float(timings.get("prompt_n", 0) + timings.get("cache_n", 0)),
                "cached_tokens": float(timings.get("cache_n", 0)),
                "generated_tokens": float(timings.get("predicted_n", 0)),
            }

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
                events.put(("exception", _short(exc)))
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
                        raise _ContextOverflow()
                    raise EngineError("local model failed: " + message[:200])
                if kind == "exception":
                    raise EngineError(f"local model failed: {value}")
                yield kind, value
        finally:
            cancel.set()
