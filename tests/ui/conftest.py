"""UI fixtures: a real Assistant over the seed articles, its app, and a real server process."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

# --import-mode=importlib puts no test folder on sys.path; the UI tests share ui_helpers.py
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ui_helpers import (  # noqa: E402
    ARTIFACTS,
    ROOT,
    SEEDS,
    SILENT_LLM_TIMEOUT,
    UPLOAD_LIMIT,
    free_port,
)


def _need_seeds() -> Path:
    if not SEEDS.is_dir():
        pytest.skip(f"seed articles not found at {SEEDS}")
    return SEEDS


@pytest.fixture(scope="session")
def seeded_assistant(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """A real Assistant (extractive engine, real embeddings, embedded Chroma) over the seeds."""
    from core.settings import Settings
    from rag.assistant import Assistant

    seeds = _need_seeds()
    assistant = Assistant(Settings(data_dir=tmp_path_factory.mktemp("ui-index"),
                                   engine="extractive"))
    assistant.ingest([seeds])
    yield assistant
    assistant.close()


@pytest.fixture(scope="session")
def client(seeded_assistant):  # noqa: ANN001, ANN201
    from fastapi.testclient import TestClient

    from ui.server import create_app

    with TestClient(create_app(seeded_assistant, max_upload_bytes=UPLOAD_LIMIT)) as c:
        yield c


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def _wait_healthy(server: Server, timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited ({server.process.returncode}):\n"
                               + server.log.read_text(errors="replace")[-3000:])
        try:
            if httpx.get(server.url + "/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("server did not become healthy:\n"
                       + server.log.read_text(errors="replace")[-3000:])


@contextmanager
def _serving(tmp: Path, *options: str, before: Sequence[str] = (),
             env: dict[str, str] | None = None) -> Iterator[Server]:
    """`python -m rag [before] serve [options]` on a free 127.0.0.1 port over the seeds;
    always stopped."""
    seeds = _need_seeds()
    port = free_port()
    log = tmp / "server.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "GRADIO_ANALYTICS_ENABLED": "False", "ANONYMIZED_TELEMETRY": "False", **(env or {})}
    cmd = [sys.executable, "-m", "rag", *before, "serve", "--data-dir", str(tmp / "data"),
           "--host", "127.0.0.1", "--port", str(port), "--ingest", str(seeds), *options]
    with open(log, "wb") as out:
        process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        _wait_healthy(server, timeout=150)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The app served with the extractive engine and no OpenAI-compatible server configured."""
    with _serving(tmp_path_factory.mktemp("ui-server"), "--engine", "extractive") as server:
        yield server


@contextmanager
def _silent_llm_server() -> Iterator[str]:
    """An address that accepts connections and never answers: an LLM server that hangs."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:  # closed: done
                return

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    finally:
        listener.close()
        for conn in held:
            conn.close()


@pytest.fixture(scope="session")
def openai_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The app served with the openai engine as its default, configured with global options
    before the command, pointing at an LLM server that never answers (timeout 4 s): a
    question given to it fails over to an extractive answer with a notice saying so."""
    with _silent_llm_server() as url, _serving(
            tmp_path_factory.mktemp("ui-openai-server"), "--engine", "openai",
            before=("--openai-url", url, "--openai-model", "no-such-model"),
            env={"NEWSCITE_LLM_TIMEOUT": str(SILENT_LLM_TIMEOUT)}) as server:
        yield server


@pytest.fixture
def page(browser):  # noqa: ANN001, ANN201
    """A fresh page that records dialogs and every request it makes."""
    context = browser.new_context(viewport={"width": 1200, "height": 1000})
    pg = context.new_page()
    pg.dialogs = []  # type: ignore[attr-defined]
    pg.requests = []  # type: ignore[attr-defined]
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.on("request", lambda r: pg.requests.append(r.url))
    try:
        yield pg
    finally:
        context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
