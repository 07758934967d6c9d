"""Helpers for the server security tests: a raw HTTP client, a hostile fake LLM server, servers."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INJECTION = ROOT / "eval" / "corpus" / "injection"
SAMPLE = ROOT / "eval" / "corpus" / "sample"
GOLD = ROOT / "eval" / "gold" / "injection.jsonl"
TOKEN = "test-token-0123456789abcdef"
SECRET_KEY = "sk-newscite-SECRET-5f1e2d3c4b5a"
SECRET_PASSWORD = "pw-SECRET-9a8b7c"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def raw_get(port: int, target: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """GET with the request target sent byte for byte (no client-side normalisation of ../)."""
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    request = (f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}"
               "Connection: close\r\n\r\n").encode("latin-1")
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(request)
        while chunk := s.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1]), data


class _Echo(BaseHTTPRequestHandler):
    """A hostile 'OpenAI' server: its error message repeats everything the client sent."""

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        echoed = " | ".join(f"{k}: {v}" for k, v in self.headers.items())
        body = json.dumps({"error": {"message": f"bad request from {self.path} {echoed}",
                                     "type": "invalid_request_error"}}).encode()
        self.send_response(400)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def echo_server() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Served:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def text(self) -> str:
        return self.log.read_text(errors="replace")


def base_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "GRADIO_ANALYTICS_ENABLED": "False", "ANONYMIZED_TELEMETRY": "False"}
    env.pop("NEWSCITE_AUTH_TOKEN", None)
    env.update(extra)
    return env


def start_server(args: list[str], log: Path, env: dict[str, str]) -> Served:
    port = free_port()
    cmd = [sys.executable, "-m", "rag", "serve", "--port", str(port), "--engine", "extractive",
           *args]
    with open(log, "wb") as out:
        process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    return Served(port, process, log)


def wait_until_up(server: Served, headers: dict[str, str] | None = None,
                  timeout: float = 180) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited ({server.process.returncode}):\n"
                               + server.text()[-3000:])
        try:
            r = httpx.get(server.url + "/api/health", headers=headers, timeout=2)
            if r.status_code in (200, 401):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("server did not come up:\n" + server.text()[-3000:])


def stop(server: Served) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=10)
