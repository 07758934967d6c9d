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
    fig, ax = plt.subplots(figsize=(max(8, 1.3 * len(metrics)), 4.5))
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
        ax.bar(x + (i - (len(keys) - 1) / 2) * width, vals, width, label=key,
               yerr=[lows, highs], capsize=2, error_kw={"elinewidth": 0.8})
    ax.set_xticks(x, metrics, rotation=25, ha="right")
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_ylim(-1.05, 1.05)
    ax.set_ylabel("score (95% bootstrap CI)")
    ax.set_title("Key metrics per configuration")
    ax.legend(fontsize=7, loc="lower left")
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
