"""LLM test fixtures: seed passages, the assembled packaged model, a real OpenAI-style server."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.records import Hit

ROOT = Path(__file__).resolve().parents[2]

# Two passages from the seed articles (RFE/RL and Newsweek, February 2020)
SEED_HITS = (
    Hit(chunk_id="rfe-1", article_id="rfe",
        title="Turkey Says 33 Soldiers Killed In Syrian Air Strike",
        text=("Turkey says at least 33 of its soldiers have been killed in an air strike by "
              "Russia-backed Syrian government forces in northwestern Syria, rising tensions "
              "between Ankara and Damascus ally Moscow. Rahmi Dogan, governor of Turkey’s Hatay "
              "Province bordering Syria, said on February 28 that 32 wounded troops were being "
              "treated in hospitals after the strikes in Idlib Province."),
        start=0, end=0, score=1.0, source="RFE/RL", published="2020-02-28"),
    Hit(chunk_id="nw-1", article_id="nw", title="Russia and Turkey's Conflict in Syria Escalates",
        text=("The Syrian Observatory for Human Rights first reported a death toll of up to 34 "
              "Turkish soldiers earlier Thursday in an area where both the Syrian and Russian air "
              "forces were highly active. The monitor did not assign responsibility for the "
              "strikes."),
        start=0, end=0, score=0.9, source="Newsweek", published="2020-02-27"),
)


def model_cache_dir() -> Path:
    """Where the tests assemble the packaged model (reused across runs)."""
    return Path(os.environ.get("NEWSCITE_TEST_MODEL_CACHE",
                               Path.home() / ".cache" / "newscite")).expanduser()


@pytest.fixture(scope="session")
def seed_hits() -> tuple[Hit, ...]:
    return SEED_HITS


@pytest.fixture(scope="session")
def model_cache() -> Path:
    return model_cache_dir()


@pytest.fixture(scope="session")
def model_path() -> Path:
    from rag.llm.model import is_local_available, packaged_model_path

    if not is_local_available():
        pytest.skip("xllamacpp or the packaged model parts are not installed")
    return packaged_model_path(model_cache_dir())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProcess:
    url: str
    process: subprocess.Popen[str]

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def start_server(model: Path, ctx: int = 2048, timeout: float = 120.0) -> ServerProcess:
    """Start `python -m rag.llm.serve` on a free 127.0.0.1 port and wait until it answers."""
    import httpx

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    process = subprocess.Popen(
        [sys.executable, "-m", "rag.llm.serve", "--port", str(port), "--model", str(model),
         "--ctx", str(ctx)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"test LLM server exited with {process.returncode}")
        try:
            if httpx.get(url + "/health", timeout=1.0).status_code == 200:
                return ServerProcess(url=url, process=process)
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.kill()
    raise RuntimeError("test LLM server did not start in time")


@pytest.fixture(scope="session")
def server_factory() -> Callable[..., ServerProcess]:
    """Starts extra servers (e.g. one to kill); the caller must kill them."""
    return start_server


@pytest.fixture(scope="session")
def llm_server(model_path: Path) -> Iterator[ServerProcess]:
    server = start_server(model_path)
    try:
        yield server
    finally:
        server.kill()
