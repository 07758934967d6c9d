"""The server answer engine: any OpenAI-compatible /v1/chat/completions endpoint, over SSE."""
from __future__ import annotations

import json
import os
import time
from collections.abc import Generator
from typing import Any

from core.errors import ConfigError, EngineError
from core.settings import Settings
from rag.llm import prompt
from rag.llm.chat import ChatEngine, ContextOverflow, TopLogprobs


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


class OpenAIEngine(ChatEngine):
    """Answers through an OpenAI-compatible server (the draft loop is `ChatEngine`'s).

    The API key is read from the environment variable named by
    `settings.openai_api_key_env` (optional, for servers that need none) at each call and
    never appears in logs or error messages. The server's context size is unknown, so a
    prompt is trimmed only when the server says it is too long.
    """

    name = "openai"
    subject = "the LLM server"

    def __init__(self, settings: Settings, transport: Any = None, *, precheck: bool = True,
                 refuse_below: float = prompt.REFUSE_BELOW) -> None:
        if not settings.openai_base_url:
            raise ConfigError("the openai engine needs openai_base_url")
        super().__init__(settings, precheck=precheck, refuse_below=refuse_below)
        self.url = chat_completions_url(settings.openai_base_url)
        self._transport = transport  # an httpx transport, for tests (httpx.MockTransport)

    # -- transport ---------------------------------------------------------------------
    def _context_size(self) -> None:
        return None

    def _first_token(self, messages: list[prompt.Message],
                     deadline: float) -> tuple[TopLogprobs, dict[str, float]]:
        import httpx

        key = self._key()
        body = {
            "model": self.settings.openai_model,
            "messages": messages,
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
        except (EngineError, ContextOverflow):
            raise
        except ValueError:
            return [], {}  # not JSON: a server without this feature; just answer
        except httpx.HTTPError as exc:
            raise self._http_error(exc, key) from None
        try:
            top = data["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
            return [(str(t["token"]), float(t["logprob"])) for t in top], {}
        except (KeyError, IndexError, TypeError, ValueError):
            return [], {}

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

    def _stream(self, messages: list[prompt.Message], max_tokens: int, stop: list[str] | None,
                deadline: float, usage: dict[str, float]) -> Generator[str, None, None]:
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
                    whole = self._whole(response, key)
                    finished = True
                    if whole:
                        yield whole
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
                            yield str(text)
                        if choice.get("finish_reason"):
                            finished = True
        except (EngineError, ContextOverflow):
            raise
        except httpx.HTTPError as exc:
            raise self._http_error(exc, key) from None
        if not finished:
            raise self._fail("the LLM server closed the stream before finishing", key)

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
            raise ContextOverflow()
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
