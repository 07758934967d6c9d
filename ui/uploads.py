"""Gradio's own upload routes get the app's upload limits: allowed file types, size, file count."""
from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Awaitable, Callable, MutableMapping
from tempfile import SpooledTemporaryFile
from typing import Any

import anyio
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from ui.service import size_text

from ui.service import UnsupportedFileTypeError, check_extension

logger = logging.getLogger(__name__)

__all__ = ["MAX_FIELD_BYTES", "MAX_FILES_PER_UPLOAD", "MAX_JSON_BYTES", "UploadLimits"]

# multipart bodies to Gradio's own routes (/gradio_api/upload ...): the REST API checks its own
MAX_FILES_PER_UPLOAD = 100  # Gradio's browser client sends every chosen file in one request
MAX_FIELD_BYTES = 64_000  # a form field that is not a file (Gradio sends ids and names)
SPOOL_MEMORY = 1 << 20  # a checked body is held in memory up to this, then in a temporary file
# a REST body that is not an upload (a question with its history and filters): a question is
# at most 20,000 characters, and twenty long earlier turns fit in well under this
MAX_JSON_BYTES = 1_000_000

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class _PartChecker:
    """Parses a multipart body as it streams in and names the first part over the limits: a
    file whose type is not allowed (415), a file over the size limit or too many files (413),
    an oversized field (413) or a malformed body (400)."""

    def __init__(self, boundary: bytes, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.problem: tuple[int, str] | None = None
        self.files = 0
        self._name = self._value = b""
        self._disposition = b""
        self._size, self._limit = 0, MAX_FIELD_BYTES
        self.parser = MultipartParser(boundary, {
            "on_part_begin": self._begin, "on_header_field": self._header_field,
            "on_header_value": self._header_value, "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished, "on_part_data": self._data})

    def feed(self, chunk: bytes) -> None:
        if self.problem is None and chunk:
            try:
                self.parser.write(chunk)
            except MultipartParseError:
                self.problem = (400, "malformed multipart body")

    def _begin(self) -> None:
        self._disposition, self._size, self._limit = b"", 0, MAX_FIELD_BYTES

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        if self._name.lower() == b"content-disposition":
            self._disposition = self._value
        self._name = self._value = b""

    def _headers_finished(self) -> None:
        options = parse_options_header(self._disposition)[1]
        filename = options.get(b"filename")
        if filename is None:
            if b"filename*" in self._disposition.lower():  # RFC 5987: nothing here reads it
                self._fail(400, 'send each file name as filename="..." (filename*= is not '
                                "supported)")
            return
        self.files += 1
        self._limit = self.max_bytes
        try:  # the same allowlist and message as the REST API
            check_extension(filename.decode("utf-8", "replace"))
        except UnsupportedFileTypeError as exc:
            self._fail(415, str(exc))
            return
        if self.files > MAX_FILES_PER_UPLOAD:
            self._fail(413, f"at most {MAX_FILES_PER_UPLOAD} files in one upload")

    def _data(self, data: bytes, start: int, end: int) -> None:
        self._size += end - start
        if self._size > self._limit:
            what = "a file" if self._limit == self.max_bytes else "a form field"
            self._fail(413, f"{what} is larger than the {size_text(self._limit)} upload "
                            "limit")

    def _fail(self, status: int, message: str) -> None:
        if self.problem is None:
            self.problem = (status, message)


class UploadLimits:
    """ASGI middleware: every upload (REST and Gradio's own routes) is checked as it streams in,
    and other REST bodies are capped at MAX_JSON_BYTES.

    Gradio stores whatever its upload route receives, of any type (its `file_types` are a hint
    to the browser). A multipart request to any route outside /api is read here first, checked
    part by part (type from the file name, size, number of files) and refused with 413/415 at
    the first bad part; only a body that passes is handed on, so Gradio never stores a
    refused file."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        boundary = _multipart_boundary(scope)
        if boundary is None:
            if _has_body(scope) and scope.get("path", "").startswith("/api/"):
                await self._small_body(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        # the most one request may carry: every file at the limit, plus room for the fields
        most = MAX_FILES_PER_UPLOAD * self.max_bytes + MAX_FIELD_BYTES * 16
        checker = _PartChecker(boundary, self.max_bytes)
        if _content_length(scope) > most:
            checker.problem = (413, f"the upload is larger than {size_text(most)}")
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY) as body:
            size = 0
            while checker.problem is None:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                checker.feed(chunk)
                size += len(chunk)
                if size > most:
                    checker.problem = (413, f"the upload is larger than {size_text(most)}")
                await _write(body, chunk, size)
                if not message.get("more_body"):
                    break
            if checker.problem is not None:
                status, detail = checker.problem
                logger.warning("refused an upload to %s: %s", scope.get("path"), detail)
                await _refuse(send, status, detail)
                return
            body.seek(0)
            await self.app(scope, _replay(body, size, receive), send)


    async def _small_body(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A REST request that is not an upload (JSON): at most MAX_JSON_BYTES, refused by its
        Content-Length before reading, or as soon as more arrives, never read whole first."""
        if _content_length(scope) > MAX_JSON_BYTES:
            await _refuse(send, 413, f"the request body is larger than {MAX_JSON_BYTES:,} bytes")
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_JSON_BYTES:
                await _refuse(send, 413,
                              f"the request body is larger than {MAX_JSON_BYTES:,} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> MutableMapping[str, Any]:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _has_body(scope: Scope) -> bool:
    return scope["type"] == "http" and scope.get("method") in ("POST", "PUT", "PATCH")


def _content_length(scope: Scope) -> int:
    header = next((v for k, v in scope.get("headers", []) if k.lower() == b"content-length"), b"")
    return int(header) if header.strip().isdigit() else 0


def _multipart_boundary(scope: Scope) -> bytes | None:
    """The boundary of a multipart HTTP POST (or PUT), else None."""
    if scope["type"] != "http" or scope.get("method") not in ("POST", "PUT", "PATCH"):
        return None
    header = next((v for k, v in scope.get("headers", []) if k.lower() == b"content-type"), b"")
    kind, options = parse_options_header(header)
    if not kind.lower().startswith(b"multipart/"):
        return None
    return options.get(b"boundary") or None


async def _write(body: SpooledTemporaryFile[bytes], chunk: bytes, size: int) -> None:
    """Append to the spooled body; off the event loop once it lives on disk."""
    if size > SPOOL_MEMORY:
        await anyio.to_thread.run_sync(body.write, chunk)
    else:
        body.write(chunk)


def _replay(body: SpooledTemporaryFile[bytes], size: int, receive: Receive) -> Receive:
    """A `receive` that hands the checked body on in pieces, then waits on the client."""
    left, done = size, False

    async def replay() -> MutableMapping[str, Any]:
        nonlocal left, done
        if done:
            return await receive()
        if size > SPOOL_MEMORY:
            chunk = await anyio.to_thread.run_sync(body.read, 1 << 16)
        else:
            chunk = body.read(1 << 16)
        left -= len(chunk)
        done = left <= 0 or not chunk
        return {"type": "http.request", "body": chunk, "more_body": not done}

    return replay


async def _refuse(send: Send, status: int, detail: str) -> None:
    data = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(data)).encode()),
                            (b"cache-control", b"no-store"), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": data})
