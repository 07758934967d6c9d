"""Benchmark reports: results.json, a Markdown table (for docs/benchmark.md) and a PNG plot."""
from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

# figure-name suffix of the comparisons with stock cut to newscite's chunk count
MATCHED = "vs stock at the same chunk count"


def _f(x: Any, digits: int = 1) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:,.{digits}f}"
    return f"{x:,}" if isinstance(x, int) else str(x)


def _rate(run: dict[str, Any] | None) -> float | None:
    if not run or not run.get("seconds"):
        return None
    return run["chunks"] / run["seconds"]


def _per_kilo_piece(run: dict[str, Any], bare: dict[str, Any]) -> float | None:
    """Ingest seconds per 1,000 word pieces the model read (counted by the bare encode of the
    same texts; None in results from before it was counted)."""
    read = bare.get("word_pieces_read")
    return 1000 * run["seconds"] / read if read else None


def _coverage(bare: dict[str, Any] | None, found: dict[str, Any] | None) -> str:
    """'model reads 36% of its word pieces, known-item recall@5 0.41' (parts missing in older
    results are left out)."""
    parts = []
    if bare and bare.get("word_pieces"):
        parts.append(f"model reads {100 * bare['word_pieces_read'] / bare['word_pieces']:.0f}% "
                     "of its word pieces")
    if found and found.get("recall_at_5") is not None:
        parts.append(f"known-item recall@5 {found['recall_at_5']:.2f}")
    return ", ".join(parts) or "–"


def goals(r: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """(goal, measured, met) for each goal of the speed issue."""
    out: list[tuple[str, str, bool | None]] = []
    emb = [x for x in r["ingest"] if x["chroma"] == "embedded"]
    if emb:
        big = max(emb, key=lambda x: x["size"])
        for row in sorted(emb, key=lambda x: x["size"]):
            out.append((f"ingest within 1.15x of bare encode ({row['newscite']['chunks']:,} "
                         "chunks)",
                         f"{row['ratio_to_encode']:.3f}x wall, {row['cpu_ratio_to_encode']:.3f}x "
                         f"CPU", row["ratio_to_encode"] <= 1.15))
        out.append(("unchanged re-ingest < 2% of first ingest",
                    f"{100 * big['unchanged_fraction']:.2f}% "
                    f"({big['newscite_unchanged']['seconds']:.2f}s, model loaded: "
                    f"{big['newscite_unchanged']['model_loaded']})",
                    big["unchanged_fraction"] < 0.02
                    and not big["newscite_unchanged"]["model_loaded"]))
    ret = {x["size"]: x for x in r["retrieval"] if x["chroma"] == "embedded"}
    at = ret.get(100_000) or (ret[max(ret)] if ret else None)
    if at:
        n = at["newscite"]
        out.append((f"retrieval p50 < 30 ms at {at['size']:,} chunks",
                    f"{n['retrieve']['p50_ms']:.1f} ms", n["retrieve"]["p50_ms"] < 30))
        out.append((f"extractive answer p50 < 150 ms at {at['size']:,} chunks",
                    f"{n['answer']['p50_ms']:.1f} ms", n["answer"]["p50_ms"] < 150))
    if 1_000_000 in ret and 10_000 in ret:
        a, b = ret[1_000_000]["newscite"], ret[10_000]["newscite"]
        ratios = {phase: a[phase]["p50_ms"] / b[phase]["p50_ms"]
                  for phase in ("retrieve", "answer")}
        out.append(("latency at 1M <= 2x latency at 10k (retrieval and answer p50)",
                    f"retrieval {ratios['retrieve']:.2f}x, answer {ratios['answer']:.2f}x",
                    max(ratios.values()) <= 2))
    else:
        out.append(("latency at 1M <= 2x latency at 10k", "not run (use --million)", None))
    serve = next((x["serve"] for x in r["retrieval"] if x.get("serve")), None)
    if serve:
        out.append(("serving process (no LLM) < 1.5 GB RSS",
                    f"{serve['rss_mb']:.0f} MB (peak {serve['peak_rss_mb']:.0f} MB)",
                    serve["peak_rss_mb"] < 1536))
        load = serve.get("load")
        if load:
            out.append(("load test: zero errors", f"{load['errors']} errors of "
                        f"{load['requests']}", load["errors"] == 0))
    out.append(("`newscite --help` < 1 s", f"{r['help']['median_s']:.2f} s",
                r["help"]["median_s"] < 1))
    figures = stock_figures(r)
    for label, group in (("stock defaults", [f for f in figures if MATCHED not in f[0]]),
                         ("ingest, stock at the same chunk count",
                          [f for f in figures if MATCHED in f[0]])):
        worse = [f for f in group if f[3] is not None and f[3] >= 1]
        if group:
            measured = ("slower on: " + ", ".join(f[0] for f in worse) if worse
                        else "all faster")
            if label == "stock defaults":
                measured = "; ".join([measured] + [
                    f"{x['size']:,}: newscite {_coverage(x['bare'], x.get('newscite_findable'))}"
                    f", stock {_coverage(x['stock_bare'], x.get('stock_findable'))}"
                    for x in r["ingest"] if "stock" in x and "newscite_findable" in x])
            out.append((f"faster than stock LlamaIndex on every figure ({label})", measured,
                        not worse))
    return out


def stock_figures(r: dict[str, Any]) -> list[tuple[str, float | None, float | None,
                                                   float | None]]:
    """(figure, newscite, stock, newscite/stock) — below 1 means newscite is faster/smaller."""
    out = []
    for x in r["ingest"]:
        if "stock" not in x:
            continue
        pairs = [("ingest s", x["newscite"]["seconds"], x["stock"]["seconds"]),
                 ("ingest time / own bare encode", x["ratio_to_encode"],
                  x["stock_ratio_to_encode"]),
                 ("ingest CPU / own bare encode CPU", x["cpu_ratio_to_encode"],
                  x.get("stock_cpu_ratio_to_encode")),
                 ("unchanged re-ingest s", x["newscite_unchanged"]["seconds"],
                  x["stock_unchanged"]["seconds"]),
                 ("1% changed re-ingest s", x["newscite_changed"]["seconds"],
                  x["stock_changed"]["seconds"]),
                 ("ingest peak RSS MB", x["newscite"]["peak_rss_mb"],
                  x["stock"]["peak_rss_mb"]),
                 ("ingest s per 1,000 word pieces the model read",
                  _per_kilo_piece(x["newscite"], x["bare"]),
                  _per_kilo_piece(x["stock"], x["stock_bare"]))]
        if "stock_matched" in x:
            m = x["stock_matched"]
            pairs += [(f"ingest s {MATCHED}", x["newscite"]["seconds"], m["seconds"]),
                      (f"unchanged re-ingest s {MATCHED}", x["newscite_unchanged"]["seconds"],
                       x["stock_matched_unchanged"]["seconds"]),
                      (f"1% changed re-ingest s {MATCHED}", x["newscite_changed"]["seconds"],
                       x["stock_matched_changed"]["seconds"]),
                      (f"ingest peak RSS MB {MATCHED}", x["newscite"]["peak_rss_mb"],
                       m["peak_rss_mb"])]
        out += [(f"{name} ({x['size']:,})", a, b, a / b if a is not None and b else None)
                for name, a, b in pairs]
    for x in r["retrieval"]:
        if "stock" not in x:
            continue
        n, s = x["newscite"], x["stock"]
        paired = x.get("stock_pair_ratios", {})  # absent in results from single runs
        for name, stat in (("retrieve p50 ms", "p50"), ("retrieve p95 ms", "p95")):
            a, b = n["retrieve"][f"{stat}_ms"], s["retrieve"][f"{stat}_ms"]
            # alternating runs: the median of the side-by-side ratios, as for ingest pairs
            ratio = statistics.median(paired[stat]) if paired.get(stat) else a / b if b else None
            out.append((f"{name} ({x['size']:,})", a, b, ratio))
        a, b = n["peak_rss_mb"], s["peak_rss_mb"]
        out.append((f"query process peak RSS MB ({x['size']:,})", a, b, a / b if b else None))
    return out


def markdown(r: dict[str, Any]) -> str:
    m = r.get("machine", {})
    lines = ["# newscite benchmark", ""]
    if m:
        lines.append(f"{m['start']['cores']} cores; load average at start "
                     f"{m['start']['loadavg_1_5_15']}, at end {m['end']['loadavg_1_5_15']} "
                     f"(the machine was shared: compare ratios from the same run); "
                     f"{m['start']['when']}, {r.get('seconds', 0):.0f} s in all.")
        lines.append("")
    lines += ["## Ingest (real model)", "",
              "| chunks | Chroma | newscite s | chunks/s | bare encode s | ratio wall | ratio CPU "
              "| ingest / its own encode step | unchanged re-run s (% of first) | 1% changed s "
              "| peak RSS MB | text read, recall |",
              "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for x in r["ingest"]:
        n = x["newscite"]
        lines.append(
            f"| {n['chunks']:,} | {x['chroma']} | {_f(n['seconds'])} | {_f(_rate(n))} | "
            f"{_f(x['bare']['seconds'])} | {x['ratio_to_encode']:.3f} | "
            f"{x['cpu_ratio_to_encode']:.3f} | {_f(x.get('ratio_to_own_embed'), 3)} | "
            f"{x['newscite_unchanged']['seconds']:.2f} "
            f"({100 * x['unchanged_fraction']:.2f}%) | {_f(x['newscite_changed']['seconds'])} "
            f"| {_f(n['peak_rss_mb'], 0)} | {_coverage(x['bare'], x.get('newscite_findable'))} |")
    paired = [x for x in r["ingest"] if len(x.get("newscite_runs_s", [])) > 1]
    if paired:
        lines.append("")
        lines.append("Bare encode and first ingest ran in alternating pairs (stock's with its "
                     "own bare encode likewise); the rows show the median run of each and the "
                     "median of the pairs' wall and CPU ratios. Every pair (s):")
        lines.append("")
        for x in paired:
            line = (f"- {x['newscite']['chunks']:,} chunks ({x['chroma']}): bare encode "
                    f"{', '.join(_f(v) for v in x['bare_runs_s'])}; newscite "
                    f"{', '.join(_f(v) for v in x['newscite_runs_s'])}; ratios "
                    f"{', '.join(f'{v:.3f}' for v in x['pair_ratios'])}")
            if len(x.get("stock_runs_s", [])) > 1:
                line += (f". Stock: its bare encode "
                         f"{', '.join(_f(v) for v in x['stock_bare_runs_s'])}; stock "
                         f"{', '.join(_f(v) for v in x['stock_runs_s'])}; ratios "
                         f"{', '.join(f'{v:.3f}' for v in x['stock_pair_ratios'])}")
            lines.append(line)
    stock = [x for x in r["ingest"] if "stock" in x]
    if stock:
        lines += ["", "Stock LlamaIndex (IngestionPipeline + SentenceSplitter + "
                  "ChromaVectorStore + docstore upserts), same corpora; `defaults` is "
                  "SentenceSplitter() (1,024-token nodes, which MiniLM truncates to 256 "
                  "tokens when embedding), `N tokens` cuts about as many nodes as newscite "
                  "has chunks. `text read` is the share of the texts' word pieces the model "
                  "reads; `recall` is known-item recall@5: 200 of the corpus's sentences, each "
                  "asked as it is, found when one of the 5 passages nearest by embedding "
                  "holds it:", "",
                  "| corpus chunks (newscite) | splitter | stock nodes | stock s | nodes/s | "
                  "ratio to its bare encode (wall / CPU) | unchanged re-run s | 1% changed s | "
                  "peak RSS MB | text read, recall |",
                  "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|"]
        for x in stock:
            tokens = x.get("stock_matched_tokens")  # absent in results from before it was kept
            matched = f"{tokens} tokens" if tokens else "same chunk count"
            for key, label in (("stock", "defaults"), ("stock_matched", matched)):
                if key == "stock_matched" and "stock_matched_error" in x:
                    lines.append(f"| {x['newscite']['chunks']:,} | {label} | failed: "
                                 f"{x['stock_matched_error'].replace('|', '/')} ||||||||")
                if key not in x:
                    continue
                s = x[key]
                coverage = _coverage(x["stock_bare"] if key == "stock" else None,
                                     x.get(key + "_findable"))
                ratio = (f"{x['stock_ratio_to_encode']:.3f} / "
                         f"{_f(x.get('stock_cpu_ratio_to_encode'), 3)}" if key == "stock"
                         else "–")
                lines.append(
                    f"| {x['newscite']['chunks']:,} | {label} | {s['chunks']:,} | "
                    f"{_f(s['seconds'])} | {_f(_rate(s))} | {ratio} | "
                    f"{x[key + '_unchanged']['seconds']:.2f} | "
                    f"{_f(x[key + '_changed']['seconds'])} | {_f(s['peak_rss_mb'], 0)} | "
                    f"{coverage} |")
    lines += ["", "## Query latency (200 questions unless noted; real query embedding)", "",
              "Each process first retrieves for as many *other* questions (the first pass, "
              "where the OS, Chroma and term-weight caches warm up, while the manifest is "
              "read into the page cache as `newscite serve` does at start), waits for that "
              "read to finish (`prefetch_wait_s` in results.json), then is timed on the "
              "questions: retrieval only, then full extractive answers (per-question caches "
              "cleared).", "",
              "| chunks | Chroma | first pass retrieve p50 / p95 ms | retrieve p50 / p95 ms | "
              "extractive answer p50 / p95 ms | first query s | query process peak RSS MB | "
              "stock first pass p50 / p95 ms | stock retrieve p50 / p95 ms |",
              "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]

    def pair(lat: dict[str, float] | None) -> str:
        return f"{lat['p50_ms']:.1f} / {lat['p95_ms']:.1f}" if lat else "–"

    for x in sorted(r["retrieval"], key=lambda x: (x["chroma"], x["size"])):
        n, s = x["newscite"], x.get("stock") or {}
        lines.append(
            f"| {x['fill']['chunks']:,} | {x['chroma']} | {pair(n.get('first_pass'))} | "
            f"{pair(n['retrieve'])} | {pair(n['answer'])} | {n['cold_first_query_s']:.2f} | "
            f"{_f(n['peak_rss_mb'], 0)} | {pair(s.get('first_pass'))} | "
            f"{pair(s.get('retrieve'))} |")
    repeated = [x for x in r["retrieval"] if len(x.get("newscite_runs_ms", [])) > 1]
    if repeated:
        lines += ["", "Each store was queried by several processes, newscite's alternating "
                  "with stock's (AB, BA, ...); the rows show the run with the median retrieve "
                  "p50, and the ratios to stock below are the medians of the pairs' ratios. "
                  "Every run's retrieve p50 / p95 (ms):", ""]
        for x in repeated:
            runs = "; ".join(f"{a:.1f} / {b:.1f}" for a, b in x["newscite_runs_ms"])
            line = f"- {x['fill']['chunks']:,} chunks ({x['chroma']}): newscite {runs}"
            if x.get("stock_runs_ms"):
                line += "; stock " + "; ".join(f"{a:.1f} / {b:.1f}" for a, b in x["stock_runs_ms"])
            lines.append(line)
    serve = [(x["fill"]["chunks"], x["serve"]) for x in r["retrieval"] if x.get("serve")]
    if serve:
        lines += ["", "## Serving (`newscite serve`, extractive, no LLM)", ""]
        for size, sv in serve:
            lines.append(f"- {size:,} chunks: RSS {sv['rss_mb']:.0f} MB after "
                         f"{sv['after_queries']} questions (peak {sv['peak_rss_mb']:.0f} MB).")
            load = sv.get("load")
            if load:
                lines.append(
                    f"- load test, {load['clients']} clients x {load['per_client']} questions "
                    f"to `POST /api/ask`: {load['requests']} answers, {load['errors']} errors, "
                    f"{load['throughput_rps']:.1f} answers/s, p50 {load['p50_ms']:.0f} ms, "
                    f"p95 {load['p95_ms']:.0f} ms (requests queue behind 2 workers); RSS after "
                    f"{sv.get('after_load_rss_mb', 0):.0f} MB.")
    figs = stock_figures(r)
    if figs:
        lines += ["", "## newscite / stock LlamaIndex (same run; below 1 = newscite better)", "",
                  "| figure | newscite | stock | ratio |", "|---|---:|---:|---:|"]
        for name, a, b, ratio in figs:
            lines.append(f"| {name} | {_f(a, 2)} | {_f(b, 2)} | "
                         f"{'–' if ratio is None else f'{ratio:.2f}'} |")
    lines += ["", "## Goals", "", "| goal | measured | met |", "|---|---|---|"]
    for goal, measured, met in goals(r):
        lines.append(f"| {goal} | {measured} | {'–' if met is None else 'yes' if met else 'no'} |")
    lines += ["", f"`newscite --help`: {r['help']['median_s']:.2f} s (median of "
              f"{r['help']['runs']})."]
    return "\n".join(lines) + "\n"


def plot(r: dict[str, Any], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    ret = sorted((x for x in r["retrieval"] if x["chroma"] == "embedded"),
                 key=lambda x: x["fill"]["chunks"])
    if ret:
        xs = [x["fill"]["chunks"] for x in ret]
        left.plot(xs, [x["newscite"]["retrieve"]["p50_ms"] for x in ret], "o-",
                  label="newscite retrieve p50")
        left.plot(xs, [x["newscite"]["answer"]["p50_ms"] for x in ret], "s-",
                  label="newscite extractive answer p50")
        left.plot(xs, [x["newscite"]["answer"]["p95_ms"] for x in ret], "s:",
                  label="newscite answer p95")
        st = [x for x in ret if "stock" in x]
        if st:
            left.plot([x["fill"]["chunks"] for x in st],
                      [x["stock"]["retrieve"]["p50_ms"] for x in st], "^--",
                      label="stock LlamaIndex retrieve p50")
        left.set_xscale("log")
        left.set_xlabel("chunks in the index")
        left.set_ylabel("ms")
        left.set_title("Query latency")
        left.legend(fontsize=8)
        left.grid(alpha=0.3)
    ing = sorted((x for x in r["ingest"] if x["chroma"] == "embedded"),
                 key=lambda x: x["newscite"]["chunks"])
    if ing:
        xs = [x["newscite"]["chunks"] for x in ing]
        right.plot(xs, [_rate(x["newscite"]) for x in ing], "o-", label="newscite ingest")
        right.plot(xs, [_rate(x["bare"]) for x in ing], "kD--", label="bare model encode")
        st = [x for x in ing if "stock" in x]
        if st:
            right.plot([x["newscite"]["chunks"] for x in st], [_rate(x["stock"]) for x in st],
                       "^--", label="stock LlamaIndex ingest (its nodes)")
        right.set_xscale("log")
        right.set_xlabel("chunks in the corpus")
        right.set_ylabel("chunks / s")
        right.set_title("Ingest throughput")
        right.legend(fontsize=8)
        right.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_reports(r: dict[str, Any], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "results.json", out / "results.md", out / "bench.png"]
    paths[0].write_text(json.dumps(r, indent=2, default=str), encoding="utf-8")
    paths[1].write_text(markdown(r), encoding="utf-8")
    plot(r, paths[2])
    return paths
