"""Write results (JSONL, summary, Markdown, plots); compare with a baseline or thresholds."""
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


def unit_records(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """One JSON-ready record per scored unit (the lines of results.jsonl)."""
    return [{"config": run.config.name, "dataset": run.dataset, "noise": run.noise,
             "answers": run.answers, **unit.to_dict()} for run in runs for unit in run.units]


def write_results(runs: Sequence[Run], summary: dict[str, Any], out: Path) -> list[Path]:
    """results.jsonl, summary.json, report.md and the PNG plots in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    records = unit_records(runs)
    path = out / "results.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    path2 = out / "summary.json"
    path2.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return [path, path2, *render(summary, records, out)]


def render(summary: dict[str, Any], records: Sequence[dict[str, Any]], out: Path) -> list[Path]:
    """report.md and the plots from a summary and its unit records."""
    from eval.plots import plot_latency, plot_metrics

    plots = [p for p in (plot_metrics(summary, out / "metrics.png", PLOTTED),
                         plot_latency(summary, out / "latency.png")) if p is not None]
    path = out / "report.md"
    path.write_text(markdown(summary, records, [p.name for p in plots]), encoding="utf-8")
    return [*plots, path]


def rerender(out: Path) -> list[Path]:
    """Rebuild report.md and the plots of a report folder from its summary.json and results."""
    summary = load_json(out / "summary.json")
    lines = (out / "results.jsonl").read_text(encoding="utf-8").splitlines()
    return render(summary, [json.loads(line) for line in lines if line.strip()], out)


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


def _by_type(summary: dict[str, Any]) -> list[str]:
    """recall@5 / answer contained / refusals per question type, for runs that answer."""
    kinds = ("factoid", "multi", "conversation", "unanswerable")
    rows = []
    for key, run in summary["runs"].items():
        if not run["answers"]:
            continue
        cells = []
        for kind in kinds:
            got = run["by_type"].get(kind, {})
            if kind == "unanswerable":
                cells.append(f"refused {got['correct_refusal']:.2f}" if "correct_refusal" in got
                             else "–")
            elif "answer_contained" in got:
                cells.append(f"{got.get('recall@5', float('nan')):.2f} / "
                             f"{got['answer_contained']:.2f} / {got['false_refusal']:.2f}")
            else:
                cells.append("–")
        rows.append(f"| {key} | " + " | ".join(cells) + " |")
    if not rows:
        return []
    return ["## By question type", "",
            "recall@5 / answer contained / false refusal; for unanswerable: correct refusal. "
            "Conversation rows count every turn (a turn may itself be unanswerable).", "",
            "| run | " + " | ".join(kinds) + " |", "|" + "---|" * (len(kinds) + 1), *rows, ""]


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


def markdown(summary: dict[str, Any], records: Sequence[dict[str, Any]],
             plots: Sequence[str]) -> str:
    note = [summary["note"], ""] if summary.get("note") else []
    lines = ["# newscite evaluation", "", *note,
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
    lines += _by_type(summary)
    drops = _noise_drops(summary)
    if drops:
        lines += ["## With distractor articles (`--noise`)", "",
                  "The distractors cover the same events, so some gold 'unanswerable' questions "
                  "become answerable from them and retrieval credit goes to gold articles only: "
                  "read the drops as upper bounds.", "", *drops, ""]
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
    failures = _failures(records)
    if failures:
        lines += ["", "## Failing units (first 15 per run)", "", *failures]
    if plots:
        lines += ["", "## Plots", "", *(f"![{p}]({p})" for p in plots)]
    return "\n".join(lines) + "\n"


def _failures(records: Sequence[dict[str, Any]], per_run: int = 15) -> list[str]:
    """Wrong answers, answered unanswerables and false refusals, with what was said."""
    runs: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        if r.get("answer") is None:
            continue  # retriever only
        key = f"{r['config']}/{r['dataset']}" + ("+noise" if r["noise"] else "")
        m = r["metrics"]
        if m.get("crag", 0.0) < 0 or m.get("false_refusal") == 1.0:
            runs.setdefault(key, []).append(r)
    out = []
    for key, bad in runs.items():
        out.append(f"- `{key}` ({len(bad)}):")
        for r in bad[:per_run]:
            m = r["metrics"]
            what = ("refused an answerable question" if m.get("false_refusal") == 1.0
                    else "answered an unanswerable question" if not r["gold_answers"]
                    else "answer lacks the gold answer")
            turn = f" turn {r['turn']}" if r["turn"] else ""
            recall = f" (gold passage in top 5: {'yes' if m['recall@5'] else 'no'})" \
                if "recall@5" in m else ""
            said = "" if r["refused"] else f": {_clip(r['answer'])}"
            out.append(f"  - {r['item_id']}{turn} {_clip(r['question'], 80)!r}: {what}"
                       f"{recall}{said}")
    return out


def _clip(text: str, n: int = 110) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n - 1] + "…"


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


GATED_MIN = ("recall@1", "recall@5", "mrr@10", "ndcg@10", "article_recall@5",
             "answer_contained", "citation_recall", "citation_precision",
             "citation_strict_hit", "correct_refusal", "crag")
GATED_MAX = ("false_refusal",)


def make_thresholds(summary: dict[str, Any], run_key: str, margin: float = 0.05
                    ) -> dict[str, Any]:
    """Thresholds a little worse than what was measured: min = value - margin (rounded down),
    max = value + margin (rounded up), so a change that hurts retrieval or citations fails.
    The margin is at least one unit's worth (1/n) for metrics over few units."""
    run = summary["runs"][run_key]
    values = {k: v["value"] for k, v in run["metrics"].items()}
    # a metric over few units (e.g. 15 unanswerable questions) moves in steps of 1/n:
    # allow at least one unit's change, so the gate catches trends, not a single flip
    slack = {k: max(margin, 1.0 / v["n"]) for k, v in run["metrics"].items() if v["n"]}
    return {
        "run": run_key,
        "margin": margin,
        "measured_on": summary["created"],
        "measured": {k: values[k] for k in (*GATED_MIN, *GATED_MAX) if k in values},
        "min": {k: max(-1.0, math.floor(round((values[k] - slack[k]) * 100, 6)) / 100)
                for k in GATED_MIN if k in values},
        "max": {k: min(1.0, math.ceil(round((values[k] + slack[k]) * 100, 6)) / 100)
                for k in GATED_MAX if k in values},
    }


def load_json(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


__all__ = ["LOWER_IS_BETTER", "build_summary", "check_thresholds", "compare", "write_results"]
