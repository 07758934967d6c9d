"""`python -m eval` / `newscite eval`: run configurations over gold sets and write reports."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from eval.dataset import (
    DISTRACTORS,
    ROOT,
    DatasetError,
    default_corpus,
    default_datasets,
    load_dataset,
)
from eval.systems import CONFIGS, DEFAULT_CONFIGS, get_config

logger = logging.getLogger(__name__)

DEFAULT_OUT = ROOT / "eval" / "reports" / "latest"
THRESHOLDS = ROOT / "eval" / "thresholds.json"


def build_parser() -> argparse.ArgumentParser:
    configs = "\n".join(f"  {c.name:28s} {c.description}" for c in CONFIGS.values())
    p = argparse.ArgumentParser(
        prog="newscite eval", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Score retrieval, answers, citations, refusals and latency on gold sets.",
        epilog=f"configurations:\n{configs}\n\nexit status: 0 ok, 1 regression or threshold "
               "failure, 2 bad arguments or data")
    p.add_argument("--dataset", action="append", type=Path, metavar="PATH",
                   help="gold JSONL file (repeatable; default: eval/gold/seeds.jsonl and "
                        "eval/gold/sample.jsonl)")
    p.add_argument("--corpus", action="append", type=Path, metavar="DIR",
                   help="articles for the dataset at the same position (default: the seed "
                        "articles for seeds.jsonl, eval/corpus/sample for sample.jsonl)")
    p.add_argument("--config", action="append", metavar="NAME",
                   help=f"configuration to run (repeatable; default: {', '.join(DEFAULT_CONFIGS)})")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                   help="report folder (default: eval/reports/latest)")
    p.add_argument("--baseline", type=Path, metavar="PREVIOUS.json",
                   help="an earlier summary.json: print differences, exit 1 on a regression")
    p.add_argument("--tolerance", type=float, default=0.02,
                   help="allowed absolute drop per metric against --baseline (default 0.02)")
    p.add_argument("--thresholds", type=Path, metavar="JSON",
                   help="check the run named in this file against its min/max values")
    p.add_argument("--smoke", action="store_true",
                   help="the CI smoke evaluation: extractive on seeds.jsonl, checked against "
                        "eval/thresholds.json")
    p.add_argument("--update-thresholds", action="store_true",
                   help="with --smoke: rewrite eval/thresholds.json as measured - 0.05")
    p.add_argument("--noise", action="store_true",
                   help="also rerun with distractor articles (seeds: the sample corpus added)")
    p.add_argument("--limit", type=int, metavar="N",
                   help="at most N items per dataset, spread over the question types")
    p.add_argument("--config-limit", action="append", default=[], metavar="NAME=N",
                   help="run configuration NAME on at most N items per dataset (the same "
                        "items --limit N picks); every other configuration is also scored on "
                        "exactly those items, in extra rows named 'OTHER [NAME items]'")
    p.add_argument("--mixed", action="store_true",
                   help="weekly sets (a folder of WEEK.jsonl files as --corpus): also ask every "
                        "question over all the weeks' articles at once")
    p.add_argument("--mixed-only", action="store_true",
                   help="weekly sets: only the run over all the weeks' articles")
    p.add_argument("--week", action="append", default=[], metavar="YYYYMMDD",
                   help="weekly sets: only this week's questions (repeatable)")
    p.add_argument("--no-llm", action="store_true",
                   help="never load the local LLM (the stock baseline runs its retriever only)")
    p.add_argument("--note", metavar="TEXT", help="a line of context for the report")
    p.add_argument("--render", type=Path, metavar="DIR",
                   help="only rebuild report.md and the plots of an existing report folder")
    p.add_argument("--support-set", action="append", type=Path, metavar="PATH",
                   help="score the citation support check on a claim/passage JSONL (WiCE or "
                        "SummEdits shape; repeatable) instead of a gold set; report in --out "
                        "(default: eval/reports/support)")
    p.add_argument("--support-lexical", action="store_true",
                   help="with --support-set: skip the embedding-based checkers")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar, less output")
    p.add_argument("--verbose", "-v", action="store_true", help="log progress details")
    return p


def _pairs(args: argparse.Namespace) -> list[tuple[Path, Path]]:
    datasets = args.dataset or default_datasets()
    corpora = args.corpus or []
    if corpora and len(corpora) != len(datasets):
        raise DatasetError("give one --corpus per --dataset, in the same order")
    out = []
    for i, path in enumerate(datasets):
        corpus = corpora[i] if corpora else default_corpus(path)
        if not corpus.is_dir() and not corpus.is_file():
            raise DatasetError(f"corpus not found: {corpus}")
        out.append((path, corpus))
    return out


def _config_limits(values: Sequence[str], names: Sequence[str]) -> dict[str, int]:
    """{config name: item limit} from NAME=N arguments; ValueError on a bad one."""
    limits: dict[str, int] = {}
    for value in values:
        name, sep, number = value.partition("=")
        if not sep or not number.strip().isdigit() or int(number) <= 0:
            raise ValueError(f"--config-limit wants NAME=N with N a positive number, not {value!r}")
        if name not in names:
            raise ValueError(f"--config-limit names {name!r}, which is not a --config of this run")
        limits[name] = int(number)
    return limits


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    if args.render is not None:
        from eval.report import rerender
        try:
            written = rerender(args.render)
        except (OSError, ValueError, KeyError) as exc:
            print(f"error: cannot render {args.render}: {exc}", file=sys.stderr)
            return 2
        print(f"wrote {', '.join(str(p) for p in written)}")
        return 0
    if args.support_set:
        from eval import support_eval

        out = args.out if args.out != DEFAULT_OUT else support_eval.DEFAULT_OUT
        command = "python -m eval " + " ".join(sys.argv[1:] if argv is None else argv)
        try:
            return support_eval.run(args.support_set, out, command,
                                    semantic=not args.support_lexical)
        except (OSError, ValueError, KeyError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if args.smoke:
        args.dataset = args.dataset or [ROOT / "eval" / "gold" / "seeds.jsonl"]
        args.config = args.config or ["extractive"]
        args.thresholds = args.thresholds or THRESHOLDS
    if args.limit is not None and args.limit <= 0:
        print("error: --limit must be positive", file=sys.stderr)
        return 2
    try:
        configs = [get_config(name) for name in (args.config or DEFAULT_CONFIGS)]
        config_limits = _config_limits(args.config_limit, [c.name for c in configs])
        pairs = _pairs(args)
        datasets = [(load_dataset(path).limit(args.limit), corpus) for path, corpus in pairs]
    except (DatasetError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from core.errors import RagError
    from eval import report
    from eval.run import evaluate, same_items_runs
    from eval.weekly import cached_embedder, evaluate_weekly, weekly_groups
    from index.embed import get_embedder

    embedder = get_embedder("minilm")
    weekly = [weekly_groups(dataset, corpus) is not None for dataset, corpus in datasets]
    stored = cached_embedder(embedder) if any(weekly) else embedder
    runs = []
    started = time.perf_counter()
    try:
        for config in configs:
            for (dataset, corpus), is_weekly in zip(datasets, weekly):
                if is_weekly:  # each question over its week's articles, as of that week
                    if not args.quiet:
                        print(f"running {config.name} on {dataset.name} (weekly)",
                              file=sys.stderr)
                    runs += evaluate_weekly(
                        config, dataset.limit(config_limits.get(config.name)), corpus, stored,
                        per_week=not args.mixed_only, mixed=args.mixed or args.mixed_only,
                        weeks=args.week, use_llm=not args.no_llm, progress=not args.quiet)
                    continue
                plans = [()]
                if args.noise and dataset.name in DISTRACTORS:
                    plans.append((DISTRACTORS[dataset.name],))
                subset = dataset.limit(config_limits.get(config.name))
                for distractors in plans:
                    if not args.quiet:
                        print(f"running {config.name} on {subset.name}"
                              + (" with distractors" if distractors else ""), file=sys.stderr)
                    runs.append(evaluate(config, subset, [corpus], distractors, embedder,
                                         use_llm=not args.no_llm, progress=not args.quiet))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    runs += same_items_runs(runs, set(config_limits))
    summary = report.build_summary(runs, {"seconds": round(time.perf_counter() - started, 1),
                                          "limit": args.limit, "note": args.note,
                                          "config_limits": config_limits})
    written = report.write_results(runs, summary, args.out)
    if any(weekly):
        from eval.weekly import breakdown_markdown

        path = args.out / "breakdown.md"
        path.write_text(breakdown_markdown(summary), encoding="utf-8")
        written.append(path)
        print(breakdown_markdown(summary))
    print(report.head_to_head(summary))
    if not args.quiet:
        print(f"\nwrote {', '.join(str(p) for p in written)}")
    status = 0
    if args.baseline is not None:
        try:
            previous = report.load_json(args.baseline)
        except (OSError, ValueError) as exc:
            print(f"error: cannot read baseline {args.baseline}: {exc}", file=sys.stderr)
            return 2
        diffs = report.compare(summary, previous, args.tolerance)
        print(f"\nagainst {args.baseline} (tolerance {args.tolerance}):")
        print(report.format_diffs(diffs) or "no runs in common")
        bad = [d for d in diffs if d.regression]
        if bad:
            print(f"{len(bad)} regression(s)", file=sys.stderr)
            status = 1
    if args.update_thresholds:
        if not args.smoke:
            print("error: --update-thresholds needs --smoke", file=sys.stderr)
            return 2
        data = report.make_thresholds(summary, "extractive/seeds")
        THRESHOLDS.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {THRESHOLDS}")
        return 0
    if args.thresholds is not None:
        try:
            failures = report.check_thresholds(summary, report.load_json(args.thresholds))
        except (OSError, ValueError, KeyError) as exc:
            print(f"error: cannot read thresholds {args.thresholds}: {exc}", file=sys.stderr)
            return 2
        for failure in failures:
            print(f"below threshold: {failure}", file=sys.stderr)
        if failures:
            status = 1
        elif not args.quiet:
            print(f"all thresholds in {args.thresholds} met")
    return status


if __name__ == "__main__":
    sys.exit(main())
