"""`python -m eval --support-set PATH`: score the citation support check on claim/passage sets."""
from __future__ import annotations

import json
import logging
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from eval.support_data import Pair, classify, load_pairs, split

logger = logging.getLogger(__name__)

DEFAULT_OUT = Path(__file__).resolve().parent / "reports" / "support"
Checker = Callable[[str, str], tuple[bool, float]]  # claim, passage -> (supported, score)


def baseline_checker(similarity: Any = None) -> Checker:
    """The first check, `rag.cite.overlap_check` (word overlap, names, numbers), on the whole
    passage. Not run with embeddings: it embeds every window of the passage, hours for the
    long WiCE pages on this machine."""
    from core.records import Hit
    from rag.cite import overlap_check as check

    def run(claim: str, passage: str) -> tuple[bool, float]:
        hit = Hit(chunk_id="c", article_id="a", title="", text=passage, start=0,
                  end=len(passage), score=1.0)
        sup = check(claim, hit, similarity)
        return sup.ok, sup.score

    return run


def verify_checker(similarity: Any = None, strict: bool = True) -> Checker:
    from rag.support import verify

    def run(claim: str, passage: str) -> tuple[bool, float]:
        sup = verify(claim, passage, similarity, strict=strict)
        return sup.state == "supported", sup.score

    return run


def score(pairs: Sequence[Pair],
          checker: Checker) -> tuple[dict[str, Any], list[bool], list[float]]:
    preds, scores, took = [], [], []
    for p in pairs:
        t = time.perf_counter()
        ok, s = checker(p.claim, p.passage)
        took.append(time.perf_counter() - t)
        preds.append(ok)
        scores.append(s)
    m: dict[str, Any] = classify([p.supported for p in pairs], preds)
    m["median_ms"] = round(1000 * statistics.median(took), 2) if took else 0.0
    return m, preds, scores


def calibration(pairs: Sequence[Pair], scores: Sequence[float], bins: int = 10) -> list[dict]:
    out = []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        idx = [i for i, s in enumerate(scores) if lo <= s < hi or (b == bins - 1 and s == 1.0)]
        if idx:
            out.append({"low": lo, "high": hi, "n": len(idx),
                        "mean_score": round(sum(scores[i] for i in idx) / len(idx), 4),
                        "supported_share": round(sum(pairs[i].supported for i in idx)
                                                 / len(idx), 4)})
    return out


def plot(curves: dict[str, list[dict]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 6))
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=1, label="perfect calibration")
    for name, bins in curves.items():
        ax.plot([b["mean_score"] for b in bins], [b["supported_share"] for b in bins],
                marker="o", label=name)
    ax.set_xlabel("predicted probability of support (rag.verify score)")
    ax.set_ylabel("share labelled supported")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title("Support check calibration (10 bins)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run(paths: Sequence[Path], out: Path, command: str, semantic: bool = True) -> int:
    """Score today's check and the learned one on each set; write report.md, summary.json,
    calibration.png into `out`."""
    similarity = None
    if semantic:
        from rag.support import minilm_similarity
        similarity = minilm_similarity()
    checkers: dict[str, Checker] = {
        "baseline (cite.check, lexical)": baseline_checker(None),
        "verify, lexical": verify_checker(None),
        "verify, lexical, learned score only (strict=False)": verify_checker(None, strict=False),
    }
    if similarity is not None:
        checkers["verify, + embedding"] = verify_checker(similarity)
    summary: dict[str, Any] = {"command": command, "sets": {}}
    curves: dict[str, list[dict]] = {}
    for path in paths:
        pairs = load_pairs(path)
        _, validation = split(pairs)
        rows: dict[str, Any] = {}
        for name, checker in checkers.items():
            whole, preds, scores = score(pairs, checker)
            held = {id(p) for p in validation}
            vlabels = [p.supported for p in pairs if id(p) in held]
            vpreds = [ok for p, ok in zip(pairs, preds) if id(p) in held]
            rows[name] = {"whole": whole, "validation": classify(vlabels, vpreds)}
            if name.startswith("verify"):
                curves[f"{path.stem}, {name}"] = calibration(pairs, scores)
            print(f"{path.stem:16s} {name:52s} whole BA {whole['balanced_accuracy']:.3f} "
                  f"P {whole['precision']:.3f} | validation BA "
                  f"{rows[name]['validation']['balanced_accuracy']:.3f} "
                  f"P {rows[name]['validation']['precision']:.3f}", file=sys.stderr)
        summary["sets"][path.stem] = {"path": str(path), "pairs": len(pairs),
                                      "validation_pairs": len(validation), "checkers": rows}
    summary["calibration"] = curves
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    plot(curves, out / "calibration.png")
    (out / "report.md").write_text(_markdown(summary), encoding="utf-8")
    print(f"wrote {out / 'report.md'}, {out / 'summary.json'}, {out / 'calibration.png'}")
    return 0


def _markdown(summary: dict[str, Any]) -> str:
    lines = ["# Citation support check", "",
             "Claim/passage pairs labelled by people, scored as a classifier of \"supported\" "
             "(WiCE `partially_supported` counts as not supported). Validation: the item split "
             "`eval.fit_support` holds out (never fitted on). Timing: median per pair, one "
             "process, this machine.", "",
             f"Command: `{summary['command']}`", ""]
    for name, data in summary["sets"].items():
        lines += [f"## {name} ({data['pairs']} pairs, validation {data['validation_pairs']})", "",
                  "| checker | BA whole | precision whole | recall whole | BA validation | "
                  "precision validation | recall validation | median ms/pair |",
                  "|---|---|---|---|---|---|---|---|"]
        for checker, row in data["checkers"].items():
            w, v = row["whole"], row["validation"]
            lines.append(f"| {checker} | {w['balanced_accuracy']:.3f} | {w['precision']:.3f} | "
                         f"{w['recall']:.3f} | {v['balanced_accuracy']:.3f} | "
                         f"{v['precision']:.3f} | {v['recall']:.3f} | {w['median_ms']} |")
        lines.append("")
    lines += ["![calibration](calibration.png)", "",
              "Analysis, per-answer timing and what is missing: [findings.md](findings.md).", ""]
    return "\n".join(lines)
