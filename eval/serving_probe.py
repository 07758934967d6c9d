"""`python -m eval.serving_probe`: /api/ask latency of a real server idle and during a big upload.

Starts `newscite serve` (extractive engine) on 127.0.0.1 over the sample corpus, times the sample
gold questions one after another while idle, then uploads a JSON-lines file of about `--mb`
megabytes of generated articles (a background ingest job) and keeps asking until the job is
done. Writes p50/p95 of both phases, the health probe's latency and the job's duration to
`--out` (report.md and summary.json).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "eval" / "corpus" / "sample"
GOLD = ROOT / "eval" / "gold" / "sample.jsonl"
WORDS = ("council harbour bridge river minister report ferry budget election court police "
         "storm school hospital station market festival museum airport railway").split()


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bulk_articles(megabytes: float, seed: int = 7) -> bytes:
    """Generated articles as JSON lines, about `megabytes` MB (deterministic)."""
    rng = random.Random(seed)
    out: list[str] = []
    size, i = 0, 0
    while size < megabytes * 1e6:
        text = " ".join(
            f"The {rng.choice(WORDS)} office said the {rng.choice(WORDS)} {rng.choice(WORDS)} "
            f"would cost {rng.randint(2, 900)} thousand euros and open in week {rng.randint(1, 52)}."
            for _ in range(25))
        line = json.dumps({"title": f"Local bulletin {i}", "source": "Town Wire",
                           "published": "2021-06-01", "text": text})
        out.append(line)
        size += len(line) + 1
        i += 1
    return "\n".join(out).encode()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _ask(client: httpx.Client, question: str) -> float:
    t = time.perf_counter()
    r = client.post("/api/ask", json={"question": question, "engine": "extractive"})
    r.raise_for_status()
    return time.perf_counter() - t


def run(megabytes: float, idle_rounds: int, out: Path) -> dict:
    items = [json.loads(line) for line in GOLD.read_text().splitlines() if line.strip()]
    questions = [i["question"] for i in items if isinstance(i.get("question"), str)]
    with tempfile.TemporaryDirectory(prefix="newscite-probe-") as tmp:
        port = _port()
        log = open(Path(tmp) / "server.log", "wb")  # noqa: SIM115 - closed below
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
        server = subprocess.Popen(
            [sys.executable, "-m", "rag", "serve", "--data-dir", f"{tmp}/data", "--port",
             str(port), "--engine", "extractive", "--ingest", str(SAMPLE)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120)
            for _ in range(600):
                try:
                    if client.get("/api/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.5)
            for q in questions[:5]:  # warm up
                _ask(client, q)
            idle = [_ask(client, q) for _ in range(idle_rounds) for q in questions]
            body = bulk_articles(megabytes)
            t = time.perf_counter()
            r = client.post("/api/articles", files={"files": ("bulk.jsonl", body)})
            r.raise_for_status()
            upload_seconds = time.perf_counter() - t
            job_id = r.json()["id"]
            busy: list[float] = []
            health: list[float] = []
            state: dict = {}
            while True:
                for q in questions:
                    busy.append(_ask(client, q))
                    h = time.perf_counter()
                    client.get("/api/health").raise_for_status()
                    health.append(time.perf_counter() - h)
                state = client.get(f"/api/jobs/{job_id}").json()
                if state["state"] in ("done", "failed"):
                    break
            job_seconds = (state["finished"] or 0) - (state["started"] or 0)
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
            log.close()
    summary = {
        "upload_mb": round(len(body) / 1e6, 2), "job_state": state.get("state"),
        "chunks": (state.get("report") or {}).get("chunks_embedded"),
        "job_seconds": round(job_seconds, 1), "upload_request_seconds": round(upload_seconds, 2),
        "idle": {"n": len(idle), "p50_ms": round(1000 * statistics.median(idle), 1),
                 "p95_ms": round(1000 * _pct(idle, 0.95), 1)},
        "during_upload": {"n": len(busy), "p50_ms": round(1000 * statistics.median(busy), 1),
                          "p95_ms": round(1000 * _pct(busy, 0.95), 1)},
        "health_during_upload": {"n": len(health),
                                 "p95_ms": round(1000 * _pct(health, 0.95), 1),
                                 "max_ms": round(1000 * max(health), 1)},
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
    }
    summary["p95_ratio"] = round(summary["during_upload"]["p95_ms"] / summary["idle"]["p95_ms"], 2)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "report.md").write_text(
        "# /api/ask while a big upload is indexed\n\n"
        f"Command: `python -m eval.serving_probe --mb {megabytes:g} --out {out}`\n\n"
        "| phase | questions | p50 ms | p95 ms |\n|---|---|---|---|\n"
        f"| idle | {summary['idle']['n']} | {summary['idle']['p50_ms']} | "
        f"{summary['idle']['p95_ms']} |\n"
        f"| during a {summary['upload_mb']} MB upload ({summary['chunks']} passages, job "
        f"{summary['job_seconds']} s) | {summary['during_upload']['n']} | "
        f"{summary['during_upload']['p50_ms']} | {summary['during_upload']['p95_ms']} |\n\n"
        f"p95 during / idle: {summary['p95_ratio']}x. `/api/health` during the upload: p95 "
        f"{summary['health_during_upload']['p95_ms']} ms, max "
        f"{summary['health_during_upload']['max_ms']} ms. The upload request itself answered "
        f"in {summary['upload_request_seconds']} s. Machine: {summary['machine']}.\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval.serving_probe", description=__doc__)
    p.add_argument("--mb", type=float, default=4.9, help="size of the upload (default 4.9)")
    p.add_argument("--idle-rounds", type=int, default=1,
                   help="passes over the sample questions while idle (default 1)")
    p.add_argument("--out", type=Path, default=ROOT / "eval" / "reports" / "serving")
    args = p.parse_args(argv)
    print(json.dumps(run(args.mb, args.idle_rounds, args.out), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
