"""The server answer engine: any OpenAI-compatible /v1/chat/completions endpoint, over SSE."""
from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator, Sequence
from typing import Any

from core.errors import ConfigError, EngineError
from core.records import REFUSAL, Hit
from core.settings import Settings
from rag.llm import output, prompt

log = logging.getLogger(__name__)

_MIN_EVIDENCE_TOKENS = 120
_STOP = ["\n\n", "<passage", "</passage", "Question:"]
_CONDENSE_MAX_TOKENS = 64


def _no_password(url: str) -> str:
    """A URL fit for messages: user:password@ removed."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def chat_completions_url(base_url: str) -> str:
    """`…/v1/chat/completions` for a base URL given with or without a trailing /v1."""
    base = base_url.rstrip("/")
    if base.endswith("/chat/completions"):
        return base
    if not base.endswith("/v1"):
        base += "/v1"
    return base + "/chat/completions"


class _ContextOverflow(Exception):
    pass


class OpenAIEngine:
    """Answers through an OpenAI-compatible server; implements `Engine` and `Condenser`.

    The API key is read from the environment variable named by
    `settings.openai_api_key_env` (optional, for servers that need none) at each call and
    never appears in logs or error messages.
    """

    name = "openai"

    def __init__(self, settings: Settings, transport: Any = None, *, precheck: bool = True,
                 refuse_below: float = prompt.REFUSE_BELOW) -> None:
        if not settings.openai_base_url:
            raise ConfigError("the openai engine needs openai_base_url")
        self.settings = settings
        self.precheck = precheck  # see LocalEngine; skipped when the server gives no logprobs
        self.refuse_below = refuse_below
        self.url = chat_completions_url(settings.openai_base_url)
        self._transport = transport  # an httpx transport, for tests (httpx.MockTransport)
        self.last_stats: dict[str, float] = {}

    # -- Engine ------------------------------------------------------------------------
    def draft(self, question: str, hits: Sequence[Hit]) -> Iterator[str]:
        if not hits:
            yield REFUSAL
            return
        budget = self.settings.evidence_tokens
        deadline = time.monotonic() + self.settings.llm_timeout
        for _attempt in range(3):
            messages, evidence = prompt.build_answer_messages(question, hits, budget)
            gate = output.AnswerGate()
            try:
                if self.precheck:
                    margin = self._check(question, evidence, deadline)
                    if margin is not None and margin < self.refuse_below:
                        yield REFUSAL
                        return
                for piece in self._stream(messages, self.settings.llm_max_tokens, deadline,
                                          _STOP):
                    yield from gate.feed(piece)
                    if gate.done:
                        return
            except _ContextOverflow:
                if budget <= _MIN_EVIDENCE_TOKENS or gate.emitted:
                    break
                budget = max(_MIN_EVIDENCE_TOKENS, budget // 2)
                log.info("prompt too long for the server; retrying with %d evidence tokens", budget)
                continue
            try:
                tail = gate.finish()
            except ValueError:
                raise EngineError("the LLM server returned no usable text") from None
            yield from tail
            return
        raise EngineError("the question and passages do not fit the LLM server's context")

    # -- Condenser ---------------------------------------------------------------------
    def condense(self, question: str, history: Sequence[tuple[str, str]]) -> str:
        if not history:
            return question
        messages = prompt.condense_messages(question, history)
        deadline = time.monotonic() + self.settings.llm_timeout
        try:
            text = "".join(self._stream(messages, _CONDENSE_MAX_TOKENS, deadline, ["\n"],
                                        require_text=False))
        except _ContextOverflow:
            return question
        return output.clean_condensed(text, question)

    def stream_messages(self, messages: list[prompt.Message], max_tokens: int | None = None,
                        stop: list[str] | None = None) -> Iterator[str]:
        """Stream a raw chat completion (no answer gate), e.g. for llama-index."""
        deadline = time.monotonic() + self.settings.llm_timeout
        try:
            yield from self._stream(messages, max_tokens or self.settings.llm_max_tokens,
                                    deadline, stop)
        except _ContextOverflow:
            raise EngineError("the prompt does not fit the LLM server's context") from None

    def _check(self, question: str, evidence: Sequence[prompt.Evidence],
               deadline: float) -> float | None:
        """log P(yes) - log P(no) that the evidence answers the question (None: no signal)."""
        import httpx

        key = self._key()
        body = {
            "model": self.settings.openai_model,
            "messages": prompt.check_messages(question, evidence),
            "max_tokens": 1,
            "temperature": 0,
            "logprobs": True,
            "top_logprobs": 5,
            "stream": False,
        }
        wait = max(0.1, deadline - time.monotonic())
        try:
            with httpx.Client(timeout=self._timeout(wait), transport=self._transport,
                              follow_redirects=False) as client, \
                    client.stream("POST", self.url, json=body,
                                  headers=self._headers(key)) as response:
                if response.status_code >= 400:
                    self._raise_status(response, key)
                raw = b""
                for block in response.iter_bytes():
                    if time.monotonic() > deadline:
                        raise self._fail("the LLM server timed out after "
                                         f"{self.settings.llm_timeout:g} s", key)
                    raw += block
            data = json.loads(raw)
        except (EngineError, _ContextOverflow):
            raise
        except ValueError:
            return None  # not JSON: a server without this feature; just answer
        except httpx.HTTPError as exc:
            raise self._http_error(exc, key) from None
        try:
            top = data["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
            return output.yes_no_margin([(str(t["token"]), float(t["logprob"])) for t in top])
        except (KeyError, IndexError, TypeError, ValueError):
            return None

    # -- HTTP --------------------------------------------------------------------------
    def _headers(self, key: str, stream: bool = False) -> dict[str, str]:
        headers = {"Accept": "text/event-stream" if stream else "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _timeout(self, wait: float) -> Any:
        import httpx

        return httpx.Timeout(connect=min(wait, 10.0), read=wait, write=wait, pool=wait)

    def _http_error(self, exc: Exception, key: str) -> EngineError:
        import httpx

        wait = self.settings.llm_timeout
        if isinstance(exc, httpx.ConnectError):
            return self._fail(f"cannot connect to the LLM server at {_no_password(self.url)}", key)
        if isinstance(exc, httpx.TimeoutException):
            return self._fail(f"the LLM server timed out after {wait:g} s", key)
        return self._fail(f"the LLM server connection failed ({type(exc).__name__})", key)

    def _key(self) -> str:
        return os.environ.get(self.settings.openai_api_key_env, "").strip()

    def _fail(self, message: str, key: str) -> EngineError:
        if key:
            message = message.replace(key, "***")
        return EngineError(message[:300])

    def _stream(self, messages: list[prompt.Message], max_tokens: int, deadline: float,
                stop: list[str] | None, require_text: bool = True) -> Iterator[str]:
        import httpx

        key = self._key()
        headers = self._headers(key, stream=True)
        body: dict[str, Any] = {
            "model": self.settings.openai_model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": 0,
            "stream": True,
        }
        if stop:
            body["stop"] = stop[:4]  # OpenAI accepts at most four stop sequences
        wait = self.settings.llm_timeout
        timeout = self._timeout(max(0.1, deadline - time.monotonic()))
        started = time.monotonic()
        first_at: float | None = None
        produced = False
        finished = False
        try:
            with httpx.Client(timeout=timeout, transport=self._transport,
                              follow_redirects=False) as client, \
                    client.stream("POST", self.url, json=body, headers=headers) as response:
                if response.status_code >= 400:
                    self._raise_status(response, key)
                ctype = response.headers.get("content-type", "")
                if "text/event-stream" not in ctype:
                    # a server that ignored "stream": answer with the whole completion
                    text = self._whole(response, key)
                    produced = bool(text)
                    finished = True
                    if text:
                        yield text
                    return
                for line in response.iter_lines():
                    if time.monotonic() > deadline:
                        raise self._fail(f"the LLM server timed out after {wait:g} s", key)
                    line = line.strip()
                    if not line or line.startswith(":") or not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        finished = True
                        break
                    try:
                        chunk = json.loads(data)
                    except ValueError:
                        raise self._fail("the LLM server sent a malformed stream", key) from None
                    if not isinstance(chunk, dict):
                        raise self._fail("the LLM server sent a malformed stream", key)
                    if "error" in chunk:
                        self._raise_error_body(chunk, key)
                    for choice in chunk.get("choices") or ():
                        if not isinstance(choice, dict):
                            continue
                        text = (choice.get("delta") or {}).get("content")
                        if text:
                            if first_at is None:
                                first_at = time.monotonic() - started
                            produced = True
                            yield text
                        if choice.get("finish_reason"):
                            finished = True
        except EngineError:
            raise
        except _ContextOverflow:
            raise
        except httpx.HTTPError as exc:
            raise self._http_error(exc, key) from None
        finally:
            self.last_stats = {
                "seconds": time.monotonic() - started,
                "first_token_seconds": first_at if first_at is not None else -1.0,
            }
        if not finished:
            raise self._fail("the LLM server closed the stream before finishing", key)
        if not produced and require_text:
            raise self._fail("the LLM server returned an empty answer", key)

    def _raise_status(self, response: Any, key: str) -> None:
        try:
            raw = response.read().decode("utf-8", "replace")
        except Exception:  # noqa: BLE001 - the status code alone is enough to report
            raw = ""
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if isinstance(data, dict) and "error" in data:
            self._raise_error_body(data, key, status=response.status_code)
        status = response.status_code
        if status in (401, 403):
            raise self._fail(f"the LLM server refused the API key (HTTP {status}); "
                             f"check ${self.settings.openai_api_key_env}", key)
        raise self._fail(f"the LLM server answered HTTP {status}", key)

    def _raise_error_body(self, data: dict[str, Any], key: str, status: int | None = None) -> None:
        err = data.get("error")
        message = (err.get("message") if isinstance(err, dict) else err) or "unknown error"
        kind = (err.get("type") or err.get("code") or "") if isinstance(err, dict) else ""
        low = f"{kind} {message}".lower()
        if "context" in low and ("exceed" in low or "length" in low or "too long" in low):
            raise _ContextOverflow()
        code = f"HTTP {status}: " if status else ""
        if status in (401, 403):
            raise self._fail(f"the LLM server refused the API key ({code.strip(': ')}); "
                             f"check ${self.settings.openai_api_key_env}", key)
        raise self._fail(f"the LLM server failed ({code}{str(message)[:200]})", key)

    def _whole(self, response: Any, key: str) -> str:
        try:
            data = json.loads(response.read())
        except ValueError:
            raise self._fail("the LLM server sent malformed JSON", key) from None
        if not isinstance(data, dict):
            raise self._fail("the LLM server sent malformed JSON", key)
        if "error" in data:
            self._raise_error_body(data, key)
        try:
            return str(data["choices"][0]["message"]["content"] or "")
        except (KeyError, IndexError, TypeError):
            raise self._fail("the LLM server sent an unexpected response", key) from None
