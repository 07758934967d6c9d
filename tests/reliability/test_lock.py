"""One writer per data folder: a second writer fails fast; questions work during an ingest."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from rel_helpers import (
    BASE_ENV,
    GOLDEN,
    PYTHON,
    ROOT,
    SAMPLE,
    SEEDS,
    cli,
    popen_cli,
    snapshot,
)

from core.settings import Settings
from rag.assistant import Assistant

pytestmark = [pytest.mark.integration, pytest.mark.fault, pytest.mark.slow]

LOCKED = "another newscite process is writing"


def _articles(data: Path) -> int:
    db = sqlite3.connect(f"file:{data / 'manifest.sqlite'}?mode=ro", uri=True, timeout=30)
    try:
        return int(db.execute("SELECT COUNT(*) FROM articles").fetchone()[0])
    finally:
        db.close()


def _extra_articles(folder: Path, n: int = 10) -> Path:
    """Small distinct articles, one chunk each: with GROUP_CHUNKS=1, one write group each."""
    folder.mkdir()
    for i in range(n):
        (folder / f"harbour-{i:02d}.txt").write_text(
            f"Harbour board report number {i} on dredging\n\n"
            f"The harbour board said dredging of berth {i} would finish in week {i + 3}. "
            f"Crews moved {1000 + i * 37} cubic metres of silt on the first day.\n")
    return folder


def test_second_writer_fails_fast_and_queries_work_during_ingest(tmp_path, minilm, need_seeds):
    data = tmp_path / "data"
    base = Assistant(Settings(data_dir=data, engine="extractive"), embedder=minilm)
    base.ingest([SAMPLE])
    before = _articles(data)
    base.close()
    extra = _extra_articles(tmp_path / "extra")
    gate = tmp_path / "gate"
    gate.touch()
    (tmp_path / "empty.jsonl").write_text("")

    asker = subprocess.Popen([PYTHON, str(Path(__file__).with_name("asker.py")), str(data),
                              GOLDEN], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True, env=BASE_ENV, cwd=ROOT)
    writer = popen_cli("ingest", SEEDS, extra, "--data-dir", data, "--quiet",
                       env={"NEWSCITE_GROUP_CHUNKS": "1", "NEWSCITE_TEST_GATE": str(gate),
                            "NEWSCITE_TEST_SLOW_EMBED": "0.3"}, log=tmp_path / "writer.log")
    try:
        assert asker.stdout.readline().strip() == "ready"

        def ask(n: int) -> list[dict]:
            asker.stdin.write(f"ask {n}\n")
            asker.stdin.flush()
            return [json.loads(asker.stdout.readline()) for _ in range(n)]

        # the writer committed its first group and now waits at the gate, holding the lock
        deadline = time.monotonic() + 240
        while _articles(data) == before:
            assert writer.poll() is None, (tmp_path / "writer.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the writer never committed a group"
            time.sleep(0.2)

        for command in (["ingest", SAMPLE], ["delete", "0000000000000000"],
                        ["index", "rebuild", "--quiet"], ["import", tmp_path / "empty.jsonl"]):
            t = time.monotonic()
            second = cli(*command, "--data-dir", data)
            took = time.monotonic() - t
            assert second.returncode == 1, (command, second.stdout, second.stderr)
            assert LOCKED in second.stderr, (command, second.stderr)
            assert "Traceback" not in second.stderr
            assert took < 30, f"{command[0]} took {took:.1f}s to give up"  # no waiting for the lock

        # a warm process and a cold one answer while the ingest is half done
        during = ask(2)
        cold = cli("ask", GOLDEN, "--engine", "extractive", "--json", "--data-dir", data)
        assert cold.returncode == 0, cold.stderr[-2000:]
        cold_answer = json.loads(cold.stdout)
        assert writer.poll() is None, "the ingest ended before the questions were asked"

        gate.unlink()  # let the writer go on; ask while it writes group after group
        racing = []
        while writer.poll() is None and len(racing) < 40:
            racing += ask(1)
        assert writer.wait(timeout=300) == 0, (tmp_path / "writer.log").read_text()[-2000:]
        after = ask(1)
    finally:
        gate.unlink(missing_ok=True)
        if writer.poll() is None:
            writer.kill()
        if asker.poll() is None:
            asker.stdin.write("quit\n")
            asker.stdin.flush()
            try:
                asker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                asker.kill()

    for answer in [*during, *racing, *after]:
        assert answer["ok"], answer
        assert not answer["refused"] and answer["citations"], answer
        assert "Thirty-three" in answer["text"] or "33" in answer["text"], answer
    assert cold_answer["citations"] and not cold_answer["refused"]
    assert racing, "no question was asked while the writer was writing"
    # the ingest completed normally, and the index is consistent from a fresh process
    view = snapshot([data])[str(data)]
    assert view["problems"] == []
    assert view["manifest"] == view["chroma"] == view["keyword"]
    assert len(view["articles"]) == before + 2 + 10
    print(f"\n{len(during)} warm + 1 cold answers with the writer paused mid-ingest, "
          f"{len(racing)} while it wrote")
