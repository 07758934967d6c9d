"""The sweeps behind the retrieval defaults: rerank weights, and chunk size / overlap / top_k.

Run through `python -m eval.sweeps --sweep-rerank` / `--sweep-chunking`; both write their
section of eval/reports/retrieval-sweep.{md,json}.
"""
from __future__ import annotations

import dataclasses
import json
import statistics
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import Any

from core.records import Hit
from eval.ablation import (
    CHECK_SET,
    METRICS,
    REPORTS,
    RUNS,
    SWEEP_SETS,
    K,
    Probe,
    evidence_scores,
    gold_probes,
    indexed,
    mean_scores,
    score,
)
from index.embed import Embedder
from rag.fusion import RerankWeights

SWEEP_REPORT = REPORTS / "retrieval-sweep.md"

# rerank sweep: `fused` is the fixed unit (only ratios matter); every other weight on one grid,
# starting from the hand-set weights used before the sweep (so a re-run reproduces the choice)
HAND_SET = RerankWeights(fused=1.0, coverage=0.6, numbers=0.2, names=0.2, phrases=0.3, title=0.1,
                         recency=0.15, semantic=0.0)
WEIGHT_GRID = (0.0, 0.1, 0.2, 0.3, 0.45, 0.6, 0.9, 1.2)
SWEEP_PASSES = 2
# chunking sweep
CHUNK_CHARS = (400, 550, 700, 900, 1200)
CHUNK_OVERLAPS = (0, 1, 2)
TOP_KS = tuple(range(3, 11))


# --- rerank weights sweep -------------------------------------------------------------------
Scorer = Callable[[RerankWeights], dict[str, dict[str, float]]]


def rerank_scorer(sets: dict[str, tuple[Any, list[tuple[Probe, list[Hit]]]]]) -> Scorer:
    """Scores a weight setting on every set by re-running only the second stage over fused
    candidates computed once (reranking is cheap; retrieval and embedding are not)."""
    memo: dict[RerankWeights, dict[str, dict[str, float]]] = {}

    def scorer(weights: RerankWeights) -> dict[str, dict[str, float]]:
        if weights not in memo:
            memo[weights] = {
                name: mean_scores([score(retriever.second_stage(p.question, hits, K,
                                                                weights=weights), p.spans)
                                   for p, hits in cands])
                for name, (retriever, cands) in sets.items()}
        return memo[weights]
    return scorer


def mean_mrr(scores: dict[str, dict[str, float]]) -> float:
    return statistics.mean(scores[s]["mrr@10"] for s in SWEEP_SETS)


def coordinate_search(scorer: Scorer, start: RerankWeights, margin: float
                      ) -> tuple[list[dict[str, Any]], RerankWeights]:
    """Vary one weight at a time over WEIGHT_GRID, the others held; move to the best value only
    when it beats the current setting's mean MRR@10 by more than `margin` (noise), so the
    current (default, or simpler) setting wins ties and near-ties."""
    rows: list[dict[str, Any]] = []
    current = start
    for sweep in range(1, SWEEP_PASSES + 1):
        moved = False
        for field in (f.name for f in dataclasses.fields(RerankWeights) if f.name != "fused"):
            base = mean_mrr(scorer(current))
            tried = [dataclasses.replace(current, **{field: v}) for v in WEIGHT_GRID]
            for w in tried:
                rows.append({"pass": sweep, "weight": field, "value": getattr(w, field),
                             "current": w == current, "scores": scorer(w),
                             "mean_mrr@10": mean_mrr(scorer(w))})
            best = max(tried, key=lambda w: mean_mrr(scorer(w)))
            if mean_mrr(scorer(best)) > base + margin:
                current, moved = best, True
        if not moved:
            break
    return rows, current


def run_rerank_sweep(embedder: Embedder) -> dict[str, Any]:
    from rag.retrieve import with_date_limit

    with ExitStack() as stack:
        sets = {}
        for name in (*SWEEP_SETS, CHECK_SET):
            corpus, gold = RUNS[name]
            assistant = stack.enter_context(indexed(corpus, embedder))
            retriever, n = assistant.retriever, assistant.settings.candidates
            sets[name] = (retriever, [
                (p, retriever.candidates(p.question, n, with_date_limit(p.question, None)))
                for p in gold_probes(assistant, gold)])
        sizes = {name: len(c) for name, (_, c) in sets.items()}
        # noise: one question of the smaller set moving from first place to not found
        margin = 1 / (len(SWEEP_SETS) * min(sizes[s] for s in SWEEP_SETS))
        scorer = rerank_scorer(sets)
        rows, chosen = coordinate_search(scorer, HAND_SET, margin)
        fused_only = RerankWeights(**{f.name: 0.0 for f in dataclasses.fields(RerankWeights)
                                      if f.name != "fused"})
        best_semantic = max((dataclasses.replace(chosen, semantic=v) for v in WEIGHT_GRID if v),
                            key=lambda w: mean_mrr(scorer(w)))
        compare = {"fused order only (every signal 0)": fused_only,
                   "hand-set (before the sweep)": HAND_SET, "chosen": chosen,
                   f"chosen, semantic = {best_semantic.semantic:g} (its best)": best_semantic,
                   "defaults in rag/fusion.py": RerankWeights()}
        return {"questions": sizes, "margin": margin, "grid": WEIGHT_GRID,
                "start": dataclasses.asdict(HAND_SET), "chosen": dataclasses.asdict(chosen),
                "rows": rows, "compare": {k: {"weights": dataclasses.asdict(w), "scores": scorer(w),
                                              "mean_mrr@10": mean_mrr(scorer(w))}
                                          for k, w in compare.items()}}


def _cells(scores: dict[str, dict[str, float]], sets: Sequence[str]) -> str:
    return " | ".join(" / ".join(f"{scores[s][m]:.3f}" for m in METRICS) for s in sets)


def rerank_markdown(sweep: dict[str, Any]) -> list[str]:
    sets = list(sweep["questions"])
    head = " | ".join(f"{s}{'' if s in SWEEP_SETS else ' (check only)'}: R@1 / R@5 / MRR@10"
                      for s in sets)
    rule = "|---" * (len(sets) + 2) + "|"
    chosen = ", ".join(f"{k}={v:g}" for k, v in sweep["chosen"].items())
    lines = ["## Rerank weights (`--sweep-rerank`)", "",
             (f"Coordinate search over {', '.join(f'{g:g}' for g in sweep['grid'])} for each "
             f"weight (`fused` fixed at 1: only ratios matter), at most {SWEEP_PASSES} passes, on "
             f"the default retriever (rerank + collapse) over fused candidates computed once; "
             f"questions: {sweep['questions']}. A weight moves only when the best value beats "
             f"the current mean MRR@10 by more than {sweep['margin']:.4f} (one question of the "
             f"smaller set going from first place to not found): within that, the current "
             f"(default or simpler) setting is kept."), "", f"**Chosen:** {chosen}", "",
             f"| setting | {head} | mean MRR@10 ({' + '.join(SWEEP_SETS)}) |", rule]
    lines += [f"| {name} | {_cells(c['scores'], sets)} | {c['mean_mrr@10']:.4f} |"
              for name, c in sweep["compare"].items()]
    lines += ["", f"| pass | weight = value | {head} | mean MRR@10 |", rule + "---|"]
    lines += [f"| {r['pass']} | {r['weight']} = {r['value']:g}"
              f"{' (current)' if r['current'] else ''} | {_cells(r['scores'], sets)} | "
              f"{r['mean_mrr@10']:.4f} |" for r in sweep["rows"]]
    return lines + [""]


# --- chunking / top_k sweep -----------------------------------------------------------------
def chunking_row(embedder: Embedder, chars: int, overlap: int) -> dict[str, Any]:
    """Index both gold corpora with one chunking; the default retriever's recall@1..10, MRR."""
    from index.chunk import chunk_spans

    out: dict[str, Any] = {"chunk_chars": chars, "chunk_overlap": overlap}
    for name in SWEEP_SETS:
        corpus, gold = RUNS[name]
        with indexed(corpus, embedder, chunk_chars=chars, chunk_overlap=overlap) as assistant:
            hits = [(p, assistant.retrieve(p.question, k=K)) for p in gold_probes(assistant, gold)]
            rows = [score(h, p.spans) for p, h in hits]
            evidence = [evidence_scores(h, p.groups, TOP_KS) for p, h in hits]
            lengths = [e - s for a in assistant.articles()
                       for s, e in chunk_spans(assistant.article(a.id).text, chars, overlap)]
        out[name] = {**mean_scores(rows), "evidence": mean_scores(evidence), "chunks": len(lengths),
                     "mean_chunk_chars": statistics.mean(lengths), "questions": len(rows)}
    out["mean_mrr@10"] = statistics.mean(out[s]["mrr@10"] for s in SWEEP_SETS)
    return out


def smallest_sufficient_k(recalls: dict[int, float], margin: float) -> int:
    """The smallest k past which recall@k rises by no more than noise (within TOP_KS)."""
    top = max(recalls.values())
    return min(k for k, r in recalls.items() if r >= top - margin)


ANSWER_METRICS = ("answer_contained", "citation_strict_hit", "correct_refusal", "false_refusal",
                  "crag")


def downstream(embedder: Embedder, chars: int, overlap: int) -> dict[str, dict[str, float]]:
    """The evaluation harness (extractive engine, every gold turn) with one chunking: a larger
    chunk holds more gold quotes, which lifts passage recall by itself, so a chunking must
    also hold up on answers before it replaces the default."""
    from eval.dataset import load_dataset
    from eval.report import build_summary
    from eval.run import evaluate
    from eval.systems import get_config

    config = get_config("extractive")
    config = dataclasses.replace(config, overrides={**config.overrides, "chunk_chars": chars,
                                                    "chunk_overlap": overlap})
    out = {}
    for name in SWEEP_SETS:
        corpus, gold = RUNS[name]
        run = evaluate(config, load_dataset(gold), corpus, embedder=embedder, use_llm=False)
        metrics = next(iter(build_summary([run])["runs"].values()))["metrics"]
        out[name] = {m: metrics[m]["value"] for m in ANSWER_METRICS}
    return out


def run_chunking_sweep(embedder: Embedder) -> dict[str, Any]:
    """Every chunking on retrieval; the default and the best-ranked one also on answers."""
    from core.settings import Settings

    rows = [chunking_row(embedder, c, o) for c in CHUNK_CHARS for o in CHUNK_OVERLAPS]
    sizes = [rows[0][s]["questions"] for s in SWEEP_SETS]
    margin = 1 / (len(sizes) * min(sizes))  # one question of the smaller set
    for row in rows:
        row["recall@k"] = {k: statistics.mean(row[s]["evidence"][f"recall@{k}"]
                                              for s in SWEEP_SETS) for k in TOP_KS}
        row["top_k"] = smallest_sufficient_k(row["recall@k"], margin)
    default = (Settings().chunk_chars, Settings().chunk_overlap)
    best = max(rows, key=lambda r: r["mean_mrr@10"])
    contender = (best["chunk_chars"], best["chunk_overlap"])
    checked = {f"{c} / {o}": downstream(embedder, c, o)
               for c, o in dict.fromkeys([default, contender])}
    return {"rows": rows, "margin": margin, "questions": sizes, "default": list(default),
            "answers": checked, "decision": decide(rows, checked, default, contender, margin)}


def decide(rows: list[dict[str, Any]], answers: dict[str, dict[str, dict[str, float]]],
           default: tuple[int, int], contender: tuple[int, int], margin: float) -> str:
    """Replace the default chunking only when the contender ranks better by more than noise
    and answers no worse (mean CRAG over the sets); top_k from the chosen chunking's row."""
    row = {(r["chunk_chars"], r["chunk_overlap"]): r for r in rows}
    gain = row[contender]["mean_mrr@10"] - row[default]["mean_mrr@10"]
    crag = {k: statistics.mean(v[s]["crag"] for s in SWEEP_SETS) for k, v in answers.items()}
    name = "{} / {}".format
    wins = gain > margin and crag[name(*contender)] >= crag[name(*default)]
    chosen = contender if wins else default
    return (f"best by mean MRR@10: {name(*contender)} ({gain:+.4f} over the default "
            f"{name(*default)}); mean CRAG {crag[name(*contender)]:.4f} against "
            f"{crag[name(*default)]:.4f}: {'replace' if wins else 'keep'} the default. "
            f"Chosen chunking {name(*chosen)}, top_k {row[chosen]['top_k']}.")


def chunking_markdown(sweep: dict[str, Any]) -> list[str]:
    sets = SWEEP_SETS
    default = "{} / {}".format(*sweep["default"])
    lines = ["## Chunk size, overlap and top_k (`--sweep-chunking`)", "",
             (f"Both corpora re-indexed per setting; default retriever; questions: "
              f"{dict(zip(sets, sweep['questions']))}. Noise margin: {sweep['margin']:.4f} "
              f"(one question of the smaller set). Current default: {default}."), "",
             "| chunk_chars / overlap | " + " | ".join(
                 f"{s}: chunks / mean chars / R@1 / R@5 / MRR@10" for s in sets)
             + " | mean MRR@10 |", "|---|---|---|---|"]
    for r in sweep["rows"]:
        cells = [f"{r[s]['chunks']} / {r[s]['mean_chunk_chars']:.0f} / " + " / ".join(
            f"{r[s][m]:.3f}" for m in METRICS) for s in sets]
        lines.append(f"| {r['chunk_chars']} / {r['chunk_overlap']} | {' | '.join(cells)} | "
                     f"{r['mean_mrr@10']:.4f} |")
    lines += ["", ("Mean recall@k of all the evidence over both sets (a 'multi' question needs "
                   "every gold quote); top_k = the smallest k within the noise margin of the "
                   "best recall@k:"), "",
              "| chunk_chars / overlap | " + " | ".join(f"k={k}" for k in TOP_KS) + " | top_k |",
              "|---|" + "---|" * (len(TOP_KS) + 1)]
    lines += [f"| {r['chunk_chars']} / {r['chunk_overlap']} | " +
              " | ".join(f"{r['recall@k'][k]:.3f}" for k in TOP_KS) + f" | {r['top_k']} |"
              for r in sweep["rows"]]
    lines += ["", ("Answers (evaluation harness, extractive engine, every gold turn) for the "
                   "default and the best chunking by mean MRR@10:"), "",
              "| chunk_chars / overlap | " + " | ".join(
                  f"{s}: " + " / ".join(ANSWER_METRICS) for s in sets) + " |",
              "|---|" + "---|" * len(sets)]
    lines += [f"| {name} | " + " | ".join(" / ".join(f"{got[s][m]:.3f}" for m in ANSWER_METRICS)
                                         for s in sets) + " |"
              for name, got in sweep["answers"].items()]
    return lines + ["", f"**Decision:** {sweep['decision']}", ""]


def write_sweep(section: str, sweep: dict[str, Any]) -> list[str]:
    """Merge one sweep into retrieval-sweep.json (the other sweep's results are kept) and
    re-render retrieval-sweep.md from it."""
    path = SWEEP_REPORT.with_suffix(".json")
    data = json.loads(path.read_text()) if path.is_file() else {}
    data[section] = json.loads(json.dumps(sweep))  # int keys -> str, as a reload gives them
    path.write_text(json.dumps(data, indent=2))
    lines = ["# Retrieval sweeps", "", ("How the retrieval defaults were chosen; gold sets "
             "seeds and sample, each on its own corpus; k = 10."), ""]
    if "rerank" in data:
        lines += rerank_markdown(data["rerank"])
    if "chunking" in data:
        for row in data["chunking"]["rows"]:
            row["recall@k"] = {int(k): v for k, v in row["recall@k"].items()}
        lines += chunking_markdown(data["chunking"])
    SWEEP_REPORT.write_text("\n".join(lines))
    return lines


def main(argv: list[str] | None = None) -> int:
    import argparse

    from index.embed import MiniLMEmbedder

    parser = argparse.ArgumentParser(prog="python -m eval.sweeps")
    parser.add_argument("--sweep-rerank", action="store_true", help="tune the rerank weights")
    parser.add_argument("--sweep-chunking", action="store_true",
                        help="chunk_chars x chunk_overlap, and recall@k for top_k")
    args = parser.parse_args(argv)
    if not (args.sweep_rerank or args.sweep_chunking):
        parser.error("choose --sweep-rerank and/or --sweep-chunking")
    embedder = MiniLMEmbedder()
    REPORTS.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    if args.sweep_rerank:
        lines = write_sweep("rerank", run_rerank_sweep(embedder))
    if args.sweep_chunking:
        lines = write_sweep("chunking", run_chunking_sweep(embedder))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
