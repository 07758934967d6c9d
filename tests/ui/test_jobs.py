"""ui.jobs: background ingest jobs run one at a time, report progress, keep their errors."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from core.errors import IndexLockedError, InputError
from core.records import IngestReport
from core.settings import Settings
from index.embed import HashEmbedder
from rag.assistant import Assistant
from ui.jobs import INGEST_NICENESS, IngestJobs
from ui.service import Library


def test_a_job_runs_in_the_background_with_progress_and_a_report() -> None:
    gate = threading.Event()
    seen: dict[str, int] = {}

    def run(files, progress):
        seen["nice"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        progress(1, 4)
        gate.wait(10)
        progress(4, 4)
        return IngestReport(added=tuple(files), chunks_embedded=4)

    jobs = IngestJobs(run)
    job = jobs.submit(["a"], ["a.txt"])
    assert job.state == "queued" and job.files == ("a.txt",)
    assert jobs.wait(job.id, timeout=0.2).state == "running"  # held at the gate
    assert jobs.busy() and jobs.get(job.id).done == 1 and jobs.get(job.id).total == 4
    gate.set()
    done = jobs.wait(job.id, timeout=10)
    assert done.state == "done" and done.report.added == ("a",)
    assert done.to_dict()["report"]["chunks_embedded"] == 4
    assert not jobs.busy()
    assert seen["nice"] >= min(INGEST_NICENESS, 19)  # lowered, unless already lower


def test_a_failed_job_keeps_its_error_and_the_next_one_still_runs() -> None:
    def run(files, progress):
        if files == ["bad"]:
            raise InputError("that file is not an article")
        if files == ["bug"]:
            raise KeyError("internal detail")
        return IngestReport(added=("ok",))

    jobs = IngestJobs(run)
    bad, bug, good = (jobs.submit([f], [f]) for f in ("bad", "bug", "good"))
    failed = jobs.wait(bad.id, timeout=10)
    assert failed.state == "failed" and failed.error == "that file is not an article"
    assert isinstance(failed.exception, InputError)
    crashed = jobs.wait(bug.id, timeout=10)
    assert crashed.state == "failed" and "internal" not in crashed.error
    assert jobs.wait(good.id, timeout=10).state == "done"
    assert [j.id for j in jobs.list()] == [bad.id, bug.id, good.id]


def _story(n: int) -> str:
    return "".join(f"Sentence {i} of the long harbour report says berth {i} reopened. "
                   for i in range(n))


def test_library_uploads_index_in_a_job_and_deletes_wait_for_it(tmp_path: Path) -> None:
    assistant = Assistant(Settings(data_dir=tmp_path / "data", engine="extractive"),
                          embedder=HashEmbedder())
    library = Library(assistant)
    gate = threading.Event()
    real = assistant.ingest

    def held(*args, **kwargs):
        gate.wait(10)
        return real(*args, **kwargs)

    assistant.ingest = held  # type: ignore[method-assign]
    up = library.save_upload("harbour.txt", _bytes("Harbour report\n\n" + _story(5)))
    job = library.submit_uploads([up])
    assert library.articles() == []  # questions and listings go on meanwhile
    with pytest.raises(IndexLockedError, match="being indexed"):
        library.delete("whatever")
    gate.set()
    done = library.jobs.wait(job.id, timeout=30)
    assert done.state == "done", done.error
    assert [a.title for a in library.articles()] == ["Harbour report"]
    with pytest.raises(InputError):
        library.submit_uploads([])
    assistant.close()


def test_an_article_over_the_chunk_cap_is_cut_with_a_warning(tmp_path: Path) -> None:
    assistant = Assistant(Settings(data_dir=tmp_path / "data", engine="extractive",
                                   chunk_chars=100, max_article_chunks=5),
                          embedder=HashEmbedder())
    (tmp_path / "long.txt").write_text("Long report\n\n" + _story(40))
    report = assistant.ingest([tmp_path / "long.txt"])
    assert report.chunks_embedded == 5
    assert len(report.warnings) == 1 and "only its first 5" in report.warnings[0]
    [info] = assistant.articles()
    assert info.chunks == 5
    assistant.close()


def _bytes(text: str):
    import io

    return io.BytesIO(text.encode())


def _upload(library: Library, name: str, text: str, replace: bool = False) -> IngestReport:
    return library.ingest_uploads([library.save_upload(name, _bytes(text))], timeout=60,
                                  replace=replace)


def test_uploads_are_told_apart_by_content_not_name(tmp_path: Path) -> None:
    assistant = Assistant(Settings(data_dir=tmp_path / "data", engine="extractive"),
                          embedder=HashEmbedder())
    library = Library(assistant)
    first = _upload(library, "story.txt", "Harbour report\n\n" + _story(3))
    second = _upload(library, "story.txt", "Bridge report\n\n" + _story(4))
    assert first.added and second.added and not second.removed
    assert sorted(a.title for a in library.articles()) == ["Bridge report", "Harbour report"]
    # the same content under other names: one article, one file
    for name in ("copy-1.txt", "copy-2.txt", "copy-3.txt"):
        again = _upload(library, name, "Bridge report\n\n" + _story(4))
        assert again.unchanged and not again.added
    files = [p for p in library.upload_dir.rglob("*") if p.is_file()]
    assert len(files) == 2, files
    # "replace": the earlier articles under that name give way
    third = _upload(library, "story.txt", "Tunnel report\n\n" + _story(5), replace=True)
    assert third.added and len(third.removed) == 2
    assert [a.title for a in library.articles()] == ["Tunnel report"]
    assert len([p for p in library.upload_dir.rglob("*") if p.is_file()]) == 1
    assistant.close()


def test_skipped_uploads_leave_no_file_behind(tmp_path: Path) -> None:
    assistant = Assistant(Settings(data_dir=tmp_path / "data", engine="extractive"),
                          embedder=HashEmbedder())
    library = Library(assistant)
    report = _upload(library, "empty.txt", "   \n")
    assert [s.reason for s in report.skipped] == ["empty file"]
    assert [p for p in library.upload_dir.rglob("*") if not p.name.startswith(".")] == []
    assistant.close()
