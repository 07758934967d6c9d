"""The CI smoke evaluation: extractive newscite on the seeds gold set meets eval/thresholds.json."""
from __future__ import annotations

import json

import pytest

from eval.cli import THRESHOLDS
from eval.dataset import GOLD_DIR, load_dataset
from eval.report import build_summary, check_thresholds
from eval.run import evaluate
from eval.systems import get_config

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_smoke_evaluation_meets_thresholds(seeds_dir):
    thresholds = json.loads(THRESHOLDS.read_text(encoding="utf-8"))
    config_name, dataset_name = thresholds["run"].split("/")
    dataset = load_dataset(GOLD_DIR / f"{dataset_name}.jsonl")
    run = evaluate(get_config(config_name), dataset, [seeds_dir], use_llm=False)
    summary = build_summary([run])
    assert run.units and not any(u.error for u in run.units)
    failures = check_thresholds(summary, thresholds)
    metrics = {k: v["value"] for k, v in summary["runs"][thresholds["run"]]["metrics"].items()}
    assert not failures, f"below eval/thresholds.json: {failures}; measured {metrics}"
