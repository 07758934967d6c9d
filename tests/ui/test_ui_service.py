"""Input handling shared by the web chat and REST API: names, history, filters, locking."""
from __future__ import annotations

import io
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from core.errors import InputError
from ui.service import (
    Library,
    ReadWriteLock,
    UnsupportedFileTypeError,
    UploadTooLargeError,
    make_filters,
    parse_history,
    safe_filename,
)


@pytest.mark.parametrize("name,expected", [
    ("report.txt", "report.txt"), ("../../etc/passwd.txt", "passwd.txt"),
    ("C:\\Users\\x\\news.HTML", "news.html"), ("über news!.md", "ber_news.md"),
    ("..", "upload"), ("", "upload"), (".jsonl", "upload.jsonl"),
])
def test_safe_filename(name, expected):
    assert safe_filename(name) == expected


def test_parse_history_accepts_pairs_and_objects():
    assert parse_history([["q1", "a1"], {"question": "q2", "answer": "a2"}]) == [
        ("q1", "a1"), ("q2", "a2")]
    assert parse_history(None) == []
    with pytest.raises(InputError):
        parse_history([["only one"]])
    with pytest.raises(InputError):
        parse_history([{"question": 1, "answer": "a"}])


def test_make_filters_validates_dates():
    assert make_filters() is None
    f = make_filters(["Wire", ""], "2020-02-01", "2020-03-01")
    assert f.sources == ("Wire",) and f.date_from == "2020-02-01"
    with pytest.raises(InputError, match="date_from"):
        make_filters(date_from="last week")
    with pytest.raises(InputError, match="after"):
        make_filters(date_from="2020-03-02", date_to="2020-03-01")


def _library(tmp_path: Path, limit: int = 100) -> Library:
    fake = SimpleNamespace(settings=SimpleNamespace(data_dir=tmp_path, engine="extractive",
                                                    top_k=6))
    return Library(fake, max_upload_bytes=limit)


def test_save_upload_enforces_type_and_size(tmp_path):
    lib = _library(tmp_path)
    up = lib.save_upload("../story.txt", io.BytesIO(b"short"))
    assert up.name == "story.txt" and up.path.parent == tmp_path / "uploads"
    assert up.path.read_bytes() == b"short"
    with pytest.raises(UploadTooLargeError):
        lib.save_upload("big.txt", io.BytesIO(b"x" * 101))
    with pytest.raises(UnsupportedFileTypeError):
        lib.save_upload("evil.exe", io.BytesIO(b"MZ"))
    # nothing half-written is left behind
    assert [p.name for p in (tmp_path / "uploads").iterdir()] == [up.path.name]


def test_read_write_lock_lets_writers_wait_for_readers():
    lock = ReadWriteLock()
    order: list[str] = []

    def writer() -> None:
        with lock.write():
            order.append("w")

    with lock.read():
        with lock.read():  # readers share
            t = threading.Thread(target=writer)
            t.start()
            time.sleep(0.1)
            assert order == []  # the writer waits for the readers
            order.append("r")
    t.join(2)
    assert order == ["r", "w"]


def test_uploads_accept_exactly_the_formats_the_loader_reads(tmp_path):
    from index.formats import FORMATS, extensions_text
    from ui.service import check_extension

    lib = _library(tmp_path)
    for ext in FORMATS:
        assert check_extension(f"story{ext.upper()}") == ext
    assert lib.save_upload("notes.markdown", io.BytesIO(b"# Title\n\nBody.")).name == "notes.markdown"
    with pytest.raises(UnsupportedFileTypeError, match=extensions_text().replace(".", r"\.")):
        check_extension("story.pdf")
