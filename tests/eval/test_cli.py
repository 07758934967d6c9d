"""The command line: argument errors, report files, and the --baseline regression exit code."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval import cli
from eval import run as run_module
from eval.dataset import GOLD_DIR
from eval.run import Run, Unit
from eval.systems import get_config

SEEDS_GOLD = str(GOLD_DIR / "seeds.jsonl")


def fake_run(config, dataset, corpus, distractors=(), embedder=None, use_llm=True,  # noqa: ANN001
             progress=False) -> Run:
    units = []
    for i, item in enumerate(dataset.items):
        right = i % 4 != 3
        metrics = {"recall@5": 1.0 if right else 0.0, "mrr@10": 1.0 if right else 0.0}
        if item.type != "conversation" and item.turns[0].answerable:
            metrics.update({"answer_contained": float(right), "crag": 1.0 if right else -1.0,
                            "false_refusal": 0.0})
        units.append(Unit(item_id=item.id, turn=0, type=item.type, question="q",
                          standalone="q", gold_answers=item.turns[0].answers, answer="a",
                          refused=False, citations=(), retrieved=(), metrics=metrics,
                          timings={"retrieve": 0.01, "total": 0.02}))
    return Run(config=config, dataset=dataset.name, noise=bool(distractors), corpus=(),
               ingest_seconds=1.0, answers=True, units=tuple(units))


@pytest.fixture
def fake(monkeypatch):  # noqa: ANN201
    monkeypatch.setattr(run_module, "evaluate", fake_run)


def summary_with(path: Path, value: float) -> Path:
    prev = {"runs": {"extractive/seeds": {"metrics": {
        "recall@5": {"value": value, "ci_low": 0, "ci_high": 1, "n": 1}}}}}
    path.write_text(json.dumps(prev))
    return path


def test_writes_reports_and_passes_against_an_equal_baseline(fake, tmp_path, seeds_dir, capsys):
    out = tmp_path / "out"
    code = cli.main(["--dataset", SEEDS_GOLD, "--config", "extractive",
                     "--out", str(out), "--quiet"])
    assert code == 0
    for name in ("results.jsonl", "summary.json", "report.md", "metrics.png", "latency.png"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    value = summary["runs"]["extractive/seeds"]["metrics"]["recall@5"]["value"]
    assert "| extractive | seeds |" in capsys.readouterr().out
    (out / "report.md").unlink()
    assert cli.main(["--render", str(out)]) == 0
    assert "## Head to head" in (out / "report.md").read_text()
    code = cli.main(["--dataset", SEEDS_GOLD, "--config", "extractive", "--out",
                     str(out), "--quiet", "--baseline", str(summary_with(tmp_path / "p.json",
                                                                         value))])
    assert code == 0


def test_config_limit_runs_a_subset_and_adds_same_item_rows(fake, tmp_path, seeds_dir):
    from eval.dataset import load_dataset
    out = tmp_path / "out"
    code = cli.main(["--dataset", SEEDS_GOLD, "--config", "extractive", "--config",
                     "stock-llamaindex-retriever", "--config-limit",
                     "stock-llamaindex-retriever=12", "--out", str(out), "--quiet"])
    assert code == 0
    runs = json.loads((out / "summary.json").read_text())["runs"]
    all_items = len(load_dataset(Path(SEEDS_GOLD)).items)
    assert runs["extractive/seeds"]["items"] == all_items
    assert runs["stock-llamaindex-retriever/seeds"]["items"] == 12
    same = runs["extractive [stock-llamaindex-retriever items]/seeds"]
    assert same["items"] == 12 and same["units"] == 12
    chosen = {json.loads(line)["item_id"] for line in (out / "results.jsonl").open()
              if json.loads(line)["config"] == "stock-llamaindex-retriever"}
    assert chosen == {i.id for i in load_dataset(Path(SEEDS_GOLD)).limit(12).items}
    assert "| extractive [stock-llamaindex-retriever items] | seeds |" in (
        out / "report.md").read_text()


def test_regression_beyond_tolerance_exits_1(fake, tmp_path, seeds_dir, capsys):
    args = ["--dataset", SEEDS_GOLD, "--config", "extractive",
            "--out", str(tmp_path / "out"), "--quiet"]
    better = summary_with(tmp_path / "prev.json", 0.99)
    assert cli.main([*args, "--baseline", str(better)]) == 1
    assert "REGRESSION" in capsys.readouterr().out
    assert cli.main([*args, "--baseline", str(better), "--tolerance", "0.5"]) == 0


def test_thresholds_failure_exits_1(fake, tmp_path, seeds_dir):
    thresholds = tmp_path / "t.json"
    thresholds.write_text(json.dumps({"run": "extractive/seeds", "min": {"recall@5": 0.99}}))
    args = ["--dataset", SEEDS_GOLD, "--config", "extractive",
            "--out", str(tmp_path / "out"), "--quiet", "--thresholds", str(thresholds)]
    assert cli.main(args) == 1
    thresholds.write_text(json.dumps({"run": "extractive/seeds", "min": {"recall@5": 0.5},
                                      "max": {"false_refusal": 0.1}}))
    assert cli.main(args) == 0


@pytest.mark.parametrize("argv, message", [
    (["--config", "nope"], "unknown config"),
    (["--dataset", "missing.jsonl", "--corpus", "."], "gold file not found"),
    (["--dataset", SEEDS_GOLD, "--corpus", "a", "--corpus", "b"],
     "one --corpus per --dataset"),
    (["--limit", "0"], "--limit must be positive"),
    (["--config", "extractive", "--config-limit", "extractive"], "wants NAME=N"),
    (["--config", "extractive", "--config-limit", "extractive=0"], "wants NAME=N"),
    (["--config", "extractive", "--config-limit", "local=5"], "not a --config of this run"),
])
def test_bad_arguments_exit_2(argv, message, capsys, tmp_path):
    assert cli.main([*argv, "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_config_registry():
    assert get_config("extractive").engine == "extractive"
    assert not get_config("stock-llamaindex-retriever").answers
    with pytest.raises(ValueError):
        get_config("nope")


def test_make_thresholds_sits_below_measured():
    from eval.report import check_thresholds, make_thresholds

    def est(v: float) -> dict:
        return {"value": v, "ci_low": v, "ci_high": v, "n": 50}
    summary = {"created": "now", "runs": {"extractive/seeds": {"metrics": {
        "recall@5": est(0.987), "crag": est(0.6), "false_refusal": est(0.2),
        "f1": est(0.1)}}}}
    t = make_thresholds(summary, "extractive/seeds")
    assert t["min"] == {"recall@5": 0.93, "crag": 0.55}
    assert t["max"] == {"false_refusal": 0.25}
    assert check_thresholds(summary, t) == []
    summary["runs"]["extractive/seeds"]["metrics"]["recall@5"] = est(0.9)
    assert check_thresholds(summary, t) == ["recall@5 = 0.900, min 0.930"]
    summary["runs"]["extractive/seeds"]["metrics"]["crag"] = {"value": 0.6, "n": 10}
    assert make_thresholds(summary, "extractive/seeds")["min"]["crag"] == 0.5  # 1/n slack
