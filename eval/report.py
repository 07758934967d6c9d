"""Write results (JSONL, JSON summary, Markdown, PNG plots); compare with a baseline or thresholds."""
from __future__ import annotations

import json
import logging
import math
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.metrics import LOWER_IS_BETTER, regressed
from eval.run import Run, summarise

logger = logging.getLogger(__name__)

# columns of the head-to-head table (and the bar chart), in order
TABLE = ("recall@1", "recall@5", "mrr@10", "ndcg@10", "article_recall@5", "answer_contained",
         "f1", "citation_recall", "citation_precision", "citation_strict_hit",
         "correct_refusal", "false_refusal", "crag")
PLOTTED = ("recall@5", "mrr@10", "answer_contained", "citation_recall", "citation_precision",
           "correct_refusal", "false_refusal", "crag")
ANSWER_METRICS = frozenset({"exact_match", "f1", "answer_contained", "citation_recall",
                            "citation_precision", "citation_strict", "citation_strict_hit",
                            "correct_refusal", "false_refusal", "crag"})


def build_summary(runs: Sequence[Run], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        **(extra or {}),
        "runs": {run.key: summarise(run) for run in runs},
    }


def write_results(runs: Sequence[Run], summary: dict[str, Any], out: Path) -> list[Path]:
    """results.jsonl, summary.json, report.md and the PNG plots in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    path = out / "results.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for run in runs:
            for unit in run.units:
                record = {"config": run.config.name, "dataset": run.dataset,
                          "noise": run.noise, **unit.to_dict()}
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    written.append(path)
    path = out / "summary.json"
    path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    written.append(path)
    from eval.plots import plot_latency, plot_metrics

    plots = [p for p in (plot_metrics(summary, out / "metrics.png", PLOTTED),
                         plot_latency(summary, out / "latency.png")) if p is not None]
    written += plots
    path = out / "report.md"
    path.write_text(markdown(summary, runs, [p.name for p in plots]), encoding="utf-8")
    written.append(path)
    return written


def _cell(run: dict[str, Any], metric: str, ci: bool = False) -> str:
    if metric in ANSWER_METRICS and not run["answers"]:
        return "n/a"
    est = run["metrics"].get(metric)
    if est is None or est["n"] == 0:
        return "–"
    text = f"{est['value']:.2f}"
    if ci:
        text += f" [{est['ci_low']:.2f}, {est['ci_high']:.2f}]"
    return text


def head_to_head(summary: dict[str, Any], columns: Sequence[str] = TABLE) -> str:
    """One Markdown table: a row per config x dataset, key metrics as columns."""
    head = ["config", "dataset", *columns, "ingest s", "median s", "p95 s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for run in summary["runs"].values():
        total = run["latency"].get("total", {})
        dataset = run["dataset"] + (" +noise" if run["noise"] else "")
        cells = [run["config"], dataset, *(_cell(run, c) for c in columns),
                 f"{run['ingest_seconds']:.1f}", f"{total.get('median', float('nan')):.3f}",
                 f"{total.get('p95', float('nan')):.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _noise_drops(summary: dict[str, Any]) -> list[str]:
    runs = summary["runs"]
    out = []
    for key, run in runs.items():
        if not run["noise"]:
            continue
        clean = runs.get(key.removesuffix("+noise"))
        if clean is None:
            continue
        parts = []
        for metric in ("recall@5", "mrr@10", "answer_contained", "correct_refusal", "crag"):
            a, b = clean["metrics"].get(metric), run["metrics"].get(metric)
            if a and b and not (metric in ANSWER_METRICS and not run["answers"]):
                parts.append(f"{metric} {a['value']:.2f} → {b['value']:.2f} "
                             f"({b['value'] - a['value']:+.2f})")
        out.append(f"- `{key}`: " + "; ".join(parts))
    return out


def markdown(summary: dict[str, Any], runs: Sequence[Run], plots: Sequence[str]) -> str:
    lines = ["# newscite evaluation", "",
             f"Created {summary['created']} (Python {summary['python']}, {summary['machine']}). "
             "Each unit is one question or one conversation turn. Retrieval metrics use the "
             "top 10 passages for answerable units; answer and refusal metrics use what the "
             "user sees; citation metrics are judged by `rag.cite.check`. "
             "`n/a` = the configuration gives no answers (retriever only).", "",
             "## Head to head", "", head_to_head(summary), ""]
    lines += ["## Headline metrics with 95% bootstrap intervals", ""]
    head = ("recall@5", "mrr@10", "answer_contained", "citation_recall", "correct_refusal",
            "crag")
    lines.append("| run | " + " | ".join(head) + " |")
    lines.append("|" + "---|" * (len(head) + 1))
    for key, run in summary["runs"].items():
        lines.append(f"| {key} | " + " | ".join(_cell(run, c, ci=True) for c in head) + " |")
    lines.append("")
    drops = _noise_drops(summary)
    if drops:
        lines += ["## With distractor articles (`--noise`)", "", *drops, ""]
    lines += ["## Configurations", ""]
    for key, run in summary["runs"].items():
        note = f" ({'; '.join(run['notes'])})" if run["notes"] else ""
        first = run.get("first_query_seconds")
        cold = f", first (cold) question {first:.1f}s" if first is not None else ""
        lines.append(f"- `{key}`: {run['description']}; {run['units']} units from "
                     f"{run['items']} items, {run['errors']} errors; ingest "
                     f"{run['ingest_seconds']:.1f}s{cold}{note}")
    lines += ["", "## Latency per stage (seconds, median / p95)", ""]
    for key, run in summary["runs"].items():
        stages = ", ".join(f"{s} {v['median']:.3f} / {v['p95']:.3f}"
                           for s, v in run["latency"].items())
        lines.append(f"- `{key}`: {stages}")
    failures = _failures(runs)
    if failures:
        lines += ["", "## Failing units (first 15 per run)", "", *failures]
    if plots:
        lines += ["", "## Plots", "", *(f"![{p}]({p})" for p in plots)]
    return "\n".join(lines) + "\n"


def _failures(runs: Sequence[Run], per_run: int = 15) -> list[str]:
    out = []
    for run in runs:
        if not run.answers:
            continue
        bad = [u for u in run.units if u.metrics.get("crag", 0.0) < 0
               or u.metrics.get("false_refusal") == 1.0]
        if not bad:
            continue
        out.append(f"- `{run.key}`:")
        for u in bad[:per_run]:
            what = ("refused an answerable question" if u.metrics.get("false_refusal") == 1.0
                    else "answered an unanswerable question" if not u.gold_answers
                    else "answer lacks the gold answer")
            turn = f" turn {u.turn}" if u.turn else ""
            out.append(f"  - {u.item_id}{turn}: {what}; recall@5="
                       f"{u.metrics.get('recall@5', float('nan')):.1f}")
    return out


# --- comparisons ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Diff:
    run: str
    metric: str
    previous: float
    current: float
    regression: bool


def compare(current: dict[str, Any], previous: dict[str, Any], tolerance: float) -> list[Diff]:
    """Per run and metric present in both summaries: the change, and whether it regressed."""
    out = []
    for key, run in current["runs"].items():
        old = previous.get("runs", {}).get(key)
        if old is None:
            continue
        for metric, est in run["metrics"].items():
            before = old.get("metrics", {}).get(metric)
            if before is None:
                continue
            a, b = float(before["value"]), float(est["value"])
            out.append(Diff(key, metric, a, b, regressed(metric, a, b, tolerance)))
    return out


def format_diffs(diffs: Sequence[Diff]) -> str:
    lines = []
    for d in diffs:
        flag = "  REGRESSION" if d.regression else ""
        lines.append(f"{d.run:45s} {d.metric:22s} {d.previous:7.3f} -> {d.current:7.3f} "
                     f"({d.current - d.previous:+.3f}){flag}")
    return "\n".join(lines)


def check_thresholds(summary: dict[str, Any], thresholds: dict[str, Any]) -> list[str]:
    """Failures of a summary against thresholds.json: {"run": key, "min": {...}, "max": {...}}."""
    run = summary["runs"].get(thresholds["run"])
    if run is None:
        return [f"run {thresholds['run']} is not in the summary"]
    failures = []
    for bound, sign in (("min", 1), ("max", -1)):
        for metric, limit in thresholds.get(bound, {}).items():
            est = run["metrics"].get(metric)
            value = float("nan") if est is None else float(est["value"])
            if math.isnan(value) or sign * (value - float(limit)) < 0:
                failures.append(f"{metric} = {value:.3f}, {bound} {float(limit):.3f}")
    return failures


def load_json(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


__all__ = ["LOWER_IS_BETTER", "build_summary", "check_thresholds", "compare", "write_results"]
