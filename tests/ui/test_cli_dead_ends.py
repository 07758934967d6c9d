"""The CLI says what is wrong instead of answering or exiting 0 as if all were well."""
from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import InputError
from core.records import Filters
from core.settings import Settings
from index.embed import HashEmbedder
from rag.assistant import Assistant
from ui.cli import _outlets, main

SAMPLE = Path(__file__).resolve().parents[2] / "eval" / "corpus" / "sample"


def test_missing_paths_and_unfetchable_addresses_are_errors(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path / "data")
    assert main(["ingest", str(tmp_path / "missing"), "--data-dir", data, "--quiet"]) == 1
    assert "not found" in capsys.readouterr().err
    # a web address is fetched; this one is refused before any connection (loopback)
    assert main(["ingest", "http://127.0.0.1:9/story", "--data-dir", data, "--quiet"]) == 1
    out, err = capsys.readouterr()
    assert "skipped http://127.0.0.1:9/story: 127.0.0.1 is a loopback address: refused" in out
    assert "error: could not fetch: http://127.0.0.1:9/story" in err
    assert main(["ingest", "ftp://example.com/story", "--data-dir", data]) == 1
    assert "only http:// and https:// addresses can be fetched" in capsys.readouterr().err


def test_asking_an_empty_folder_says_nothing_is_indexed(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "Who won?", "--data-dir", str(tmp_path / "nothing")]) == 1
    assert "no articles are indexed in" in capsys.readouterr().err
    assert not (tmp_path / "nothing").exists()  # and nothing was created


@pytest.mark.parametrize("bad", ["yesterday", "01/03/2020", "2020-13-01"])
def test_bad_dates_are_refused_everywhere(tmp_path: Path, bad: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["ask", "Who won?", "--date-from", bad, "--data-dir", str(tmp_path)])
    assert exit_.value.code == 2 and "2020-02-28" in capsys.readouterr().err
    with pytest.raises(InputError, match="date_from must be a date"):
        Filters(date_from=bad)
    assert Filters(date_from=" 2020-03-01 ").date_from == "2020-03-01"
    with pytest.raises(InputError, match="after"):
        Filters(date_from="2020-03-02", date_to="2020-03-01")


def test_global_options_work_before_the_command(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    assert main(["--data-dir", str(data), "articles"]) == 0
    assert "0 articles" in capsys.readouterr().out
    assert (data / "manifest.sqlite").exists()
    # given after the command it wins
    other = tmp_path / "other"
    assert main(["--data-dir", str(data), "articles", "--data-dir", str(other)]) == 0
    assert (other / "manifest.sqlite").exists()


def test_outlet_filters_match_case_insensitively_or_list_the_outlets(tmp_path: Path) -> None:
    assistant = Assistant(Settings(data_dir=tmp_path / "data", engine="extractive"),
                          embedder=HashEmbedder())
    assistant.ingest([SAMPLE])
    outlets = sorted({a.source for a in assistant.articles() if a.source})
    assert outlets
    assert _outlets(assistant, [outlets[0].upper()]) == (outlets[0],)
    with pytest.raises(InputError, match="outlets: " + outlets[0][:10]):
        _outlets(assistant, ["No Such Outlet"])
    assistant.close()


def test_partly_supported_and_unsupported_sentences_are_noted(
        capsys: pytest.CaptureFixture[str]) -> None:
    from core.records import Answer, Sentence
    from ui.cli import _print_answer

    text = "A. [1] B. C."
    _print_answer(Answer(question="q", text=text, sentences=(
        Sentence("A.", 0, 6, (1,), True, "supported"),
        Sentence("B.", 7, 9, (), False, "partial", ("Ankara", "Friday")),
        Sentence("C.", 10, 12, (), False, "unsupported"))))
    out = capsys.readouterr().out
    assert "note: sentence 2 is partly supported: not in the passage: Ankara, Friday" in out
    assert "note: sentence 3 is not supported by any cited passage" in out
    assert "sentence 1" not in out
