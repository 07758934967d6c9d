"""The `newscite` command line (also `python -m rag`); errors become one-line messages here."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import ConfigError, InputError, RagError
from core.settings import Settings, load_settings
from index.formats import extensions_text

if TYPE_CHECKING:
    from core.records import Answer, Filters, IngestReport, Progress
    from index.feeds import Feed
    from rag.assistant import Assistant

logger = logging.getLogger(__name__)


def _common(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """The global options, accepted before the command (`newscite --data-dir D serve`) and after
    it; given after, they win. Only the top-level parser sets defaults (a subcommand's would
    overwrite a value given before the command)."""
    default: dict[str, object] = {} if top else {"default": argparse.SUPPRESS}
    parser.add_argument("--data-dir", type=Path, help="index folder (default .newscite, "
                        "or NEWSCITE_DATA_DIR)", **default)  # type: ignore[arg-type]
    parser.add_argument("--chroma-url", help="use a Chroma server, e.g. http://127.0.0.1:8000",
                        **default)  # type: ignore[arg-type]
    parser.add_argument("--config", type=Path, help="TOML settings file",
                        **default)  # type: ignore[arg-type]
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details",
                        **default)  # type: ignore[arg-type]


def _openai(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """The OpenAI-compatible server's options: global (before the command) and on the
    commands that answer (`ask`, `serve`), like `_common`."""
    default: dict[str, object] = {} if top else {"default": argparse.SUPPRESS}
    parser.add_argument("--openai-url", metavar="URL", help="OpenAI-compatible server base "
                        "URL, e.g. http://127.0.0.1:11434/v1 (enables the openai engine; "
                        "or NEWSCITE_OPENAI_BASE_URL)", **default)  # type: ignore[arg-type]
    parser.add_argument("--openai-model", metavar="NAME", help="model name on that server "
                        "(or NEWSCITE_OPENAI_MODEL)", **default)  # type: ignore[arg-type]


def _iso_date(value: str) -> str:
    """argparse's view of `core.records.iso_date` (the one date parser)."""
    from core.records import iso_date

    try:
        return iso_date(value, "the date") or ""
    except RagError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", action="append", default=[], help="only this outlet "
                        "(repeatable)")
    parser.add_argument("--date-from", type=_iso_date, metavar="YYYY-MM-DD",
                        help="only articles published on or after this date")
    parser.add_argument("--date-to", type=_iso_date, metavar="YYYY-MM-DD",
                        help="only articles published on or before this date")
    parser.add_argument("--article", action="append", default=[], help="only this article id "
                        "(repeatable)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newscite",
        description="Ask questions about news articles; every sentence cites its passage.")
    _common(parser, top=True)
    _openai(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("ingest", help="index article files, folders or web pages")
    p.add_argument("paths", nargs="+", metavar="PATH_OR_URL",
                   help=f"{extensions_text()} files or folders, or http(s) addresses of "
                   "article pages")
    p.add_argument("--prune", action="store_true", help="delete the articles indexed from files "
                   "that are no longer in the given folders")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    _fetching(p)
    _common(p)

    p = sub.add_parser("feeds", help="the RSS and Atom feeds `newscite sync` reads")
    feeds_sub = p.add_subparsers(dest="feeds_command", required=True, metavar="ACTION")
    q = feeds_sub.add_parser("add", help="add feeds by address")
    q.add_argument("urls", nargs="+", metavar="URL")
    _common(q)
    q = feeds_sub.add_parser("list", help="list the feeds, their last sync and errors")
    q.add_argument("--json", action="store_true")
    _common(q)
    q = feeds_sub.add_parser("remove", help="remove a feed (its articles stay indexed)")
    q.add_argument("urls", nargs="+", metavar="URL")
    _common(q)

    p = sub.add_parser("sync", help="fetch and index the new and changed items of every feed")
    p.add_argument("--feed", action="append", default=[], metavar="URL",
                   help="only this feed (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    _fetching(p)
    _common(p)

    p = sub.add_parser("ask", help="answer a question with citations")
    p.add_argument("question")
    p.add_argument("--format", choices=["text", "json", "markdown"], default="text",
                   help="text (default), json (the whole Answer) or markdown (numbered "
                   "footnotes with title, outlet, date, URL and quote)")
    p.add_argument("--json", action="store_const", const="json", dest="format",
                   help="the same as --format json")
    p.add_argument("--engine", choices=["auto", "extractive", "local", "openai"])
    p.add_argument("--top-k", type=int, help="passages to retrieve")
    _openai(p)
    p.add_argument("--as-of", type=_iso_date, metavar="YYYY-MM-DD",
                   help="the question's 'now': articles published after it are not used")
    p.add_argument("--quiet", action="store_true", help="no \"loading the local model…\" "
                   "line on stderr while the model loads")
    _filters(p)
    _common(p)

    for name, what in (("compare", "what each outlet says: outlets x the values they give, "
                                   "each cited"),
                       ("timeline", "dated events about a topic in the order they happened, "
                                    "each cited")):
        p = sub.add_parser(name, help=what)
        p.add_argument("question", metavar="QUESTION" if name == "compare" else "TOPIC")
        p.add_argument("--json", action="store_true", help="print the result as JSON")
        p.add_argument("--top-k", type=int, help="passages to read")
        p.add_argument("--as-of", type=_iso_date, metavar="YYYY-MM-DD",
                       help="the 'now': articles published after it are not used")
        _filters(p)
        _common(p)

    p = sub.add_parser("articles", help="list indexed articles")
    p.add_argument("--json", action="store_true")
    _common(p)

    p = sub.add_parser("delete", help="remove an article by id")
    p.add_argument("article_id")
    _common(p)

    p = sub.add_parser("index", help="check or repair the index (verify, rebuild)")
    index_sub = p.add_subparsers(dest="index_command", required=True, metavar="ACTION")
    q = index_sub.add_parser("verify", help="check that the manifest, Chroma and the keyword "
                             "index agree; exit 1 if not")
    q.add_argument("--json", action="store_true", help="print the problems as JSON")
    _common(q)
    q = index_sub.add_parser("rebuild", help="re-chunk and re-embed every stored article into "
                             "a fresh Chroma collection and keyword index")
    q.add_argument("--quiet", action="store_true", help="no progress bar")
    _common(q)

    p = sub.add_parser("export", help="write every indexed article (text and metadata) to a "
                       ".jsonl file")
    p.add_argument("path", type=Path, help="the JSON Lines file to write")
    _common(p)

    p = sub.add_parser("import", help="index the articles of a `newscite export` file as they "
                       "are (same ids)")
    p.add_argument("path", type=Path, help="a file written by `newscite export`")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    _common(p)

    p = sub.add_parser("eval", help="evaluate on gold questions (see `newscite eval --help`)",
                       add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)

    p = sub.add_parser("bench", help="measure speed and memory (see `newscite bench --help`)",
                       add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)

    p = sub.add_parser("serve", help="serve the web chat and REST API")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default "
                   "127.0.0.1; any other needs --auth or --insecure)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--auth", metavar="TOKEN", help="require this token (Authorization: Bearer, "
                   "or ?token= once in the browser); other users can read it in the process "
                   "list: prefer --auth-file or NEWSCITE_AUTH_TOKEN")
    p.add_argument("--auth-file", metavar="FILE", type=Path,
                   help="read the token from this file (its first line)")
    p.add_argument("--insecure", action="store_true", help="allow a non-loopback --host "
                   "without --auth (anyone who can reach it can read and change the index)")
    p.add_argument("--engine", choices=["auto", "extractive", "local", "openai"],
                   help="the default answer engine")
    _openai(p)
    p.add_argument("--ingest", action="append", default=[], type=Path,
                   help="index this folder before serving (repeatable)")
    p.add_argument("--sync-every", type=_interval, metavar="INTERVAL",
                   help="sync the feeds in the background this often (e.g. 15m, 2h, 90s)")
    _fetching(p)
    _common(p)
    return parser


def _fetching(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--allow-private", action="store_true", default=None,
                        help="also fetch private, loopback and link-local addresses (refused "
                        "by default)")
    parser.add_argument("--timeout", type=float, metavar="SECONDS",
                        help="give up on a page after this long (default 20)")


def _interval(value: str) -> float:
    """argparse's view of `ui.syncer.parse_interval`."""
    from ui.syncer import parse_interval

    try:
        return parse_interval(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _auth_token(args: argparse.Namespace) -> str | None:
    """The server's token: --auth-file, --auth (visible in `ps`: warned), NEWSCITE_AUTH_TOKEN."""
    import os

    if args.auth_file is not None:
        try:
            lines = args.auth_file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read the token file {args.auth_file}: {exc}") from exc
        token = lines[0].strip() if lines else ""
        if not token:
            raise ConfigError(f"the token file {args.auth_file} is empty")
        return token
    if args.auth:
        logger.warning("--auth puts the token in the process list, where other users of this "
                       "machine can read it; prefer --auth-file or NEWSCITE_AUTH_TOKEN")
        return str(args.auth)
    return os.environ.get("NEWSCITE_AUTH_TOKEN") or None


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {
        "data_dir": getattr(args, "data_dir", None),
        "chroma_url": getattr(args, "chroma_url", None),
        "engine": getattr(args, "engine", None),
        "top_k": getattr(args, "top_k", None),
        "openai_base_url": getattr(args, "openai_url", None),
        "openai_model": getattr(args, "openai_model", None),
        "fetch_allow_private": getattr(args, "allow_private", None),
        "fetch_timeout": getattr(args, "timeout", None),
    }
    settings = load_settings(getattr(args, "config", None), **overrides)
    if settings.top_k > settings.candidates:
        settings = settings.replace(candidates=settings.top_k)
    return settings


@contextmanager
def _progress(quiet: bool) -> Iterator[Progress | None]:
    """A progress callback (done, total) drawing a bar on a terminal; None when quiet."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from tqdm import tqdm

    bar = tqdm(total=0, unit="chunk", desc="embedding", dynamic_ncols=True)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        yield update
    finally:
        bar.close()


LOAD_NOTICE_AFTER = 0.5  # seconds a model load takes before the CLI says so


@contextmanager
def _load_notice(quiet: bool, after: float = LOAD_NOTICE_AFTER) -> Iterator[None]:
    """While the local model is assembled or loaded, one line on stderr per stage (only when
    the stage lasts longer than `after` seconds); nothing when `quiet`."""
    if quiet:
        yield
        return
    import threading

    from rag.llm.model import LOAD_MESSAGES, on_load_progress

    pending: list[threading.Timer] = []

    def show(stage: str) -> None:
        print(LOAD_MESSAGES.get(stage, stage), file=sys.stderr, flush=True)

    def changed(stage: str | None) -> None:
        while pending:
            pending.pop().cancel()
        if stage is not None:
            timer = threading.Timer(after, show, (stage,))
            timer.daemon = True
            pending.append(timer)
            timer.start()

    remove = on_load_progress(changed)
    try:
        yield
    finally:
        remove()
        while pending:
            pending.pop().cancel()


def _print_answer(answer: Answer) -> None:
    print(answer.text)
    for note in answer.notices:
        print(f"note: {note}")
    for k, sent in enumerate(answer.sentences, 1):
        if sent.state == "partial":
            missing = f": not in the passage: {', '.join(sent.unsupported)}" \
                if sent.unsupported else ""
            print(f"note: sentence {k} is partly supported{missing}")
        elif sent.state == "unsupported":
            print(f"note: sentence {k} is not supported by any cited passage")
    from ui.desk_render import outlets_text

    for line in outlets_text(answer):
        print(line)
    for c in answer.citations:
        meta = ", ".join(x for x in (c.source, c.published) if x)
        print(f"\n[{c.number}] {c.title}" + (f" ({meta})" if meta else ""))
        print(f"    \"{c.quote}\"  (chars {c.start}-{c.end} of article {c.article_id})")
        if c.url:
            print(f"    {c.url}")


def _desk_command(assistant: Assistant, args: argparse.Namespace, filters: Filters
                  ) -> int:
    """`newscite compare` and `newscite timeline`."""
    from ui.desk_render import compare_text, timeline_text

    if args.command == "compare":
        table = assistant.compare(args.question, filters, as_of=args.as_of, top_k=args.top_k)
        print(json.dumps(table.to_dict(), indent=2, ensure_ascii=False) if args.json
              else compare_text(table))
    else:
        tl = assistant.timeline(args.question, filters, as_of=args.as_of, top_k=args.top_k)
        print(json.dumps(tl.to_dict(), indent=2, ensure_ascii=False) if args.json
              else timeline_text(tl))
    return 0


def _print_report(report: IngestReport, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
        return
    print(report.summary())
    for s in report.skipped:
        print(f"skipped {s.path}: {s.reason}")
    for w in report.warnings:
        print(f"warning: {w}")


def _index_command(assistant: Assistant, args: argparse.Namespace) -> int:
    if args.index_command == "verify":
        problems = assistant.verify()
        if args.json:
            print(json.dumps([p.to_dict() for p in problems], indent=2, ensure_ascii=False))
        else:
            for problem in problems:
                print(problem)
            print(f"{len(problems)} problems" if problems else
                  f"index ok: {len(assistant.articles())} articles")
        return 1 if problems else 0
    with _progress(args.quiet) as update:
        report = assistant.rebuild(progress=update)
    print(report.summary())
    return 0


def run(args: argparse.Namespace) -> int:
    from core.records import Filters

    if args.command == "eval":
        from eval.cli import main as eval_main
        return eval_main(args.rest)
    settings = _settings(args)
    args.resolved_data_dir = settings.data_dir  # for _storage_note, should this command fail
    if args.command == "serve":

        from ui.server import serve
        token = _auth_token(args)
        serve(settings, host=args.host, port=args.port, ingest=args.ingest, auth_token=token,
              insecure=args.insecure, sync_every=args.sync_every)
        return 0
    if args.command == "feeds":
        return _feeds_command(settings, args)
    from rag.assistant import Assistant
    assistant = Assistant(settings)
    if args.command == "ingest":
        urls, paths = _split_addresses(args.paths)
        from index.onnx_embed import needs_export
        if not args.quiet and needs_export(assistant.ingest_embedder):
            print("first use on this machine: exporting the embedding model to ONNX Runtime "
                  "(about half a minute, once)", file=sys.stderr)
        reports = []
        with _progress(args.quiet) as update:
            if paths:
                reports.append(assistant.ingest(paths, progress=update, prune=args.prune))
            if urls:
                reports.append(assistant.ingest_urls(urls, progress=update))
        report = _merged(reports)
        _print_report(report, args.json)
        missing = [s.path for s in report.skipped if s.reason == "not found"]
        if missing:
            print(f"error: not found: {', '.join(missing)}", file=sys.stderr)
        failed = [s.path for s in report.skipped
                  if s.path.lower().startswith(("http://", "https://"))]
        if failed:
            print(f"error: could not fetch: {', '.join(failed)}", file=sys.stderr)
        return 1 if missing or failed else 0
    if args.command == "sync":
        with _progress(args.quiet) as update:
            report = assistant.sync(progress=update, only=args.feed or None)
        _print_report(report, args.json)
        if not args.json:
            for feed in assistant.feeds.feeds():
                if feed.url in args.feed or not args.feed:
                    print(_feed_line(feed))
        return 0
    if args.command == "index":
        return _index_command(assistant, args)
    if args.command == "export":
        count = assistant.export(args.path)
        print(f"exported {count} articles to {args.path}")
        return 0
    if args.command == "import":
        with _progress(args.quiet) as update:
            report = assistant.import_articles(args.path, progress=update)
        _print_report(report, args.json)
        return 0
    if args.command == "ask":
        _check_indexed(settings.data_dir)
        filters = Filters(sources=_outlets(assistant, args.source), date_from=args.date_from,
                          date_to=args.date_to, article_ids=tuple(args.article))
        with _load_notice(args.quiet):
            answer = assistant.ask(args.question, filters=filters, as_of=args.as_of)
        if args.format == "json":
            print(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False))
        elif args.format == "markdown":
            from ui.markdown import answer_markdown
            print(answer_markdown(answer), end="")
        else:
            _print_answer(answer)
        return 0
    if args.command in ("compare", "timeline"):
        _check_indexed(settings.data_dir)
        filters = Filters(sources=_outlets(assistant, args.source), date_from=args.date_from,
                          date_to=args.date_to, article_ids=tuple(args.article))
        return _desk_command(assistant, args, filters)
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


def _split_addresses(given: Sequence[str]) -> tuple[list[str], list[Path]]:
    """(web addresses, file paths) of `ingest`'s arguments; an address of another scheme
    (ftp://, file://) is an error, not a file name."""
    import re

    urls, paths = [], []
    for text in given:
        if text.lower().startswith(("http://", "https://")):
            urls.append(text)
        elif re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", text):
            raise InputError(f"{text[:100]}: only http:// and https:// addresses can be "
                             "fetched")
        else:
            paths.append(Path(text))
    return urls, paths


def _merged(reports: Sequence[IngestReport]) -> IngestReport:
    """One report for files and web pages ingested by one command."""
    from core.records import IngestReport

    if len(reports) == 1:
        return reports[0]
    out = IngestReport()
    for r in reports:
        out = IngestReport(
            added=out.added + r.added, updated=out.updated + r.updated,
            unchanged=out.unchanged + r.unchanged, removed=out.removed + r.removed,
            skipped=out.skipped + r.skipped, warnings=out.warnings + r.warnings,
            chunks_embedded=out.chunks_embedded + r.chunks_embedded,
            seconds=out.seconds + r.seconds,
            timings={k: out.timings.get(k, 0.0) + r.timings.get(k, 0.0)
                     for k in {*out.timings, *r.timings}})
    return out


def _feed_line(feed: Feed) -> str:
    import time

    def when(t: float | None) -> str:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(t)) if t else "never"

    state = f"error: {feed.last_error}" if feed.last_error else \
        f"ok, {feed.items} items, {feed.new_items} new or changed last time"
    title = f" ({feed.title})" if feed.title else ""
    return f"{feed.url}{title}\n    last sync {when(feed.last_sync)}: {state}"


def _feeds_command(settings: Settings, args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from index.feeds import FeedStore

    store = FeedStore(settings.data_dir)
    if args.feeds_command == "add":
        for url in args.urls:
            feed = store.add(url)
            print(f"added {feed.url}; `newscite sync` fetches it")
        return 0
    if args.feeds_command == "remove":
        status = 0
        for url in args.urls:
            if store.remove(url):
                print(f"removed {url} (its articles stay indexed)")
            else:
                print(f"error: no feed {url}", file=sys.stderr)
                status = 1
        return status
    feeds = store.feeds()
    if args.json:
        print(json.dumps([asdict(f) for f in feeds], indent=2, ensure_ascii=False))
        return 0
    for feed in feeds:
        print(_feed_line(feed))
    print(f"{len(feeds)} feeds")
    return 0


def _check_indexed(data_dir: Path) -> None:
    """A question to a folder with no index gets that answer, not "the articles do not say"."""
    if not (Path(data_dir) / "manifest.sqlite").is_file():
        raise InputError(f"no articles are indexed in {data_dir}; add some with "
                         "`newscite ingest PATH` (or pass --data-dir)")


def _outlets(assistant: Assistant, given: Sequence[str]) -> tuple[str, ...]:
    """The indexed outlets named by `given`, matched case-insensitively; an outlet that no
    indexed article has is an error that lists the ones there are."""
    if not given:
        return ()
    known = sorted({a.source for a in assistant.articles() if a.source})
    if not known:
        raise InputError(f"no articles are indexed in {assistant.settings.data_dir}")
    by_key = {k.casefold(): k for k in known}
    out = []
    for name in given:
        match = by_key.get(name.strip().casefold())
        if match is None:
            raise InputError(f"no indexed article is from {name!r}; outlets: "
                             + ", ".join(known[:30]) + (" ..." if len(known) > 30 else ""))
        out.append(match)
    return tuple(out)


def _storage_note(args: argparse.Namespace) -> str:
    """Why writing the data folder may have failed (a full disk, no write permission), or ''."""
    import os
    import shutil

    folder = getattr(args, "resolved_data_dir", None)
    if folder is None:
        return ""
    probe = Path(folder)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free = shutil.disk_usage(probe).free
    except OSError:
        return ""
    if free < 1 << 20:
        return f"the disk holding {folder} is full ({free // 1024} KB free)"
    if not os.access(probe, os.W_OK):
        return f"{probe} is not writable by this user"
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["eval"]:  # the harness has its own options (`newscite eval --help`)
        from eval.cli import main as eval_main
        return eval_main(argv[1:])
    if argv[:1] == ["bench"]:  # the benchmark has its own options (`newscite bench --help`)
        from eval.bench import main as bench_main
        return bench_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return run(args)
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        note = _storage_note(args)
        if note:
            print(f"note: {note}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    except Exception as exc:  # a user never sees a stack trace; -v logs it
        if getattr(args, "verbose", False):
            logging.getLogger(__name__).exception("unexpected failure")
        print(f"error: unexpected {type(exc).__name__}: {exc} (run with -v for details)",
              file=sys.stderr)
        note = _storage_note(args)
        if note:
            print(f"note: {note}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
