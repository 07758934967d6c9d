"""Calibrate the local engine's pre-check threshold (`llm_refuse_below`) on the gold sets.

    python -m eval.calibrate [--out eval/reports/precheck.md]

For the first turn of every gold item, retrieve passages as `ask` would and record the
pre-check margin (log P(yes) - log P(no) that the passages state the answer). A threshold t
refuses every question whose margin is below t, so one pass gives the whole trade-off:
correct refusals on unanswerable questions against false refusals on answerable ones. The
suggested threshold maximises their difference (Youden's J) over both gold sets together
among thresholds whose false refusals stay within MAX_FALSE_REFUSAL: a pre-check refusal is
an answer the user never sees, and the model and the citation checker already refuse some
answerable questions on their own. Ties go to the lower threshold.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from eval.dataset import DatasetError, load_dataset, shipped_corpus

ROOT = Path(__file__).resolve().parents[1]
GOLD = ROOT / "eval" / "gold"
THRESHOLDS = tuple(round(-1.5 + 0.1 * i, 1) for i in range(31))  # -1.5 .. 1.5
MAX_FALSE_REFUSAL = 0.05


@dataclass(frozen=True)
class Probe:
    dataset: str
    item: str
    answerable: bool
    margin: float | None
    seconds: float


def probe(dataset_name: str, evidence_tokens: int | None) -> list[Probe]:
    """Margins for the first turn of every item of one shipped gold set, on its own corpus."""
    from core.settings import Settings
    from rag.assistant import Assistant
    from rag.llm.local import LocalEngine

    dataset = load_dataset(GOLD / f"{dataset_name}.jsonl")
    out = []
    with tempfile.TemporaryDirectory(prefix="newscite-calibrate-") as tmp:
        extra = {} if evidence_tokens is None else {"evidence_tokens": evidence_tokens}
        settings = Settings(data_dir=Path(tmp), engine="extractive", **extra)
        assistant = Assistant(settings)
        assistant.ingest([shipped_corpus(dataset_name)])
        engine = LocalEngine(settings)
        engine.load()
        engine.precheck_margin("warm up", assistant.retrieve("warm up"))
        for item in dataset.items:
            turn = item.turns[0]
            started = time.perf_counter()
            margin = engine.precheck_margin(turn.question, assistant.retrieve(turn.question))
            out.append(Probe(dataset_name, item.id, turn.answerable, margin,
                             time.perf_counter() - started))
        assistant.close()
    return out


def tradeoff(probes: list[Probe]) -> list[dict[str, float]]:
    """Per threshold: share of unanswerable questions refused, of answerable ones refused."""
    rows = []
    unanswerable = [p for p in probes if not p.answerable]
    answerable = [p for p in probes if p.answerable]
    for t in THRESHOLDS:
        def refused(group: list[Probe], t: float = t) -> float:
            hit = sum(1 for p in group if p.margin is not None and p.margin < t)
            return hit / len(group) if group else 0.0
        rows.append({"threshold": t, "correct_refusal": refused(unanswerable),
                     "false_refusal": refused(answerable)})
    return rows


def best(rows: list[dict[str, float]],
         max_false_refusal: float = MAX_FALSE_REFUSAL) -> dict[str, float]:
    allowed = [r for r in rows if r["false_refusal"] <= max_false_refusal] or rows[:1]
    return max(allowed, key=lambda r: (round(r["correct_refusal"] - r["false_refusal"], 6),
                                       -r["threshold"]))


def report(probes: list[Probe], current: float) -> str:
    lines = ["# Pre-check threshold calibration", "",
             "First turn of every gold item; margin = log P(yes) - log P(no) from the local "
             "model's one-token pre-check. A threshold refuses questions whose margin is below "
             "it (before the model writes an answer; the model and the citation checker can "
             "still refuse later, so these are the pre-check's own rates).", ""]
    for name in sorted({p.dataset for p in probes}) + ["both"]:
        group = [p for p in probes if name in ("both", p.dataset)]
        n_ans = sum(p.answerable for p in group)
        lines += [f"## {name} ({n_ans} answerable, {len(group) - n_ans} unanswerable)", "",
                  "| threshold | correct refusals | false refusals | J |", "|---|---|---|---|"]
        rows = tradeoff(group)
        for r in rows:
            if -1.0 <= r["threshold"] <= 1.0:
                mark = " (current)" if r["threshold"] == current else ""
                lines.append(f"| {r['threshold']:+.1f}{mark} | {r['correct_refusal']:.2f} | "
                             f"{r['false_refusal']:.2f} | "
                             f"{r['correct_refusal'] - r['false_refusal']:+.2f} |")
        lines.append("")
    choice = best(tradeoff(probes))
    seconds = [p.seconds for p in probes]
    lines += [f"Suggested `llm_refuse_below`: **{choice['threshold']:+.1f}**, the best J with "
              f"false refusals at most {MAX_FALSE_REFUSAL:.0%} (both sets: correct "
              f"refusals {choice['correct_refusal']:.2f}, false refusals "
              f"{choice['false_refusal']:.2f}). Pre-check time per question: median "
              f"{statistics.median(seconds):.2f} s, max {max(seconds):.2f} s.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from core.settings import Settings
    from rag.llm.model import is_local_available

    parser = argparse.ArgumentParser(prog="python -m eval.calibrate")
    parser.add_argument("--out", type=Path, default=ROOT / "eval" / "reports" / "precheck.md")
    parser.add_argument("--evidence-tokens", type=int, default=None,
                        help="evidence budget (default: the Settings default)")
    parser.add_argument("--from-json", type=Path, metavar="PATH",
                        help="re-report the margins saved by an earlier run (no model)")
    args = parser.parse_args(argv)
    if args.from_json:
        probes = [Probe(**row) for row in json.loads(args.from_json.read_text())]
    elif not is_local_available():
        print("error: the local model is not installed: pip install 'newscite[local]'")
        return 2
    else:
        try:
            probes = [p for name in ("seeds", "sample") for p in probe(name, args.evidence_tokens)]
        except DatasetError as exc:
            print(f"error: {exc}")
            return 2
    text = report(probes, Settings().llm_refuse_below)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps(
        [p.__dict__ for p in probes], indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
