"""`newscite bench --llm`: the LLM latency summary, and one real run with the packaged model."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from eval.bench.llm import markdown, summarise

ROOT = Path(__file__).resolve().parents[2]


def record(first: float, total: float, refused: bool = False, engine: str = "local",
           prompt: float | None = 300, new: float | None = 120) -> dict:
    return {"dataset": "seeds", "item": "x", "type": "factoid", "question": "q",
            "extractive": {"first_token_s": 0.01, "total_s": 0.02, "refused": False,
                           "engine": "extractive"},
            "local": {"first_token_s": first, "total_s": total, "refused": refused,
                      "engine": engine, "prompt_tokens": prompt, "new_prompt_tokens": new,
                      "model_first_token_s": None if refused else first - 0.5}}


def test_summary_separates_fallbacks_and_refusals() -> None:
    records = [record(3.0, 3.5), record(5.0, 6.0), record(1.0, 1.0, refused=True),
               record(9.0, 9.0, engine="extractive", prompt=None, new=None)]
    s = summarise(records)
    assert s["questions"] == 4 and s["fell_back_to_extractive"] == 1
    assert s["local_first_token_s"] == {"median": 3.0, "p95": 5.0, "n": 3}
    assert s["local_first_token_answered_s"]["median"] == 4.0
    assert s["local_refused"] == 1 and s["prompt_tokens"]["median"] == 300
    assert s["local_model_first_token_s"]["median"] == 3.5  # answered by the local model only
    assert s["goal_met"] is True
    s = summarise([record(4.5, 5.0)])
    assert s["goal_met"] is False
    text = markdown({"summary": s, "settings": {"evidence_tokens": 160}},
                    {"cores": 2, "loadavg_1_5_15": [0.5, 0.5, 0.5], "when": "now"})
    assert "**not met** (4.50 s)" in text and "evidence budget 160 tokens" in text


@pytest.mark.llm
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_bench_llm_runs_the_packaged_model(tmp_path: Path) -> None:
    from rag.llm.model import is_local_available

    if not is_local_available():
        pytest.skip("xllamacpp or the packaged model parts are not installed")
    exe = Path(sys.executable).with_name("newscite")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "rag"]
    proc = subprocess.run([*cmd, "bench", "--llm", "--llm-questions", "1", "--out",
                           str(tmp_path), "--quiet"], cwd=ROOT, capture_output=True, text=True,
                          timeout=900, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads((tmp_path / "llm.json").read_text())
    assert len(data["records"]) == 2  # one question from each gold set
    for row in data["records"]:
        # the model's answer, or the quick (extractive) answer kept when the model's failed
        # the citation check
        assert row["local"]["engine"] == "local" or row["local"]["kept_quick"]
        # the quick answer comes before the model's first text
        assert 0 < row["local"]["quick_s"] <= row["local"]["first_token_s"]
        assert 0 < row["local"]["first_token_s"] <= row["local"]["total_s"]
        # the fixed prefix (rules, worked examples) comes from the prompt cache: the model
        # reads less than one whole prompt for the pre-check and the answer together
        assert 0 < row["local"]["new_prompt_tokens"] < row["local"]["prompt_tokens"]
        if not row["local"]["refused"]:
            assert 0 < row["local"]["model_first_token_s"] <= row["local"]["first_token_s"]
    assert "time to first token" in (tmp_path / "llm.md").read_text()
