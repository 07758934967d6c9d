"""PNG charts for the report (matplotlib, Agg backend): key metrics and latency per config."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_metrics(summary: dict[str, Any], path: Path, metrics: Sequence[str]) -> Path | None:
    """Grouped bars: one group per metric, one bar per run (answer metrics only when answered)."""
    runs = summary["runs"]
    if not runs:
        return None
    plt = _pyplot()
    import numpy as np

    keys = list(runs)
    width = 0.8 / len(keys)
    x = np.arange(len(metrics))
    wide = min(14.0, max(8.0, 0.22 * len(metrics) * len(keys) + 3))
    fig, ax = plt.subplots(figsize=(wide, 5.0))
    lowest = 0.0
    for i, key in enumerate(keys):
        run = runs[key]
        vals, lows, highs = [], [], []
        for metric in metrics:
            est = run["metrics"].get(metric)
            ok = est is not None and est["n"] > 0 and (run["answers"] or metric.startswith(
                ("recall", "mrr", "ndcg", "article")))
            vals.append(est["value"] if ok else np.nan)
            lows.append(est["value"] - est["ci_low"] if ok else 0.0)
            highs.append(est["ci_high"] - est["value"] if ok else 0.0)
        lowest = min([lowest, *(v - lo for v, lo in zip(vals, lows) if not np.isnan(v))])
        ax.bar(x + (i - (len(keys) - 1) / 2) * width, vals, width, label=key,
               yerr=[lows, highs], capsize=2, error_kw={"elinewidth": 0.8})
    from eval.metrics import LOWER_IS_BETTER

    labels = [f"{m} (lower is better)" if m in LOWER_IS_BETTER else m for m in metrics]
    ax.set_xticks(x, labels, rotation=25, ha="right")
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_ylim(max(-1.05, lowest - 0.1) if lowest < 0 else -0.02, 1.05)
    ax.set_ylabel("score (95% bootstrap CI)")
    ax.set_title("Key metrics per configuration")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_latency(summary: dict[str, Any], path: Path) -> Path | None:
    """Horizontal bars of median and p95 total query latency per run (log scale)."""
    runs = {k: r for k, r in summary["runs"].items() if "total" in r["latency"]}
    if not runs:
        return None
    plt = _pyplot()
    import numpy as np

    keys = list(runs)
    y = np.arange(len(keys))
    med = [runs[k]["latency"]["total"]["median"] for k in keys]
    p95 = [runs[k]["latency"]["total"]["p95"] for k in keys]
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(keys) + 1.5))
    ax.barh(y + 0.2, med, 0.4, label="median")
    ax.barh(y - 0.2, p95, 0.4, label="p95")
    ax.set_yticks(y, keys, fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("seconds per question (log scale)")
    ax.set_title("Query latency")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
