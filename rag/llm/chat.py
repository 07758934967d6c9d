"""What every chat-model engine does the same way: evidence budget, pre-check, answer gate, retry."""
from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Generator, Iterator, Sequence

from core.errors import EngineError
from core.records import REFUSAL, Hit
from core.settings import Settings
from rag.llm import output, prompt

log = logging.getLogger(__name__)

# the smallest evidence budget tried when a prompt has to be trimmed to fit the context
MIN_EVIDENCE_TOKENS = 120
# an answer is over at a blank line, or where the model starts another passage or question
ANSWER_STOP = ["\n\n", "<passage", "</passage", "Question:"]
CONDENSE_MAX_TOKENS = 64
# context kept free besides the answer: the chat template's tags, and the error of
# `prompt.estimate_tokens` (which counts characters, not the model's tokens)
_CONTEXT_MARGIN = 64
_TAG_TOKENS = 8  # per message

TopLogprobs = list[tuple[str, float]]


class ContextOverflow(Exception):
    """The prompt does not fit the model's context; the draft loop retries with less evidence.

    Raised by an engine's transport, caught by `ChatEngine`: callers only ever see an
    `EngineError`.
    """


class ChatEngine(ABC):
    """An answer engine over a chat model; implements the `Engine` and `Condenser` protocols.

    Everything that decides what the model is sent and what the caller is shown lives here,
    so the packaged model and a server answer a question the same way. A subclass is only a
    transport, three methods: `_context_size`, `_stream` (one chat completion's text) and
    `_first_token` (the first token's top log-probabilities).

    With `precheck` (default), a one-token "do the passages state the answer?" request on the
    answer's own prompt prefix runs first, so the model's prompt cache serves the answer
    request after it; if log P(yes) - log P(no) < `refuse_below`, the engine refuses without
    generating an answer. A model that gives no log-probabilities is simply asked to answer.
    """

    name: str
    # how error messages name the model: "… do not fit the local model's context"
    subject: str
    # the stop strings of `stream_messages` when its caller gives none
    raw_stop: list[str] | None = None

    def __init__(self, settings: Settings, *, precheck: bool = True,
                 refuse_below: float = prompt.REFUSE_BELOW) -> None:
        self.settings = settings
        self.precheck = precheck
        self.refuse_below = refuse_below
        self.last_stats: dict[str, float] = {}

    # -- transport ---------------------------------------------------------------------
    @abstractmethod
    def _context_size(self) -> int | None:
        """The model's context in tokens (None: unknown, a server does not say).

        Called before a request's deadline is set, so a transport makes its model ready here
        (the local model loads): loading must not count against `llm_timeout`.
        """

    @abstractmethod
    def _stream(self, messages: list[prompt.Message], max_tokens: int, stop: list[str] | None,
                deadline: float, usage: dict[str, float]) -> Generator[str, None, None]:
        """Stream one chat completion's text by `deadline` (time.monotonic()).

        Token counts the model reports go into `usage` (prompt_tokens, whole prompt;
        cached_tokens; generated_tokens), also when the stream is closed early. Raises
        `ContextOverflow` when the prompt is too long, `EngineError` for any other failure.
        """

    @abstractmethod
    def _first_token(self, messages: list[prompt.Message],
                     deadline: float) -> tuple[TopLogprobs, dict[str, float]]:
        """The top log-probabilities of the first token of a reply to `messages` (empty: the
        model gives none), and the prompt's size when reported: prompt_tokens (whole) and
        new_prompt_tokens (not served from the prompt cache)."""

    # -- Engine ------------------------------------------------------------------------
    def draft(self, question: str, hits: Sequence[Hit]) -> Iterator[str]:
        if not hits:
            yield REFUSAL
            return
        size = self._context_size()
        limit = None if size is None else size - self.settings.llm_max_tokens - _CONTEXT_MARGIN
        if limit is not None and limit < MIN_EVIDENCE_TOKENS:
            raise EngineError("llm_ctx is too small for llm_max_tokens")
        started = time.monotonic()
        deadline = started + self.settings.llm_timeout
        budget = self.settings.evidence_tokens
        while True:
            messages, evidence = prompt.build_answer_messages(question, hits, budget)
            if limit is not None and budget > MIN_EVIDENCE_TOKENS:
                # trim before sending: a known context is cheaper to respect than to overflow
                estimate = sum(prompt.estimate_tokens(m["content"]) + _TAG_TOKENS
                               for m in messages)
                if estimate > limit:
                    budget = max(MIN_EVIDENCE_TOKENS, budget - (estimate - limit) - 32)
                    continue
            gate = output.AnswerGate()
            try:
                yield from self._answer(question, messages, evidence, gate, started, deadline)
                return
            except ContextOverflow:
                # once text has reached the caller, a retry would contradict it
                if budget <= MIN_EVIDENCE_TOKENS or gate.emitted:
                    raise EngineError("the question and passages do not fit "
                                      + self._context_name(size)) from None
                budget = max(MIN_EVIDENCE_TOKENS, budget // 2)
                log.info("prompt too long for %s; retrying with %d evidence tokens",
                         self._context_name(size), budget)

    def _answer(self, question: str, messages: list[prompt.Message],
                evidence: Sequence[prompt.Evidence], gate: output.AnswerGate, started: float,
                deadline: float) -> Iterator[str]:
        """One attempt of `draft`: the pre-check, then the answer through `gate`."""
        margin: float | None = None
        check: dict[str, float] = {}
        if self.precheck:
            margin, check = self._check(question, evidence, deadline)
            if margin is not None and margin < self.refuse_below:
                self.last_stats = {"seconds": time.monotonic() - started,
                                   "precheck_margin": margin, **check}
                yield REFUSAL
                return
        answer_at = time.monotonic() - started
        yield from self._generate(messages, self.settings.llm_max_tokens, deadline,
                                  ANSWER_STOP, gate)
        stats = self.last_stats
        stats["seconds"] = time.monotonic() - started
        if stats["first_token_seconds"] >= 0:  # the model's first token, from draft()
            stats["draft_first_token_seconds"] = answer_at + stats["first_token_seconds"]
        if margin is not None:
            stats["precheck_margin"] = margin
        if "prompt_tokens" in stats:
            # tokens the model had to read for this question: the pre-check's uncached
            # prompt plus the answer request's own suffix
            stats["new_prompt_tokens"] = (check.get("new_prompt_tokens", 0.0)
                                          + stats["prompt_tokens"]
                                          - stats.get("cached_tokens", 0.0))

    def precheck_margin(self, question: str, hits: Sequence[Hit]) -> float | None:
        """The pre-check's log P(yes) - log P(no) for `question` over `hits`, with the evidence
        `draft` would send (None: no signal). Used to calibrate `llm_refuse_below`."""
        if not hits:
            return None
        self._context_size()  # the model is ready before the deadline starts
        evidence = prompt.select_evidence(question, hits, self.settings.evidence_tokens)
        return self._check(question, evidence, self._deadline())[0]

    # -- Condenser ---------------------------------------------------------------------
    def condense(self, question: str, history: Sequence[tuple[str, str]]) -> str:
        if not history:
            return question
        self._context_size()  # the model is ready before the deadline starts
        messages = prompt.condense_messages(question, history)
        try:
            text = "".join(self._generate(messages, CONDENSE_MAX_TOKENS, self._deadline(),
                                          ["\n"], None, require_text=False))
        except ContextOverflow:
            return question  # a history too long to rewrite: ask the question as it is
        return output.clean_condensed(text, question)

    # -- raw chat, e.g. for the llama-index wrapper ------------------------------------
    def stream_messages(self, messages: list[prompt.Message], max_tokens: int | None = None,
                        stop: list[str] | None = None) -> Iterator[str]:
        """Stream a raw chat completion (no answer gate), e.g. for llama-index."""
        size = self._context_size()
        try:
            yield from self._generate(messages, max_tokens or self.settings.llm_max_tokens,
                                      self._deadline(), self.raw_stop if stop is None else stop,
                                      None)
        except ContextOverflow:
            raise EngineError("the prompt does not fit " + self._context_name(size)) from None

    # -- shared plumbing ---------------------------------------------------------------
    def _deadline(self) -> float:
        return time.monotonic() + self.settings.llm_timeout

    def _context_name(self, size: int | None) -> str:
        return f"{self.subject}'s context" + (f" ({size} tokens)" if size else "")

    def _check(self, question: str, evidence: Sequence[prompt.Evidence],
               deadline: float) -> tuple[float | None, dict[str, float]]:
        """log P(yes) - log P(no) that the evidence answers the question (None: no signal),
        and the request's prompt size as `_first_token` reports it."""
        top, size = self._first_token(prompt.check_messages(question, evidence), deadline)
        margin = output.yes_no_margin(top)
        log.debug("precheck margin %s", margin)
        return margin, size

    def _generate(self, messages: list[prompt.Message], max_tokens: int, deadline: float,
                  stop: list[str] | None, gate: output.AnswerGate | None,
                  require_text: bool = True) -> Iterator[str]:
        """Stream one chat completion's text, through `gate` when one is given; record
        `last_stats` (timings and the token counts the transport reports)."""
        started = time.monotonic()
        first_at: float | None = None
        usage: dict[str, float] = {}
        pieces = self._stream(messages, max_tokens, stop, deadline, usage)
        try:
            for piece in pieces:
                if first_at is None:
                    first_at = time.monotonic() - started
                if gate is None:
                    yield piece
                    continue
                yield from gate.feed(piece)
                if gate.done:
                    break  # refused: the rest of the reply is not needed
            if gate is not None:
                try:
                    tail = gate.finish()
                except ValueError:
                    raise EngineError(f"{self.subject} returned no usable text") from None
                yield from tail
            elif first_at is None and require_text:
                raise EngineError(f"{self.subject} returned no text")
        finally:
            pieces.close()  # stops the model if we leave early
            elapsed = time.monotonic() - started
            self.last_stats = {
                "seconds": elapsed,
                "generate_seconds": elapsed,
                "first_token_seconds": first_at if first_at is not None else -1.0,
                **usage,
            }
