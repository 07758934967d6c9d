"""Request size limits hold before a body is read, and errors never echo the input."""
from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sec_helpers import SAMPLE, Served, base_env, start_server, stop, wait_until_up

pytestmark = [pytest.mark.server, pytest.mark.integration, pytest.mark.fault]

MARKER = "ECHO-MARKER-7f3a"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("limits")
    served = start_server(["--data-dir", str(tmp / "data"), "--ingest", str(SAMPLE)],
                          tmp / "server.log", base_env())
    try:
        wait_until_up(served)
        yield served
    finally:
        stop(served)


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _raw(port: int, head: str, body: bytes, timeout: float = 10) -> tuple[int, bytes, float]:
    """Send a request head and the start of a body; (status, response, seconds to answer)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head.encode() + body)
        data = b""
        while b"\r\n\r\n" not in data:
            piece = s.recv(65536)
            if not piece:
                break
            data += piece
        try:  # the rest of a short JSON answer, if any
            s.settimeout(1)
            while piece := s.recv(65536):
                data += piece
        except OSError:
            pass
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data, time.monotonic() - started


@pytest.mark.parametrize("path,kind", [
    ("/api/articles", "multipart/form-data; boundary=xyz"),
    ("/api/ask", "application/json"),
])
def test_a_huge_declared_body_is_refused_before_it_is_read(server: Served, path: str,
                                                           kind: str) -> None:
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {kind}\r\n"
            f"Content-Length: {10 * 1024 ** 3}\r\n\r\n")
    status, data, seconds = _raw(server.port, head, b"x" * 1024)
    assert status == 413, data[:300]
    assert seconds < 5


def test_a_streamed_oversized_json_body_is_cut_off(server: Served) -> None:
    before = _rss_kb(server.process.pid)

    def chunks() -> Iterator[bytes]:
        yield b'{"question": "' + MARKER.encode()
        for _ in range(100):  # 100 MB, never declared up front
            yield b"a" * (1 << 20)
        yield b'"}'

    try:
        r = httpx.post(server.url + "/api/ask", content=chunks(),
                       headers={"Content-Type": "application/json"}, timeout=60)
        status, text = r.status_code, r.text
    except httpx.HTTPError:  # the server may close the connection mid-upload after its 413
        status, text = 413, ""
    assert status == 413, text[:300]
    assert MARKER not in text
    grown_mb = (_rss_kb(server.process.pid) - before) / 1024
    print(f"\nserver RSS grew {grown_mb:.1f} MB under a 100 MB streamed request")
    assert grown_mb < 50


@pytest.mark.parametrize("body", [
    '{"question": 5, "history": "' + MARKER + '"}',  # wrong types
    '{"question": "Who?", "top_k": NaN}',  # not a finite number
    '{"question": "\\ud800 ' + MARKER + '"}',  # an unpaired surrogate
    '{"question": "Who?", "filters": {"sources": ["\\udfff"]}}',
    '{"question": ',  # not JSON
])
def test_bad_json_gets_422_without_echoing_the_input(server: Served, body: str) -> None:
    r = httpx.post(server.url + "/api/ask", content=body.encode(),
                   headers={"Content-Type": "application/json"}, timeout=60)
    assert r.status_code == 422, r.text[:500]
    assert MARKER not in r.text and "input" not in r.json()["detail"][0]


def test_connections_that_never_send_a_request_are_closed(server: Served) -> None:
    from ui.server import HEADER_TIMEOUT

    sockets = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(50)]
    sockets[0].sendall(b"GET /api/hea")  # a request that never finishes its headers
    deadline = time.monotonic() + HEADER_TIMEOUT + 15
    closed = 0
    for s in sockets:
        s.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            closed += s.recv(1) == b""
        except OSError:
            pass
        s.close()
    assert closed == 50
    assert httpx.get(server.url + "/api/health", timeout=30).status_code == 200
