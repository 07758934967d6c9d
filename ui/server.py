"""One process, one Assistant: the Gradio web chat at / and the REST API under /api."""
from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import os
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

import anyio

if TYPE_CHECKING:  # heavy: loaded when an app is made
    from fastapi import FastAPI

    from core.settings import Settings
    from rag.assistant import Assistant

logger = logging.getLogger(__name__)

# REST answers computed at once per kind of engine; more wait in line (CPU bound)
ASK_CONCURRENCY = {"extractive": 8, "llm": 2}
AUTH_COOKIE = "newscite_token"
AUTH_PARAM = "token"
MIN_TOKEN_CHARS = 16
# Gradio's own monitoring dashboard (off, but its routes answer 403): not served at all
HIDDEN_PREFIXES = ("/monitoring", "/gradio_api/monitoring")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# A connection must send its first request's headers within this many seconds, or it is closed
# (uvicorn times out idle keep-alive connections, but not one that never sends a request:
# thousands of those would hold the server's sockets for good)
HEADER_TIMEOUT = 10.0


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and 'localhost' (nothing else can reach the server)."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, auth_token: str | None, insecure: bool) -> None:
    """Refuse to listen beyond this machine without a token, unless explicitly told to."""
    from core.errors import ConfigError

    if auth_token is not None and len(auth_token) < MIN_TOKEN_CHARS:
        raise ConfigError(f"the auth token must be at least {MIN_TOKEN_CHARS} characters")
    if is_loopback(host):
        return
    if auth_token:
        logger.warning("listening on %s: every request needs the auth token; put a TLS proxy in "
                       "front, plain HTTP sends the token in the clear", host)
        return
    if insecure:
        logger.warning("listening on %s WITHOUT authentication (--insecure): anyone who can "
                       "reach this address can read, add and delete articles", host)
        return
    raise ConfigError(f"refusing to listen on {host} without authentication: pass --auth TOKEN "
                      "(or set NEWSCITE_AUTH_TOKEN), or --insecure to serve it open anyway")


LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _hostname(authority: str) -> str:
    """'[::1]:7860' -> '::1', 'Example.org:80' -> 'example.org'."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        return authority[1:].split("]", 1)[0]
    return authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority


class Guard:
    """ASGI middleware in front of everything (REST, article pages, Gradio).

    - hides Gradio's monitoring routes (404);
    - with `allowed_hosts`, refuses other Host headers (400): a web page whose name resolves to
      127.0.0.1 (DNS rebinding) cannot read the loopback server;
    - refuses (403) state-changing requests a browser sends from another site (its Origin is
      not this server): a web page cannot upload, delete or ask through the user's browser;
    - with a token, refuses (401) every request that does not carry it (Authorization: Bearer,
      the cookie, or ?token= once)."""

    def __init__(self, app: ASGIApp, token: str | None,
                 allowed_hosts: frozenset[str] | set[str] | None = None) -> None:
        self.app = app
        self.allowed_hosts = frozenset(h.lower().strip("[]") for h in allowed_hosts) \
            if allowed_hosts is not None else None
        self.token = token.encode() if token else None
        # the cookie holds a digest, never the token itself
        self.cookie = hmac.new(self.token, b"newscite-cookie", "sha256").hexdigest() \
            if self.token else ""

    def _ok(self, value: str | None) -> bool:
        return bool(value) and self.token is not None and hmac.compare_digest(
            (value or "").encode("utf-8", "replace"), self.token)

    def _cookie_ok(self, value: str | None) -> bool:
        return bool(value) and bool(self.cookie) and hmac.compare_digest(
            (value or "").encode("utf-8", "replace"), self.cookie.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if any(path == p or path.startswith(p + "/") for p in HIDDEN_PREFIXES):
            await _reply(scope, send, 404, {"detail": "Not Found"})
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        if self.allowed_hosts is not None and _hostname(host) not in self.allowed_hosts:
            await _reply(scope, send, 400, {"detail": "unexpected Host header"})
            return
        if scope["type"] == "websocket" or scope.get("method", "GET") not in SAFE_METHODS:
            if _cross_site(headers):
                await _reply(scope, send, 403, {"detail": "cross-site request refused"})
                return
        if self.token is None:
            await self.app(scope, receive, send)
            return
        bearer = headers.get("authorization", "")
        if bearer[:7].lower() == "bearer " and self._ok(bearer[7:].strip()):
            await self.app(scope, receive, send)
            return
        if self._cookie_ok(_cookie(headers.get("cookie", ""), AUTH_COOKIE)):
            await self.app(scope, receive, send)
            return
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                          keep_blank_values=True)
        given = next((v for k, v in query if k == AUTH_PARAM), None)
        if not self._ok(given):
            await _reply(scope, send, 401, {"detail": "authentication required"},
                         [(b"www-authenticate", b'Bearer realm="newscite"')])
            return
        secure = "; Secure" if scope.get("scheme") in ("https", "wss") else ""
        cookie = (f"{AUTH_COOKIE}={self.cookie}; Path=/; HttpOnly; SameSite=Strict{secure}"
                  ).encode("latin-1")
        accept = headers.get("accept", "")
        if scope["type"] == "http" and scope.get("method") == "GET" and "text/html" in accept:
            # the browser keeps the cookie; the token leaves the address bar and history
            rest = urlencode([(k, v) for k, v in query if k != AUTH_PARAM])
            raw = b"/" + (scope.get("raw_path") or path.encode("utf-8")).lstrip(b"/\\")
            location = scope.get("root_path", "").encode("utf-8") + raw + \
                (b"?" + rest.encode("latin-1") if rest else b"")
            await _reply(scope, send, 303, {"detail": "authenticated"},
                         [(b"location", location), (b"set-cookie", cookie)])
            return

        async def send_with_cookie(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"set-cookie", cookie)]}
            await send(message)

        await self.app(scope, receive, send_with_cookie if scope["type"] == "http" else send)


class NoServerErrors:
    """ASGI middleware: Gradio's own routes answer 500 to malformed calls (a missing input, a
    bad upload); under /gradio_api/ that becomes 400 with a short message. What went wrong is
    logged in one line, never sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith("/gradio_api/"):
            await self.app(scope, receive, send)
            return
        replaced = started = False

        async def checked(message: MutableMapping[str, Any]) -> None:
            nonlocal replaced, started
            if message["type"] == "http.response.start":
                started = True
            if message["type"] == "http.response.start" and message["status"] == 500:
                replaced = True
                logger.warning("%s %s failed inside Gradio: answered 400", scope.get("method"),
                               scope.get("path"))
                await _reply(scope, send, 400, {"detail": "the request could not be "
                                                "processed: check its inputs"})
                return
            if replaced:  # the original body of the 500 is dropped
                return
            await send(message)

        try:
            await self.app(scope, receive, checked)
        except Exception as exc:  # noqa: BLE001 - Gradio raised on a malformed request
            if started:
                raise
            logger.warning("%s %s failed inside Gradio (%s): answered 400", scope.get("method"),
                           scope.get("path"), type(exc).__name__)
            await _reply(scope, send, 400, {"detail": "the request could not be processed: "
                                            "check its inputs"})


def _cross_site(headers: dict[str, str]) -> bool:
    """True when a browser sent this request from a page of another origin."""
    origin = headers.get("origin")
    if origin is None:
        # browsers send Origin with every cross-origin POST; Sec-Fetch-Site backs it up
        return headers.get("sec-fetch-site", "") == "cross-site"
    if origin == "null":  # sandboxed frames, file:// pages
        return True
    # a proxy in front must pass the Host header through (nginx: proxy_set_header Host $host)
    here = headers.get("host", "")
    authority = origin.split("://", 1)[-1].split("/", 1)[0].lower()
    return authority != here.strip().lower()


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


async def _reply(scope: Scope, send: Send, status: int, body: dict[str, Any],
                 headers: list[tuple[bytes, bytes]] | None = None) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 4401 if status == 401 else 4404})
        return
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(data)).encode()),
                            (b"cache-control", b"no-store"), *(headers or [])]})
    await send({"type": "http.response.body", "body": data})


def create_app(assistant: Assistant, *, max_upload_bytes: int = 5_000_000,
               queue_size: int = 64, auth_token: str | None = None,
               allowed_hosts: frozenset[str] | set[str] | None = None) -> FastAPI:
    """A FastAPI app: REST API under /api (OpenAPI at /docs), /article/{id}, Gradio at /.

    With `auth_token`, every route (REST, article pages, the web UI and Gradio's own) answers
    401 unless the request carries the token; with `allowed_hosts`, requests naming another
    Host get 400. Cross-site browser writes are always refused (see `Guard`)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr
    from fastapi import FastAPI

    from ui import render
    from ui.api import add_api_docs, add_article_page, add_error_handlers, build_router
    from ui.service import Library
    from ui.uploads import UploadLimits
    from ui.web import build_blocks

    library = Library(assistant, max_upload_bytes=max_upload_bytes)
    app = FastAPI(title="newscite", version="0.1.0",
                  description="Answers about news articles; every sentence cites its passage. "
                              "Errors are JSON {\"detail\": message}: 400 bad input (an empty "
                              "question, bad filters), 404 unknown article, 409 index busy, "
                              "413 upload too large, 415 file type not allowed, 422 malformed "
                              "request (invalid JSON, missing or mistyped fields), 503 engine "
                              "or store unavailable.",
                  docs_url=None, redoc_url=None)  # served offline: add_api_docs
    app.state.library = library
    add_api_docs(app)
    add_error_handlers(app)
    app.include_router(build_router(library, {kind: anyio.CapacityLimiter(n)
                                              for kind, n in ASK_CONCURRENCY.items()}))
    add_article_page(app, library)

    blocks = build_blocks(library)
    blocks.queue(max_size=queue_size, default_concurrency_limit=1)
    data_dir = str(Path(assistant.settings.data_dir).resolve())
    gr.mount_gradio_app(  # mounts the web chat on `app` (and returns that same app)
        app, blocks, path="/", server_name="127.0.0.1", show_error=False,
        max_file_size=max_upload_bytes, allowed_paths=[], blocked_paths=[data_dir],
        footer_links=["api"], ssr_mode=False, mcp_server=False, css=render.CSS)
    # added first, so it runs after Guard: a refused request is never read at all
    app.add_middleware(NoServerErrors)
    app.add_middleware(UploadLimits, max_bytes=max_upload_bytes)
    app.add_middleware(Guard, token=auth_token, allowed_hosts=allowed_hosts)
    return app


def _timely_protocol() -> type:
    """uvicorn's HTTP/1.1 protocol, closing connections that send no request in time."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class TimelyH11Protocol(H11Protocol):
        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._first_request = self.loop.call_later(HEADER_TIMEOUT, self._drop_if_silent)

        def _drop_if_silent(self) -> None:
            if self.cycle is None and not self.transport.is_closing():
                self.transport.close()

        def connection_lost(self, exc: Exception | None) -> None:
            self._first_request.cancel()
            super().connection_lost(exc)

    return TimelyH11Protocol


def _warm_engine_in_background(assistant: Assistant) -> None:
    """Load the LLM (when the default engine uses one) while the server starts answering."""
    import threading

    from rag.engine import Loadable

    def work() -> None:
        try:
            engine = assistant.engine()
            if isinstance(engine, Loadable):
                engine.load()
                logger.info("the %s answer engine is loaded", engine.name)
        except Exception as exc:  # the first question reports it properly
            logger.warning("could not preload the answer engine: %s", exc)

    threading.Thread(target=work, name="warm-engine", daemon=True).start()


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 7860,
          ingest: Sequence[str | Path] = (), auth_token: str | None = None,
          insecure: bool = False, sync_every: float | None = None) -> None:
    """Index `ingest` folders (if any), then serve until interrupted; with `sync_every`
    (seconds), the feeds are synced in the background that often.

    Any address but loopback needs `auth_token` (or `insecure=True`, with a warning)."""
    from index.locks import hold_for_serving, release_serving

    check_bind(host, auth_token, insecure)
    # start-up lines are INFO, not warnings; they are shown whatever the log level
    if not logger.isEnabledFor(logging.INFO):
        logger.setLevel(logging.INFO)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    shown = f"[{host}]" if ":" in host else host
    data_dir = Path(settings.data_dir)
    # while this process serves the folder, other processes may read it but not write it
    hold_for_serving(data_dir, f"http://{shown}:{port}/")
    try:
        _serve(settings, host, port, shown, ingest, auth_token, sync_every)
    finally:
        release_serving(data_dir)


def _serve(settings: Settings, host: str, port: int, shown: str, ingest: Sequence[str | Path],
           auth_token: str | None, sync_every: float | None = None) -> None:
    import uvicorn

    from core.errors import RagError
    from rag.assistant import Assistant

    assistant = Assistant(settings)
    if ingest:
        report = assistant.ingest(list(ingest))
        logger.info("indexed %s: %s", ", ".join(map(str, ingest)), report.summary())
        for skipped in report.skipped:
            logger.warning("skipped %s: %s", skipped.path, skipped.reason)
    # load the embedding model now, so the first question is not the slow one, and start
    # reading the manifest (every hit's text) into the page cache
    try:
        assistant.retrieve("warm up")
    except RagError as exc:  # an empty or unreachable index: say so, serve anyway
        logger.warning("%s", exc)
    assistant.prefetch()
    _warm_engine_in_background(assistant)
    # on loopback, only loopback names: a rebinding DNS name pointing here is refused
    hosts = (LOOPBACK_NAMES | {host.lower().strip("[]")}) if is_loopback(host) else None
    app = create_app(assistant, auth_token=auth_token, allowed_hosts=hosts)
    syncer = None
    if sync_every:
        from ui.syncer import PeriodicSync
        syncer = PeriodicSync(app.state.library, sync_every).start()
        logger.info("syncing %d feeds every %g s", len(assistant.feeds.feeds()), sync_every)
    logger.info("newscite is serving %d articles at http://%s:%d/ (REST API: /api, docs: "
                   "/docs)%s; press Ctrl+C to stop", len(assistant.articles()), shown, port,
                   "; open it once as /?token=TOKEN" if auth_token else "")
    try:
        # open streams (the chat queue's heartbeats) must not hold up Ctrl+C for long
        uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=2,
                    timeout_keep_alive=5, http=_timely_protocol())
    finally:
        if syncer is not None:
            syncer.stop()
        assistant.close()
