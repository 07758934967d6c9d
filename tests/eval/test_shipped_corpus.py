"""A shipped gold set whose corpus is missing (the seed articles live outside the repository)
is a clear error in the LLM bench and the calibration, never a run of instant refusals."""
from __future__ import annotations

from pathlib import Path

import pytest

from eval import bench, calibrate, dataset


@pytest.fixture
def no_seeds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    missing = tmp_path / "shared" / "corpus" / "seeds"
    monkeypatch.setitem(dataset.DEFAULT_CORPORA, "seeds", missing)
    monkeypatch.setattr("rag.llm.model.is_local_available", lambda: True)
    return missing


def test_a_missing_or_empty_corpus_is_an_error(no_seeds: Path) -> None:
    with pytest.raises(dataset.DatasetError, match="seeds corpus is missing or empty"):
        dataset.shipped_corpus("seeds")
    with pytest.raises(dataset.DatasetError, match="seeds corpus is missing or empty"):
        dataset.default_corpus(dataset.GOLD_DIR / "seeds.jsonl")  # `newscite eval` too
    no_seeds.mkdir(parents=True)
    with pytest.raises(dataset.DatasetError, match="missing or empty"):
        dataset.shipped_corpus("seeds")
    (no_seeds / "a.txt").write_text("Title\n\nText.")
    assert dataset.shipped_corpus("seeds") == no_seeds
    assert dataset.shipped_corpus("sample").is_dir()


def test_the_llm_bench_stops_with_a_clear_error(no_seeds: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--llm", "--out", str(tmp_path / "out")]) == 2
    assert f"the seeds corpus is missing or empty: {no_seeds}" in capsys.readouterr().err
    assert not (tmp_path / "out" / "llm.json").exists()


def test_the_calibration_stops_with_a_clear_error(no_seeds: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert calibrate.main(["--out", str(tmp_path / "precheck.md")]) == 2
    assert "the seeds corpus is missing or empty" in capsys.readouterr().out
    assert not (tmp_path / "precheck.md").exists()
