"""For the reliability tests: corpus paths, the `newscite` subprocess, fresh-process checks."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "eval" / "corpus" / "sample"
SEEDS = (ROOT / ".." / "shared" / "corpus" / "seeds").resolve()
PYTHON = sys.executable
SNAPSHOT = Path(__file__).with_name("snapshot.py")
GOLDEN = "How many Turkish soldiers died in the air raid, according to the Hatay governor?"

BASE_ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            "GRADIO_ANALYTICS_ENABLED": "False", "ANONYMIZED_TELEMETRY": "False",
            "TOKENIZERS_PARALLELISM": "false"}
for _name in ("NEWSCITE_TEST_KILL", "NEWSCITE_GROUP_CHUNKS", "NEWSCITE_DATA_DIR"):
    BASE_ENV.pop(_name, None)

# `python -m rag` (index.pipeline reads NEWSCITE_GROUP_CHUNKS and NEWSCITE_TEST_KILL itself) plus
# test-only knobs applied in the child before the CLI runs: NEWSCITE_TEST_SLOW_EMBED (seconds of
# sleep before each embedding call), NEWSCITE_TEST_GATE (a file: from the second embedding call
# on, wait while it exists), so another process can be run at a known point of a running ingest;
# NEWSCITE_TEST_KILL_IN_UPSERT=N:SECONDS kills the process that long after its Nth Chroma upsert
# started (inside Chroma's own write, usually).
KNOBS = ("NEWSCITE_TEST_SLOW_EMBED", "NEWSCITE_TEST_GATE", "NEWSCITE_TEST_KILL_IN_UPSERT")
LAUNCHER = """
import os, sys, time
slow = float(os.environ.get("NEWSCITE_TEST_SLOW_EMBED") or 0)
gate = os.environ.get("NEWSCITE_TEST_GATE")
if slow or gate:
    import index.embed, index.onnx_embed
    _calls, _inside = [0], [False]
    def knobbed(_embed):  # ingest embeds through ONNX, or PyTorch (also ONNX's fallback)
        def embed(self, texts):
            if _inside[0]:
                return _embed(self, texts)
            _calls[0] += 1
            deadline = time.monotonic() + 300
            while gate and _calls[0] >= 2 and os.path.exists(gate) and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(slow)
            _inside[0] = True
            try:
                return _embed(self, texts)
            finally:
                _inside[0] = False
        return embed
    for _cls in (index.embed.MiniLMEmbedder, index.onnx_embed.OnnxMiniLM):
        _cls.embed = knobbed(_cls.embed)
timed = os.environ.get("NEWSCITE_TEST_KILL_IN_UPSERT")
if timed:
    import signal, threading
    import index.store
    _nth, _delay = timed.split(":")
    _upsert = index.store.ChromaStore.upsert
    _count = [0]
    def upsert(self, *args, **kwargs):
        _count[0] += 1
        if _count[0] == int(_nth):
            threading.Timer(float(_delay), os.kill, (os.getpid(), signal.SIGKILL)).start()
        return _upsert(self, *args, **kwargs)
    index.store.ChromaStore.upsert = upsert
from ui.cli import main
sys.exit(main(sys.argv[1:]))
"""


def cli(*args: str | Path, env: dict[str, str] | None = None, timeout: float = 300,
        user: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run `newscite ARGS` in a fresh process (as `user` via setpriv when given)."""
    knobs = any(k in (env or {}) for k in KNOBS)
    cmd = [PYTHON, *(["-c", LAUNCHER] if knobs else ["-m", "rag"]), *map(str, args)]
    if user:
        import pwd
        entry = pwd.getpwnam(user)
        cmd = ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--clear-groups",
               *cmd]
    return subprocess.run(cmd, env={**BASE_ENV, **(env or {})}, capture_output=True, text=True,
                          timeout=timeout, cwd=cwd or ROOT)


def popen_cli(*args: str | Path, env: dict[str, str] | None = None,
              log: Path | None = None) -> subprocess.Popen[str]:
    out = open(log, "w") if log else subprocess.PIPE  # noqa: SIM115 - the child keeps it
    return subprocess.Popen([PYTHON, "-c", LAUNCHER, *map(str, args)],
                            env={**BASE_ENV, **(env or {})}, stdout=out,
                            stderr=subprocess.STDOUT if log else subprocess.PIPE, text=True,
                            cwd=ROOT)


def copy_corpus(target: Path) -> Path:
    """The sample corpus plus the two seed articles, copied so a test may edit them."""
    shutil.copytree(SAMPLE, target)
    for seed in sorted(SEEDS.glob("*.txt")):
        shutil.copy(seed, target / seed.name)
    for path in target.iterdir():
        path.chmod(0o644)
    return target


def snapshot(dirs: list[Path], question: str = GOLDEN, timeout: float = 300) -> dict[str, Any]:
    """For each data folder, from a fresh process: ids in the manifest, Chroma and the keyword
    table, `verify` problems, and the golden query's top passages and answer."""
    proc = subprocess.run([PYTHON, str(SNAPSHOT), question, *map(str, dirs)], env=BASE_ENV,
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def release_chroma(data_dir: Path) -> None:
    """Stop this process's embedded Chroma for a folder, so the folder can be copied safely."""
    from index.chroma_reset import release_embedded
    release_embedded(data_dir / "chroma")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data: Path, log: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    """`newscite serve` (extractive) on a free 127.0.0.1 port over `data`; its URL once healthy."""
    import httpx

    port = free_port()
    cmd = [PYTHON, "-m", "rag", "serve", "--data-dir", str(data), "--host", "127.0.0.1",
           "--port", str(port), "--engine", "extractive", *extra]
    with open(log, "ab") as out:
        process = subprocess.Popen(cmd, cwd=ROOT, env=BASE_ENV, stdout=out,
                                   stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(url + "/api/health", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"server never healthy:\n{log.read_text(errors='replace')[-3000:]}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
