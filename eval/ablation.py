"""Retrieval ablation (dense, BM25, fused, second stage) and the sweeps behind the defaults.

    python -m eval.ablation                   # eval/reports/retrieval.{md,json}
    python -m eval.sweeps --sweep-rerank    # rerank weights -> eval/reports/retrieval-sweep.*
    python -m eval.sweeps --sweep-chunking  # chunk_chars x chunk_overlap, recall@k for top_k

The sweeps live in eval/sweeps.py; the gold probes, indexing and scoring here are shared.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.records import Hit
from eval.dataset import GoldSpan, article_map, load_dataset, locate_support
from eval.metrics import Ranked, evidence_groups, median_p95, retrieval_scores
from index.embed import Embedder
from rag.fusion import RerankWeights

ROOT = Path(__file__).resolve().parents[1]
SEEDS = (ROOT / ".." / "shared" / "corpus" / "seeds").resolve()
SAMPLE = ROOT / "eval" / "corpus" / "sample"
GOLD = ROOT / "eval" / "gold"
REPORTS = ROOT / "eval" / "reports"
K = 10
METRICS = ("recall@1", "recall@5", "mrr@10")

RUNS = {"seeds": ([SEEDS], GOLD / "seeds.jsonl"),
        "seeds + sample distractors": ([SEEDS, SAMPLE], GOLD / "seeds.jsonl"),
        "sample": ([SAMPLE], GOLD / "sample.jsonl")}
SWEEP_SETS = ("seeds", "sample")  # the two gold sets on their own corpora: these choose
CHECK_SET = "seeds + sample distractors"  # reported beside them, not used to choose

VARIANTS: dict[str, dict[str, Any]] = {
    "dense": {"mode": "dense", "rerank": False, "collapse": False},
    "bm25": {"mode": "keyword", "rerank": False, "collapse": False},
    "fused": {"mode": "hybrid", "rerank": False, "collapse": False},
    "fused+rerank": {"mode": "hybrid", "rerank": True, "collapse": False},
    "fused+rerank+collapse (default)": {"mode": "hybrid", "rerank": True, "collapse": True},
    # not a default (its gain was within noise in the sweep): shown for its quality and cost
    "default + sentence similarity (semantic = 0.1)": {
        "mode": "hybrid", "rerank": True, "collapse": True,
        "weights": dataclasses.replace(RerankWeights(), semantic=0.1)},
}


@dataclass(frozen=True)
class Probe:
    """A gold question: `spans` for rank metrics (any one gold quote counts as found) and the
    harness's evidence `groups` (a 'multi' question needs every quote) for choosing top_k."""

    question: str
    spans: list[GoldSpan]
    groups: list[list[GoldSpan]]


def probes(path: Path, articles: dict[str, Any]) -> list[Probe]:
    """The first turn of each gold item with support: follow-ups need history, which the
    harness scores."""
    out = []
    for item in load_dataset(path).items:
        turn = item.turns[0]
        located = locate_support(turn.support, articles)
        spans = [s for found in located for s in found]
        if spans:
            out.append(Probe(turn.question, spans, evidence_groups(item.type, located)))
    return out


@contextmanager
def indexed(corpus: Sequence[Path], embedder: Embedder, **settings: Any) -> Iterator[Any]:
    """An Assistant over a fresh temporary index of `corpus`, warmed up."""
    from core.settings import Settings
    from rag.assistant import Assistant

    with tempfile.TemporaryDirectory() as tmp:
        assistant = Assistant(Settings(data_dir=Path(tmp), engine="extractive", **settings),
                              embedder)
        assistant.ingest(corpus)
        assistant.retrieve("warm up")
        try:
            yield assistant
        finally:
            assistant.close()


def gold_probes(assistant: Any, gold: Path) -> list[Probe]:
    return probes(gold, article_map(assistant.article(a.id) for a in assistant.articles()))


def score(hits: Sequence[Hit], spans: list[GoldSpan], ks: Sequence[int] = (1, 5)
          ) -> dict[str, float]:
    return evidence_scores(hits, [spans], ks)


def evidence_scores(hits: Sequence[Hit], groups: list[list[GoldSpan]], ks: Sequence[int]
                    ) -> dict[str, float]:
    ranked = [Ranked(h.article_id, h.start, h.end) for h in hits[:K]]
    return retrieval_scores(ranked, groups, ks=ks)


def mean_scores(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    return {m: sum(r[m] for r in rows) / len(rows) for m in rows[0]} if rows else {}


def percentiles(ms: list[float]) -> dict[str, float]:
    p50, p95 = median_p95(ms)
    return {"p50_ms": p50, "p95_ms": p95}


# --- the ablation ---------------------------------------------------------------------------
def evaluate(assistant: Any, gold: list[Probe]) -> dict[str, dict[str, float]]:
    """Every variant on the same index and questions: quality and latency per retrieval."""
    table: dict[str, dict[str, float]] = {}
    for name, opts in VARIANTS.items():
        rows, times = [], []
        for p in gold:
            t = time.perf_counter()
            hits = assistant.retrieve(p.question, k=K, **opts)
            times.append((time.perf_counter() - t) * 1000)
            rows.append(score(hits, p.spans))
        table[name] = {**mean_scores(rows), **percentiles(times), "questions": len(gold)}
    return table


def sentence_cost(assistant: Any, gold: list[Probe]) -> dict[str, float]:
    """What the sentence-similarity signal adds per question, from an empty sentence cache
    (every sentence of the 30 candidates embedded) and from a warm one."""
    from rag.retrieve import with_date_limit

    retriever = assistant.retriever
    n = assistant.settings.candidates
    cold, warm, sentences = [], [], []
    for p in gold:
        hits = retriever.candidates(p.question, n, with_date_limit(p.question, None))
        vector = retriever.dense.embed_query(p.question)
        texts = [h.text for h in hits]
        retriever.sentences.clear()
        for times in (cold, warm):  # the same passages twice: embedded, then from the cache
            t = time.perf_counter()
            retriever.sentences.best(vector, texts)
            times.append((time.perf_counter() - t) * 1000)
        sentences.append(len(retriever.sentences))  # cleared before: this question's only
    return {**{f"cold_{k}": v for k, v in percentiles(cold).items()},
            **{f"warm_{k}": v for k, v in percentiles(warm).items()},
            "sentences_per_question": statistics.mean(sentences)}


def ablation_markdown(results: dict[str, Any], cost: dict[str, dict[str, float]]) -> list[str]:
    lines = ["# Retrieval ablation", "",
             (f"Passage = the chunk holding the gold quote; first turn of each gold item with "
             f"support; k = {K}; latency per retrieval on this machine (one run)."), ""]
    for label, table in results.items():
        n = next(iter(table.values()))["questions"]
        lines += [f"## {label} ({n} questions)", "",
                  "| retriever | recall@1 | recall@5 | MRR@10 | p50 ms | p95 ms |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {name} | {r['recall@1']:.3f} | {r['recall@5']:.3f} | {r['mrr@10']:.3f} | "
                  f"{r['p50_ms']:.1f} | {r['p95_ms']:.1f} |" for name, r in table.items()]
        lines.append("")
    lines += ["## Sentence-similarity signal: added latency per question", "",
              "| run | sentences | cold cache p50 / p95 ms | warm cache p50 / p95 ms |",
              "|---|---|---|---|"]
    lines += [f"| {label} | {c['sentences_per_question']:.0f} | {c['cold_p50_ms']:.1f} / "
              f"{c['cold_p95_ms']:.1f} | {c['warm_p50_ms']:.2f} / {c['warm_p95_ms']:.2f} |"
              for label, c in cost.items()]
    return lines + [""]


def run_ablation(embedder: Embedder, out: Path) -> list[str]:
    results, cost = {}, {}
    for label, (corpus, gold) in RUNS.items():
        with indexed(corpus, embedder) as assistant:
            questions = gold_probes(assistant, gold)
            results[label] = evaluate(assistant, questions)
            cost[label] = sentence_cost(assistant, questions)
    lines = ablation_markdown(results, cost)
    out.write_text("\n".join(lines))
    out.with_suffix(".json").write_text(json.dumps({"runs": results, "sentence_similarity": cost},
                                                   indent=2))
    return lines


def main(argv: list[str] | None = None) -> int:
    from index.embed import MiniLMEmbedder

    parser = argparse.ArgumentParser(prog="python -m eval.ablation")
    parser.add_argument("--out", type=Path, default=REPORTS / "retrieval.md")
    args = parser.parse_args(argv)
    REPORTS.mkdir(parents=True, exist_ok=True)
    print("\n".join(run_ablation(MiniLMEmbedder(), args.out)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
