"""`newscite bench --keep-stores`: a filled store is reused only when size, seed and stock copy
match and its fill completed (unit level: the fill and the query workers are faked)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from eval.bench import fill as bench_fill
from eval.bench import run as bench


def make_bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *extra: str
               ) -> tuple[bench.Bench, list[int]]:
    args = bench.build_parser().parse_args(
        ["--work", str(tmp_path), "--keep-stores", "--no-stock", "--quiet", *extra])
    fills: list[int] = []

    def fake_fill(data: Path, size: int, *_a: Any, **_k: Any) -> dict[str, Any]:
        fills.append(size)
        data.mkdir(parents=True, exist_ok=True)
        return {"chunks": size, "seconds": 1.0, "keyword_build_seconds": 0.1}

    monkeypatch.setattr(bench_fill, "fill", fake_fill)
    b = bench.Bench(args, tmp_path)
    monkeypatch.setattr(b, "pool", lambda: None)
    monkeypatch.setattr(b, "worker", lambda kind, *a: {"kind": kind, **_latency(1.0, 2.0)})
    return b, fills


def test_a_kept_store_is_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    b, fills = make_bench(tmp_path, monkeypatch)
    first = b.retrieval(500)
    assert fills == [500] and "reused" not in first["fill"]
    assert (tmp_path / "store-500-embedded" / "bench-fill.json").is_file()
    second = b.retrieval(500)
    assert fills == [500] and second["fill"]["reused"] is True
    assert second["fill"]["chunks"] == 500


def test_another_seed_or_a_partial_fill_fills_again(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    b, fills = make_bench(tmp_path, monkeypatch)
    b.retrieval(500)
    other, other_fills = make_bench(tmp_path, monkeypatch, "--seed", "14")
    other.retrieval(500)
    assert other_fills == [500]
    record = tmp_path / "store-500-embedded" / "bench-fill.json"
    assert json.loads(record.read_text())["seed"] == 14
    record.unlink()  # as a fill cut short leaves it
    again, again_fills = make_bench(tmp_path, monkeypatch)
    again.retrieval(500)
    assert again_fills == [500]


def test_keep_stores_needs_a_work_folder(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--keep-stores", "--ingest-sizes", ""]) == 2
    assert "--keep-stores needs --work" in capsys.readouterr().err


def test_each_ingest_row_starts_from_empty_folders(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A manifest an earlier run left in the same --work must not turn the timed first ingest
    into a re-ingest: the worker finds no data folder before the first ingest of each run."""
    b, _ = make_bench(tmp_path, monkeypatch)
    seen: list[bool] = []

    def worker(kind: str, *args: str) -> dict[str, Any]:
        data = Path(args[args.index("--data-dir") + 1])
        if kind == "ingest":
            seen.append((data / "manifest.sqlite").exists())
            data.mkdir(parents=True, exist_ok=True)
            (data / "manifest.sqlite").write_text("indexed")  # what a real ingest leaves
        return {"seconds": 1.0, "cpu_seconds": 1.0, "timings": {}}

    monkeypatch.setattr(b, "worker", worker)
    b.ingest(300)
    b.ingest(300)  # the next run, same --work
    # per run: three paired first ingests, unchanged re-ingest, 1% changed re-ingest
    assert seen == [False, False, False, True, True] * 2
    assert not (tmp_path / "ingest-300-embedded" / "newscite").exists()


def test_small_ingests_alternate_pairs_and_report_the_medians(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    b, _ = make_bench(tmp_path, monkeypatch)  # 300 chunks: three pairs by default
    calls: list[str] = []
    times = {"encode": iter([10.0, 14.0, 12.0]), "ingest": iter([13.0, 11.0, 30.0, 2.0, 3.0]),
             "findable": iter([0.0])}

    def worker(kind: str, *args: str) -> dict[str, Any]:
        calls.append(kind)
        seconds = next(times[kind])
        return {"seconds": seconds, "cpu_seconds": 2 * seconds, "timings": {"embed": 1.0}}

    monkeypatch.setattr(b, "worker", worker)
    row = b.ingest(300)
    assert calls[:6] == ["encode", "ingest"] * 3  # side by side, not all of one kind first
    assert row["bare_runs_s"] == [10.0, 14.0, 12.0]
    assert row["newscite_runs_s"] == [13.0, 11.0, 30.0]
    assert row["bare"]["seconds"] == 12.0 and row["newscite"]["seconds"] == 13.0
    # the median of the side-by-side ratios 1.3, 11/14 and 2.5
    assert row["pair_ratios"] == pytest.approx([1.3, 11 / 14, 2.5])
    assert row["ratio_to_encode"] == pytest.approx(1.3)
    assert row["cpu_ratio_to_encode"] == pytest.approx(1.3)


def test_stock_ingests_alternate_pairs_too(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    b, _ = make_bench(tmp_path, monkeypatch, "--ingest-pairs", "3")
    b.args.no_stock = False
    calls: list[tuple[str, bool]] = []
    times = {("encode", False): iter([10.0, 10.0, 10.0]),
             ("encode", True): iter([4.0, 5.0, 6.0]),
             ("stock-ingest", True): iter([5.0, 7.0, 6.6, 2.0, 3.0, 8.0, 9.0])}

    def worker(kind: str, *args: str) -> dict[str, Any]:
        stock = kind == "stock-ingest" or "stock" in args
        calls.append((kind, stock))
        seconds = next(times.get((kind, stock), iter([])), 1.0)
        return {"seconds": seconds, "cpu_seconds": seconds, "chunks": 10, "peak_rss_mb": 1.0,
                "timings": {}}

    monkeypatch.setattr(b, "worker", worker)
    row = b.ingest(300)
    stock_calls = [c for c in calls if c[1]]
    # stock's bare encode and first ingest side by side, then its unchanged re-run
    assert stock_calls[:7] == [("encode", True), ("stock-ingest", True)] * 3 + [
        ("stock-ingest", True)]
    assert row["stock_bare_runs_s"] == [4.0, 5.0, 6.0]
    assert row["stock_runs_s"] == [5.0, 7.0, 6.6]
    assert row["stock_pair_ratios"] == pytest.approx([1.25, 1.4, 1.1])
    assert row["stock_ratio_to_encode"] == pytest.approx(1.25)  # the median of the pairs
    assert row["stock"]["seconds"] == 6.6 and row["stock_bare"]["seconds"] == 5.0
    assert row["stock_unchanged"]["seconds"] == 2.0


@pytest.mark.parametrize(("extra", "pairs"), [((), 1), (("--ingest-pairs", "2"), 2)])
def test_large_ingests_run_one_pair_unless_told(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                extra: tuple[str, ...], pairs: int) -> None:
    b, _ = make_bench(tmp_path, monkeypatch, *extra)
    calls: list[str] = []
    monkeypatch.setattr(bench, "PAIRED_UP_TO", 200)

    def worker(kind: str, *args: str) -> dict[str, Any]:
        calls.append(kind)
        return {"seconds": 1.0, "cpu_seconds": 1.0, "timings": {}}

    monkeypatch.setattr(b, "worker", worker)
    b.ingest(300)
    # then: unchanged re-ingest, known-item recall of the store, 1% changed re-ingest
    assert calls == ["encode", "ingest"] * pairs + ["ingest", "findable", "ingest"]


def test_median_run_is_one_real_run() -> None:
    runs = [{"seconds": 3.0, "rss": 1}, {"seconds": 1.0, "rss": 2}, {"seconds": 2.0, "rss": 3}]
    assert bench.median_run(runs) == {"seconds": 2.0, "rss": 3}
    assert bench.median_run(runs[:2]) == {"seconds": 1.0, "rss": 2}  # the lower middle
    assert bench.median_run(runs[:1]) == runs[0]


@pytest.mark.parametrize("flag", ["--ingest-pairs", "--query-pairs"])
def test_pairs_must_be_positive(capsys: pytest.CaptureFixture[str], flag: str) -> None:
    assert bench.main([flag, "0"]) == 2
    err = capsys.readouterr().err
    assert flag in err and "must be positive" in err


def _latency(p50: float, p95: float) -> dict[str, Any]:
    return {"retrieve": {"p50_ms": p50, "p95_ms": p95},
            "answer": {"p50_ms": 2 * p50, "p95_ms": 2 * p95}, "cold_first_query_s": 1.0,
            "peak_rss_mb": 300.0}


def test_queries_alternate_with_stock_and_report_the_medians(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    b, fills = make_bench(tmp_path, monkeypatch)
    b.args.no_stock = False  # stock runs beside newscite (three pairs by default)
    calls: list[str] = []
    runs = {"query": iter([_latency(10.0, 14.0), _latency(12.0, 20.0), _latency(9.0, 13.0)]),
            "stock-query": iter([_latency(11.0, 13.0), _latency(16.0, 18.0),
                                 _latency(10.0, 15.0)])}

    def worker(kind: str, *args: str) -> dict[str, Any]:
        calls.append(kind)
        return runs[kind].__next__()

    monkeypatch.setattr(b, "worker", worker)
    row = b.retrieval(500)
    assert fills == [500]
    # AB, BA, AB: a drifting machine favours neither side
    assert calls == ["query", "stock-query", "stock-query", "query", "query", "stock-query"]
    assert row["newscite_runs_ms"] == [[10.0, 14.0], [12.0, 20.0], [9.0, 13.0]]
    assert row["stock_runs_ms"] == [[11.0, 13.0], [16.0, 18.0], [10.0, 15.0]]
    # the run with the median p50, whole (its p95 and answers are that run's)
    assert row["newscite"] == _latency(10.0, 14.0)
    assert row["stock"] == _latency(11.0, 13.0)
    assert row["stock_pair_ratios"]["p50"] == pytest.approx([10 / 11, 12 / 16, 9 / 10])

    from eval.bench.report import markdown, stock_figures

    row["fill"] = {"chunks": 500}
    report = {"ingest": [], "retrieval": [row], "help": {"median_s": 0.1, "runs": 5}}
    figures = {f[0]: f for f in stock_figures(report)}
    # the median of the side-by-side ratios, not the ratio of the two median runs
    assert figures["retrieve p50 ms (500)"] == pytest.approx(("retrieve p50 ms (500)", 10.0,
                                                              11.0, 0.9))
    assert figures["retrieve p95 ms (500)"][3] == pytest.approx(14 / 13)
    assert ("- 500 chunks (embedded): newscite 10.0 / 14.0; 12.0 / 20.0; 9.0 / 13.0; "
            "stock 11.0 / 13.0; 16.0 / 18.0; 10.0 / 15.0") in markdown(report)


def test_one_query_pair_reports_the_plain_ratio(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    b, _ = make_bench(tmp_path, monkeypatch, "--query-pairs", "1")
    calls: list[str] = []

    def worker(kind: str, *args: str) -> dict[str, Any]:
        calls.append(kind)
        return _latency(8.0, 12.0)

    monkeypatch.setattr(b, "worker", worker)
    row = b.retrieval(500)
    assert calls == ["query"]  # --no-stock: newscite alone, once
    assert row["newscite_runs_ms"] == [[8.0, 12.0]] and "stock_runs_ms" not in row


def test_the_report_lists_every_paired_run() -> None:
    from eval.bench.report import markdown

    run = {"chunks": 1005, "seconds": 28.0, "cpu_seconds": 50.0, "peak_rss_mb": 700.0}
    row = {"size": 1000, "chroma": "embedded", "newscite": run, "bare": {"seconds": 25.0},
           "ratio_to_encode": 1.12, "cpu_ratio_to_encode": 1.1, "ratio_to_own_embed": 1.01,
           "newscite_unchanged": {"seconds": 0.1, "model_loaded": False},
           "unchanged_fraction": 0.004,
           "newscite_changed": {"seconds": 5.0},
           "bare_runs_s": [25.0, 24.0, 26.0], "newscite_runs_s": [28.0, 27.0, 30.0],
           "pair_ratios": [1.12, 1.125, 1.154]}
    text = markdown({"ingest": [row], "retrieval": [], "serve": [], "load": None,
                     "help": {"median_s": 0.1, "runs": 5}})
    assert ("1,005 chunks (embedded): bare encode 25.0, 24.0, 26.0; newscite 28.0, 27.0, 30.0; "
            "ratios 1.120, 1.125, 1.154") in text


def test_the_report_shows_how_much_text_each_store_reads_and_finds() -> None:
    """The stock-defaults goal line says what each side's model read and found, and time per
    word piece read is a figure of its own."""
    from eval.bench.report import goals, markdown, stock_figures

    def run(seconds: float, chunks: int, rss: float) -> dict[str, Any]:
        return {"chunks": chunks, "seconds": seconds, "cpu_seconds": seconds,
                "peak_rss_mb": rss}

    row = {"size": 1000, "chroma": "embedded", "newscite": run(25.0, 1005, 400.0),
           "bare": {"seconds": 24.0, "word_pieces": 144_000, "word_pieces_read": 144_000},
           "ratio_to_encode": 1.04, "cpu_ratio_to_encode": 1.04, "ratio_to_own_embed": 1.01,
           "newscite_unchanged": {"seconds": 0.1, "model_loaded": False},
           "unchanged_fraction": 0.004, "newscite_changed": {"seconds": 1.0},
           "newscite_findable": {"recall_at_5": 0.97},
           "stock": run(9.0, 166, 800.0), "stock_unchanged": {"seconds": 2.0},
           "stock_changed": {"seconds": 7.0}, "stock_findable": {"recall_at_5": 0.41},
           "stock_bare": {"seconds": 7.0, "word_pieces": 120_000, "word_pieces_read": 42_000},
           "stock_ratio_to_encode": 9 / 7, "stock_cpu_ratio_to_encode": 9 / 7}
    report = {"ingest": [row], "retrieval": [], "help": {"median_s": 0.1, "runs": 5}}
    per_piece = {f[0]: f for f in stock_figures(report)}[
        "ingest s per 1,000 word pieces the model read (1,000)"]
    assert per_piece[1:3] == pytest.approx((25 / 144, 9 / 42))
    line = next(g for g in goals(report) if "stock defaults" in g[0])
    assert line[2] is False and line[1].startswith("slower on: ingest s (1,000);")
    assert ("newscite model reads 100% of its word pieces, known-item recall@5 0.97, stock "
            "model reads 35% of its word pieces, known-item recall@5 0.41") in line[1]
    assert "| model reads 35% of its word pieces, known-item recall@5 0.41 |" in markdown(report)


def test_the_million_goal_needs_retrieval_and_answers_within_2x() -> None:
    from eval.bench.report import goals

    def row(size: int, retrieve: float, answer: float) -> dict[str, Any]:
        return {"size": size, "chroma": "embedded",
                "newscite": {"retrieve": {"p50_ms": retrieve}, "answer": {"p50_ms": answer}}}

    def million(retrieve: float) -> tuple[str, str, bool | None]:
        report = {"ingest": [], "retrieval": [row(10_000, 10.0, 15.0),
                                              row(1_000_000, retrieve, 20.0)],
                  "help": {"median_s": 0.1}}
        return next(g for g in goals(report) if "1M" in g[0])

    assert million(17.5) == ("latency at 1M <= 2x latency at 10k (retrieval and answer p50)",
                             "retrieval 1.75x, answer 1.33x", True)
    assert million(20.5)[2] is False  # answers within, retrieval not


def test_a_query_only_report_adds_no_empty_coverage_part() -> None:
    """Without ingest rows the stock-defaults goal line lists the slower figures only."""
    from eval.bench.report import goals

    def lat(p50: float) -> dict[str, float]:
        return {"p50_ms": p50, "p95_ms": p50}

    row = {"size": 10_000, "chroma": "embedded",
           "newscite": {"retrieve": lat(12.0), "answer": lat(15.0), "peak_rss_mb": 360.0},
           "stock": {"retrieve": lat(11.0), "peak_rss_mb": 700.0}}
    line = next(g for g in goals({"ingest": [], "retrieval": [row], "help": {"median_s": 0.1}})
                if "stock defaults" in g[0])
    assert line[1:] == ("slower on: retrieve p50 ms (10,000), retrieve p95 ms (10,000)", False)
