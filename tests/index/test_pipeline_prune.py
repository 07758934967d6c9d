"""Re-ingesting a folder whose files were deleted: reported, and removed with prune."""
from __future__ import annotations

from pathlib import Path

from core.settings import Settings
from index.embed import HashEmbedder
from rag.assistant import Assistant


def _write(folder: Path, name: str, title: str) -> None:
    (folder / name).write_text(f"{title}\n\nThe {title.lower()} opened on Monday after repairs.\n")


def test_articles_of_deleted_files_are_reported_then_pruned(tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    for i, title in enumerate(("Canal report", "Bridge report", "Tunnel report")):
        _write(folder, f"{i}.txt", title)
    (folder / "more.jsonl").write_text('{"title": "Ferry report", "text": "The ferry sailed."}\n')
    assistant = Assistant(Settings(data_dir=tmp_path / "data", engine="extractive"),
                          embedder=HashEmbedder())
    assert len(assistant.ingest([folder]).added) == 4
    (folder / "1.txt").unlink()
    (folder / "more.jsonl").unlink()
    again = assistant.ingest([folder])
    assert any("2 indexed articles came from files that are no longer there" in w
               for w in again.warnings), again.warnings
    assert len(assistant.articles()) == 4  # reported, not removed
    pruned = assistant.ingest([folder], prune=True)
    assert len(pruned.removed) == 2
    assert sorted(a.title for a in assistant.articles()) == ["Canal report", "Tunnel report"]
    # another folder's articles are never touched by a prune
    other = tmp_path / "other"
    other.mkdir()
    _write(other, "x.txt", "Harbour report")
    assistant.ingest([other])
    assert assistant.ingest([folder], prune=True).removed == ()
    assert len(assistant.articles()) == 3
    assistant.close()
