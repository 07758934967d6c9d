"""The `newscite` command line (also `python -m rag`); errors become one-line messages here."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag.errors import RagError
from rag.settings import load_settings


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, help="index folder (default .newscite, "
                        "or NEWSCITE_DATA_DIR)")
    parser.add_argument("--chroma-url", help="use a Chroma server, e.g. http://127.0.0.1:8000")
    parser.add_argument("--config", type=Path, help="TOML settings file")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", action="append", default=[], help="only this outlet "
                        "(repeatable)")
    parser.add_argument("--date-from", help="only articles published on or after YYYY-MM-DD")
    parser.add_argument("--date-to", help="only articles published on or before YYYY-MM-DD")
    parser.add_argument("--article", action="append", default=[], help="only this article id "
                        "(repeatable)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newscite",
        description="Ask questions about news articles; every sentence cites its passage.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("ingest", help="index article files or folders")
    p.add_argument("paths", nargs="+", type=Path, help=".txt .md .html .json .jsonl or folders")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    _common(p)

    p = sub.add_parser("ask", help="answer a question with citations")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the whole Answer as JSON")
    p.add_argument("--engine", choices=["auto", "extractive", "local", "openai"])
    p.add_argument("--top-k", type=int, help="passages to retrieve")
    p.add_argument("--openai-url", help="OpenAI-compatible server base URL")
    p.add_argument("--openai-model", help="model name on that server")
    _filters(p)
    _common(p)

    p = sub.add_parser("articles", help="list indexed articles")
    p.add_argument("--json", action="store_true")
    _common(p)

    p = sub.add_parser("delete", help="remove an article by id")
    p.add_argument("article_id")
    _common(p)

    p = sub.add_parser("eval", help="evaluate on gold questions (see `newscite eval --help`)",
                       add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)

    p = sub.add_parser("serve", help="serve the web chat and REST API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--engine", choices=["auto", "extractive", "local", "openai"])
    p.add_argument("--ingest", action="append", default=[], type=Path,
                   help="index this folder before serving (repeatable)")
    _common(p)
    return parser


def _settings(args: argparse.Namespace) -> Any:
    overrides = {
        "data_dir": getattr(args, "data_dir", None),
        "chroma_url": getattr(args, "chroma_url", None),
        "engine": getattr(args, "engine", None),
        "top_k": getattr(args, "top_k", None),
        "openai_base_url": getattr(args, "openai_url", None),
        "openai_model": getattr(args, "openai_model", None),
    }
    settings = load_settings(getattr(args, "config", None), **overrides)
    if settings.top_k > settings.candidates:
        settings = settings.replace(candidates=settings.top_k)
    return settings


def _progress(quiet: bool) -> Any:
    if quiet or not sys.stderr.isatty():
        return None, None
    from tqdm import tqdm

    bar = tqdm(total=0, unit="chunk", desc="embedding", dynamic_ncols=True)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return update, bar


def _print_answer(answer: Any) -> None:
    print(answer.text)
    for note in answer.notices:
        print(f"note: {note}")
    for c in answer.citations:
        meta = ", ".join(x for x in (c.source, c.published) if x)
        print(f"\n[{c.number}] {c.title}" + (f" ({meta})" if meta else ""))
        print(f"    \"{c.quote}\"  (chars {c.start}-{c.end} of article {c.article_id})")
        if c.url:
            print(f"    {c.url}")


def run(args: argparse.Namespace) -> int:
    from rag.types import Filters

    if args.command == "eval":
        from eval.cli import main as eval_main
        return eval_main(args.rest)
    settings = _settings(args)
    if args.command == "serve":
        from ui.server import serve
        serve(settings, host=args.host, port=args.port, ingest=args.ingest)
        return 0
    from rag.assistant import Assistant
    assistant = Assistant(settings)
    if args.command == "ingest":
        update, bar = _progress(args.quiet)
        try:
            report = assistant.ingest(args.paths, progress=update)
        finally:
            if bar is not None:
                bar.close()
        if args.json:
            print(json.dumps(report.to_dict(), indent=2))
        else:
            print(report.summary())
            for s in report.skipped:
                print(f"skipped {s.path}: {s.reason}")
            for w in report.warnings:
                print(f"warning: {w}")
        return 0
    if args.command == "ask":
        filters = Filters(sources=tuple(args.source), date_from=args.date_from,
                          date_to=args.date_to, article_ids=tuple(args.article))
        answer = assistant.ask(args.question, filters=filters)
        if args.json:
            print(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False))
        else:
            _print_answer(answer)
        return 0
    if args.command == "articles":
        items = assistant.articles()
        if args.json:
            print(json.dumps([a.__dict__ for a in items], indent=2, ensure_ascii=False))
        else:
            for a in items:
                print(f"{a.id}  {a.published or '----------'}  {a.source or '-':<24.24}  "
                      f"{a.chunks:>3} chunks  {a.title}")
            print(f"{len(items)} articles")
        return 0
    if args.command == "delete":
        if not assistant.delete(args.article_id):
            print(f"error: no article with id {args.article_id}", file=sys.stderr)
            return 1
        print(f"deleted {args.article_id}")
        return 0
    raise AssertionError(args.command)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["eval"]:  # the harness has its own options (`newscite eval --help`)
        from eval.cli import main as eval_main
        return eval_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return run(args)
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    except Exception as exc:  # a user never sees a stack trace; -v logs it
        if getattr(args, "verbose", False):
            logging.getLogger(__name__).exception("unexpected failure")
        print(f"error: unexpected {type(exc).__name__}: {exc} (run with -v for details)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
