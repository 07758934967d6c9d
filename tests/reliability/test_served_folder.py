"""A served data folder and CLI processes on it: reads work, writes are refused, nothing is lost."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from rel_helpers import (
    BASE_ENV,
    PYTHON,
    ROOT,
    SAMPLE,
    cli,
    free_port,
    start_server,
    stop_server,
)

pytestmark = [pytest.mark.integration, pytest.mark.server, pytest.mark.fault, pytest.mark.slow]

SERVED = "is being served by newscite"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    data = tmp_path / "data"
    process, url = start_server(data, tmp_path / "server.log", "--ingest", str(SAMPLE))
    try:
        yield process, url, data
    finally:
        if process.poll() is None:
            stop_server(process)


def _upload(url: str, name: str, text: str) -> dict:
    r = httpx.post(url + "/api/articles?wait=true", files={"files": (name, text.encode(), "text/plain")},
                   timeout=120)
    assert r.status_code == 200, r.text
    return r.json()


def _article(n: int) -> str:
    return (f"Ferry timetable change number {n}\n\nThe island ferry company said its route {n} "
            f"would sail {n + 4} times a day from next month. Tickets for route {n} cost "
            f"{12 + n} euros.\n")


def _manifest_rows(data: Path) -> tuple[set[str], str]:
    db = sqlite3.connect(str(data / "manifest.sqlite"))
    try:
        titles = {r[0] for r in db.execute("SELECT title FROM articles")}
        return titles, db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


def test_cli_commands_on_a_served_folder_lose_nothing(server, tmp_path: Path) -> None:
    process, url, data = server
    before = {a["title"] for a in httpx.get(url + "/api/articles", timeout=30).json()}
    assert before
    _upload(url, "ferry-1.txt", _article(1))

    # reads from other processes work while the folder is served
    listed = cli("articles", "--data-dir", data, "--json")
    assert listed.returncode == 0, listed.stderr
    assert "Ferry timetable change number 1" in {a["title"] for a in json.loads(listed.stdout)}
    verified = cli("index", "verify", "--data-dir", data)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    exported = cli("export", tmp_path / "out.jsonl", "--data-dir", data)
    assert exported.returncode == 0, exported.stderr
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == len(before) + 1

    # writes from other processes are refused with a clear message, and change nothing
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "ferry-9.txt").write_text(_article(9))
    for args in (("ingest", extra), ("delete", "0" * 16), ("import", tmp_path / "out.jsonl"),
                 ("index", "rebuild")):
        refused = cli(*args, "--data-dir", data)
        assert refused.returncode == 1, (args, refused.stdout, refused.stderr)
        assert SERVED in refused.stderr and url in refused.stderr, refused.stderr

    # a second server on the same folder does not start
    second = subprocess.run([PYTHON, "-m", "rag", "serve", "--data-dir", str(data), "--port",
                             str(free_port())], cwd=ROOT, env=BASE_ENV, capture_output=True,
                            text=True, timeout=120)
    assert second.returncode == 1 and "already served" in second.stderr, second.stderr

    # the server's own writes after all of that are kept
    _upload(url, "ferry-2.txt", _article(2))
    answer = httpx.post(url + "/api/ask", json={"question": "How much does a ticket for route "
                                                "2 cost?"}, timeout=120)
    assert answer.status_code == 200, answer.text
    wal = Path(f"{data / 'manifest.sqlite'}-wal")
    assert wal.exists()
    fds = [os.readlink(f) for f in Path(f"/proc/{process.pid}/fd").iterdir()
           if os.path.islink(f)]
    assert not [f for f in fds if "manifest.sqlite" in f and f.endswith("(deleted)")], fds
    stop_server(process)

    titles, integrity = _manifest_rows(data)
    assert integrity == "ok"
    assert titles == before | {"Ferry timetable change number 1",
                               "Ferry timetable change number 2"}
    assert cli("index", "verify", "--data-dir", data).returncode == 0

    # and after a restart the server lists and answers from all of them
    again, url2 = start_server(data, tmp_path / "server2.log")
    try:
        listed2 = {a["title"] for a in httpx.get(url2 + "/api/articles", timeout=30).json()}
        assert listed2 == titles
        r = httpx.post(url2 + "/api/ask", json={"question": "How many times a day will route "
                                                "2 sail?"}, timeout=120)
        assert r.status_code == 200 and "6" in r.json()["text"], r.text
    finally:
        stop_server(again)
    # once the server has stopped, the CLI may write again
    assert cli("ingest", extra, "--data-dir", data, "--quiet").returncode == 0
