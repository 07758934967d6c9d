"""A large upload is indexed by a background job while the server keeps answering."""
from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from rel_helpers import SAMPLE, start_server, stop_server

pytestmark = [pytest.mark.integration, pytest.mark.server, pytest.mark.slow]

QUESTION = "How many Turkish soldiers were killed in the air strike?"


def _bulk(n: int) -> bytes:
    """`n` small distinct articles as JSON lines, about six passages each."""
    lines = []
    for i in range(n):
        text = " ".join(f"The river authority said lock {i}-{j} on the canal would reopen after "
                        f"{j + 3} weeks of repairs costing {100 + i + j} thousand euros, and "
                        f"boats would pass at {j + 6} o'clock."
                        for j in range(30))
        lines.append(json.dumps({"title": f"Canal works bulletin {i}", "source": "Canal Post",
                                 "published": "2021-05-04", "text": text}))
    return "\n".join(lines).encode()


def test_questions_are_answered_while_an_upload_is_indexed(tmp_path: Path) -> None:
    process, url = start_server(tmp_path / "data", tmp_path / "server.log", "--ingest",
                                str(SAMPLE))
    try:
        before = len(httpx.get(url + "/api/articles", timeout=30).json())
        r = httpx.post(url + "/api/articles", timeout=120,
                       files={"files": ("bulletins.jsonl", _bulk(60), "application/json")})
        assert r.status_code == 202, r.text
        job = r.json()
        assert r.headers["location"] == f"/api/jobs/{job['id']}"
        answered_while_running = 0
        progress = []
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            health = httpx.get(url + "/api/health", timeout=30)
            assert health.status_code == 200
            ask = httpx.post(url + "/api/ask", json={"question": QUESTION,
                                                     "engine": "extractive"}, timeout=60)
            assert ask.status_code == 200, ask.text
            assert ask.json()["citations"], ask.json()["text"]
            listed = httpx.get(url + "/api/articles", timeout=30).json()
            state = httpx.get(url + f"/api/jobs/{job['id']}", timeout=30).json()
            if state["state"] in ("done", "failed"):
                break
            # answered from the committed state while the job was still running
            answered_while_running += 1
            assert len(listed) >= before
            progress.append(state["done"])
        assert state["state"] == "done", state
        # questions did not wait for the ingest (they did when an upload held a write lock)
        assert answered_while_running >= 1, answered_while_running
        assert progress == sorted(progress) and state["report"]["chunks_embedded"] > 200
        assert len(httpx.get(url + "/api/articles", timeout=30).json()) == before + 60
        assert [j["id"] for j in httpx.get(url + "/api/jobs", timeout=30).json()] == [job["id"]]
        assert httpx.get(url + "/api/jobs/job-999", timeout=30).status_code == 404
    finally:
        stop_server(process)
