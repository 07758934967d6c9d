"""Retrieval ablation: dense vs BM25 vs fused vs fused + second stage, same index, same questions.

    python -m eval.ablation [--out eval/reports/retrieval.md]
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from eval.dataset import GoldSpan, article_map, load_dataset, locate_support
from eval.metrics import Ranked, retrieval_scores
from index.models import Article

ROOT = Path(__file__).resolve().parents[1]
SEEDS = (ROOT / ".." / "shared" / "corpus" / "seeds").resolve()
SAMPLE = ROOT / "eval" / "corpus" / "sample"
GOLD = ROOT / "eval" / "gold"

VARIANTS = {
    "dense": {"mode": "dense", "rerank": False, "collapse": False},
    "bm25": {"mode": "keyword", "rerank": False, "collapse": False},
    "fused": {"mode": "hybrid", "rerank": False, "collapse": False},
    "fused+rerank": {"mode": "hybrid", "rerank": True, "collapse": False},
    "fused+rerank+collapse (default)": {"mode": "hybrid", "rerank": True, "collapse": True},
}


def probes(path: Path, articles: dict[str, Article]) -> list[tuple[str, list[GoldSpan]]]:
    """(question, gold spans) for the first turn of each gold item with support: follow-ups
    need history, which the harness scores. Any one gold quote counts as found."""
    out = []
    for item in load_dataset(path).items:
        turn = item.turns[0]
        spans = [s for found in locate_support(turn.support, articles) for s in found]
        if spans:
            out.append((turn.question, spans))
    return out


def evaluate(assistant, gold: list[tuple[str, list[GoldSpan]]],  # noqa: ANN001
             k: int = 10) -> dict[str, dict[str, float]]:
    table: dict[str, dict[str, float]] = {}
    for name, opts in VARIANTS.items():
        scores: list[dict[str, float]] = []
        times = []
        for question, spans in gold:
            t = time.perf_counter()
            hits = assistant.retrieve(question, k=k, **opts)
            times.append((time.perf_counter() - t) * 1000)
            ranked = [Ranked(h.article_id, h.start, h.end) for h in hits[:k]]
            scores.append(retrieval_scores(ranked, [spans], ks=(1, 5)))
        n = len(gold)
        times.sort()
        table[name] = {**{m: sum(s[m] for s in scores) / n
                          for m in ("recall@1", "recall@5", "mrr@10")},
                       "p50_ms": statistics.median(times),
                       "p95_ms": times[int(0.95 * (len(times) - 1))], "questions": n}
    return table


def main(argv: list[str] | None = None) -> int:
    from index.embed import MiniLMEmbedder
    from rag.assistant import Assistant
    from rag.settings import Settings

    parser = argparse.ArgumentParser(prog="python -m eval.ablation")
    parser.add_argument("--out", type=Path, default=ROOT / "eval" / "reports" / "retrieval.md")
    args = parser.parse_args(argv)
    embedder = MiniLMEmbedder()
    runs = {"seeds": ([SEEDS], GOLD / "seeds.jsonl"),
            "seeds + sample distractors": ([SEEDS, SAMPLE], GOLD / "seeds.jsonl"),
            "sample": ([SAMPLE], GOLD / "sample.jsonl")}
    lines = ["# Retrieval ablation", "",
             "Passage = the chunk holding the gold quote; first turn of each gold item with "
             "support; k = 10; latency per retrieval on this machine.", ""]
    results = {}
    for label, (corpus, gold) in runs.items():
        with tempfile.TemporaryDirectory() as tmp:
            assistant = Assistant(Settings(data_dir=Path(tmp), engine="extractive"), embedder)
            assistant.ingest(corpus)
            assistant.retrieve("warm up")
            indexed = article_map(assistant.article(a.id) for a in assistant.articles())
            table = evaluate(assistant, probes(gold, indexed))
            assistant.close()
        results[label] = table
        n = next(iter(table.values()))["questions"]
        lines += [f"## {label} ({n} questions)", "",
                  "| retriever | recall@1 | recall@5 | MRR@10 | p50 ms | p95 ms |",
                  "|---|---|---|---|---|---|"]
        for name, row in table.items():
            lines.append(f"| {name} | {row['recall@1']:.3f} | {row['recall@5']:.3f} | "
                         f"{row['mrr@10']:.3f} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} |")
        lines.append("")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
