"""`newscite bench --keep-stores`: a filled store is reused only when size, seed and stock copy
match and its fill completed (unit level: the fill and the query workers are faked)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from eval import bench, bench_fill


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
    monkeypatch.setattr(b, "worker", lambda kind, *a: {"kind": kind})
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
    # per run: first ingest, unchanged re-ingest, 1% changed re-ingest
    assert seen == [False, True, True, False, True, True]
    assert not (tmp_path / "ingest-300-embedded" / "newscite").exists()
