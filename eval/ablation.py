"""Retrieval ablation: dense vs BM25 vs fused vs fused + second stage, same index, same questions.

    python -m eval.ablation [--out eval/reports/retrieval.md]
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

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


@dataclass(frozen=True)
class Probe:
    question: str
    support: tuple[tuple[str, str], ...]  # (article file name or name#N, quote)


def probes(path: Path) -> list[Probe]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        turns = item.get("turns") or [item]
        first = turns[0]  # follow-ups need history; the harness scores those
        if first.get("support"):
            out.append(Probe(first["question"],
                             tuple((s["article"], s["quote"]) for s in first["support"])))
    return out


def relevant_chunks(assistant, probe: Probe) -> set[str]:  # noqa: ANN001
    """Chunks whose span contains (most of) a gold quote."""
    wanted: set[str] = set()
    for info in assistant.articles():
        article = assistant.article(info.id)
        name = Path(article.key.split("#")[0]).name + (
            "#" + article.key.split("#")[1] if "#" in article.key else "")
        for art, quote in probe.support:
            if art != name:
                continue
            pos = article.text.find(quote)
            if pos < 0:
                continue
            for ref in assistant.manifest.chunk_refs(info.id):
                overlap = min(ref.end, pos + len(quote)) - max(ref.start, pos)
                if overlap >= 0.5 * len(quote):
                    wanted.add(ref.id)
    return wanted


def evaluate(assistant, items: list[Probe], k: int = 10) -> dict[str, dict[str, float]]:  # noqa: ANN001
    table: dict[str, dict[str, float]] = {}
    gold = [(p, relevant_chunks(assistant, p)) for p in items]
    gold = [(p, g) for p, g in gold if g]
    for name, opts in VARIANTS.items():
        r1 = r5 = mrr = 0.0
        times = []
        for probe, wanted in gold:
            t = time.perf_counter()
            hits = assistant.retrieve(probe.question, k=k, **opts)
            times.append((time.perf_counter() - t) * 1000)
            ranks = [i for i, h in enumerate(hits[:k], 1) if h.chunk_id in wanted]
            first = ranks[0] if ranks else None
            r1 += first == 1
            r5 += bool(first and first <= 5)
            mrr += 1 / first if first else 0.0
        n = len(gold)
        times.sort()
        table[name] = {"recall@1": r1 / n, "recall@5": r5 / n, "mrr@10": mrr / n,
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
            table = evaluate(assistant, probes(gold))
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
