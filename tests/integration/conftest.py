"""Real parts: the packaged MiniLM model, embedded Chroma and a `chroma run` server on 127.0.0.1."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Chroma server process on a free loopback port."""
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    chroma = Path(sys.executable).with_name("chroma")
    log = open(path / "server.log", "w")  # noqa: SIM115
    proc = subprocess.Popen([str(chroma), "run", "--path", str(path / "data"), "--host",
                             "127.0.0.1", "--port", str(port)], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("chroma server did not start: " +
                                   (path / "server.log").read_text()[-2000:])
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def minilm():  # noqa: ANN201
    from index.embed import MiniLMEmbedder
    return MiniLMEmbedder()


_counter = iter(range(10_000))


@pytest.fixture(params=["embedded", "server"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for a fresh index, once with embedded Chroma and once against the server."""
    url = request.getfixturevalue("chroma_server") if request.param == "server" else None
    return Settings(data_dir=tmp_path / "data", chroma_url=url, engine="extractive",
                    collection=f"test-{next(_counter)}-{tmp_path.name[-20:]}".replace("_", "-"))


@pytest.fixture
def assistant(settings: Settings, minilm):  # noqa: ANN001, ANN201
    from rag.assistant import Assistant
    a = Assistant(settings, embedder=minilm)
    yield a
    a.close()
