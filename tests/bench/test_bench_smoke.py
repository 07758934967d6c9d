"""`newscite bench --quick` end to end: reports exist and hold sane numbers (speed is reported,
not asserted)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.server
@pytest.mark.timeout(1500)
def test_quick_bench_writes_sane_reports(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    exe = Path(sys.executable).with_name("newscite")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "rag"]
    proc = subprocess.run([*cmd, "bench", "--quick", "--load", "--out", str(out), "--work",
                           str(tmp_path / "work"), "--quiet"],
                          cwd=ROOT, capture_output=True, text=True, timeout=1500,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads((out / "results.json").read_text())
    md = (out / "results.md").read_text()
    png = (out / "bench.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    assert "## Ingest" in md and "## Query latency" in md and "## Goals" in md

    assert data["help"]["median_s"] > 0
    embedded = [x for x in data["ingest"] if x["chroma"] == "embedded"]
    server = [x for x in data["ingest"] if x["chroma"] == "server"]
    assert embedded and server
    for row in embedded + server:
        n = row["newscite"]
        assert 50 <= n["chunks"] <= 400 and n["seconds"] > 0 and n["peak_rss_mb"] > 100
        assert 0.5 < row["ratio_to_encode"] < 20
        unchanged = row["newscite_unchanged"]
        assert unchanged["chunks"] == 0 and not unchanged["model_loaded"]
        assert 0 < row["newscite_changed"]["chunks"] < n["chunks"]
    stock = embedded[0]
    assert stock["stock"]["chunks"] > 0 and stock["stock_unchanged"]["seconds"] > 0
    # stock cut to newscite's chunk count: about as many nodes as newscite has chunks
    matched = stock["stock_matched"]["chunks"]
    assert 0.5 * stock["newscite"]["chunks"] <= matched <= 2 * stock["newscite"]["chunks"]
    assert matched > stock["stock"]["chunks"]
    assert stock["stock_matched_unchanged"]["chunks"] == 0
    assert "same chunk count" in md
    # known-item recall: newscite's model read all of its chunks, stock's defaults a part
    found, stock_found = stock["newscite_findable"], stock["stock_findable"]
    assert found["questions"] == stock_found["questions"] == 200
    assert found["recall_at_5"] >= 0.8 and found["recall_at_5"] >= stock_found["recall_at_5"]
    assert stock["bare"]["word_pieces_read"] == stock["bare"]["word_pieces"]
    assert stock["stock_bare"]["word_pieces_read"] < stock["stock_bare"]["word_pieces"]
    assert "known-item recall@5" in md
    assert f"| {stock['stock_matched_tokens']} tokens |" in md

    assert {x["chroma"] for x in data["retrieval"]} == {"embedded", "server"}
    for row in data["retrieval"]:
        for phase in ("retrieve", "answer"):
            lat = row["newscite"][phase]
            assert lat["n"] == data["options"]["questions"]
            assert 0 < lat["p50_ms"] <= lat["p95_ms"] < 60_000
        assert 0 <= row["newscite"]["prefetch_wait_s"] < 60
    assert data["retrieval"][0]["stock"]["retrieve"]["p50_ms"] > 0
    serve = data["retrieval"][0]["serve"]
    assert 100 < serve["rss_mb"] < 4000
    assert serve["load"]["errors"] == 0 and serve["load"]["requests"] == 20
