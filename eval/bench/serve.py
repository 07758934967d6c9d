"""Benchmark helpers for real servers on 127.0.0.1: `chroma run`, `newscite serve`, a load test."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from eval.bench.worker import latency


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> dict[str, float]:
    """Current (VmRSS) and peak (VmHWM) resident memory of a process, in MB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out["rss_mb" if key == "VmRSS" else "peak_rss_mb"] = int(value.split()[0]) / 1024
    return out


def _wait(url: str, proc: subprocess.Popen[bytes], log: Path, seconds: float) -> None:
    import httpx

    deadline = time.time() + seconds
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            raise RuntimeError(f"server at {url} did not start: "
                               + log.read_text(errors="replace")[-2000:])
        time.sleep(0.25)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@contextmanager
def chroma_server(path: Path) -> Iterator[str]:
    """A real `chroma run` server on a free loopback port; yields its URL."""
    port = free_port()
    path.mkdir(parents=True, exist_ok=True)
    log = path / "chroma-server.log"
    chroma = Path(sys.executable).with_name("chroma")
    with open(log, "wb") as fh:
        proc = subprocess.Popen([str(chroma), "run", "--path", str(path / "data"), "--host",
                                 "127.0.0.1", "--port", str(port)], stdout=fh, stderr=fh)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(f"{url}/api/v2/heartbeat", proc, log, 60)
        yield url
    finally:
        _stop(proc)


def newscite_command() -> list[str]:
    exe = Path(sys.executable).with_name("newscite")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "rag"]


@contextmanager
def newscite_server(data_dir: Path, *, chroma_url: str | None = None,
                    ingest: Sequence[Path] = (), log_dir: Path | None = None
                    ) -> Iterator[tuple[str, int]]:
    """`newscite serve` (extractive engine) on a free loopback port; yields (URL, pid)."""
    port = free_port()
    cmd = [*newscite_command(), "serve", "--host", "127.0.0.1", "--port", str(port),
           "--engine", "extractive", "--data-dir", str(data_dir)]
    if chroma_url:
        cmd += ["--chroma-url", chroma_url]
    for path in ingest:
        cmd += ["--ingest", str(path)]
    log = (log_dir or data_dir) / f"serve-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=fh, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(f"{url}/api/health", proc, log, 300)
        yield url, proc.pid
    finally:
        _stop(proc)


def load_test(url: str, questions: Sequence[str], clients: int = 20, per_client: int = 50,
              timeout: float = 300.0, deadline_s: float = 1800.0) -> dict[str, Any]:
    """`clients` threads each POST `per_client` questions to /api/ask (loopback only; bounded in
    count and time). Returns throughput, latency and error counts."""
    import httpx

    if not url.startswith(("http://127.", "http://localhost", "http://[::1]")):
        raise ValueError("the load test only targets servers on this machine")
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + deadline_s

    def client(n: int) -> None:
        with httpx.Client(base_url=url, timeout=timeout) as http:
            for i in range(per_client):
                if time.monotonic() > stop_at:
                    with lock:
                        errors.append("deadline")
                    return
                q = questions[(n * per_client + i) % len(questions)]
                t = time.perf_counter()
                try:
                    r = http.post("/api/ask", json={"question": q, "engine": "extractive"})
                    ok = r.status_code == 200 and "text" in r.json()
                    err = None if ok else f"HTTP {r.status_code}: {r.text[:120]}"
                except httpx.HTTPError as exc:
                    err = f"{type(exc).__name__}: {exc}"
                with lock:
                    latencies.append(time.perf_counter() - t)
                    if err:
                        errors.append(err)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    return {"clients": clients, "per_client": per_client, "requests": len(latencies),
            "errors": len(errors), "error_samples": errors[:5], "seconds": round(seconds, 2),
            "throughput_rps": round(len(latencies) / seconds, 2) if seconds else 0.0,
            **latency(latencies)}
