"""Ctrl-C during an ingest stops cleanly, and running the same command again completes it."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _cmd() -> list[str]:
    exe = Path(sys.executable).with_name("newscite")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "rag"]


def _articles_done(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=1) as con:
            return int(con.execute("SELECT COUNT(*) FROM articles").fetchone()[0])
    except sqlite3.Error:
        return 0


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_sigint_mid_ingest_then_rerun_completes(tmp_path: Path) -> None:
    from core.records import Article
    from eval.bench.corpus import write_corpus
    from index.chunk import chunk_article
    from index.keyword import KeywordSearcher
    from index.load import load_paths
    from index.manifest import Manifest
    from index.store import ChromaStore

    corpus = tmp_path / "corpus"
    articles = write_corpus(corpus, 240, seed=7)
    data = tmp_path / "data"
    db = data / "manifest.sqlite"
    env = {**os.environ, "NEWSCITE_GROUP_CHUNKS": "24", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "NEWSCITE_TEST_PAUSE": "1"}
    cmd = [*_cmd(), "ingest", str(corpus), "--quiet", "--data-dir", str(data)]
    # a runner started in the background may ignore SIGINT, and children inherit that:
    # give the ingest the default disposition, as a terminal would
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 900
    while _articles_done(db) == 0 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, f"ingest ended before it could be interrupted: {proc.stderr}"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    partial = _articles_done(db)
    assert 0 < partial < len(articles)

    env.pop("NEWSCITE_TEST_PAUSE")
    rerun = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{partial} unchanged" in rerun.stdout

    expected = {c.id for a in load_paths([corpus]) if isinstance(a, Article)
                for c in chunk_article(a)}
    manifest = Manifest(db)
    try:
        assert manifest.count() == len(articles)
        assert manifest.all_chunk_ids() == expected
        assert manifest.keyword_ids() == expected
        assert not manifest.inflight() and not manifest.pending_deletes()
    finally:
        manifest.close()
    from index.embed import MINILM
    store = ChromaStore(data, None, "newscite", MINILM, 384)
    assert store.ids() == expected
    hits = KeywordSearcher(str(db)).search("Turkish soldiers Idlib", 5)
    assert hits and all(h.chunk_id in expected for h in hits)
