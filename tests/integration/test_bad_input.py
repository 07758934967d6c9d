"""Bad files and folders: skipped with reasons or clear errors; the index stays consistent."""
from __future__ import annotations

import pytest

from core.settings import Settings
from rag.assistant import Assistant

pytestmark = [pytest.mark.integration, pytest.mark.fault]


def test_bad_files_are_skipped_with_reasons(tmp_path, seeds_dir, hash_embedder):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.txt").write_text("")
    (bad / "blank.md").write_text("  \n\t\n")
    (bad / "binary.txt").write_bytes(b"\x00\x01\x02PNG\x00" * 100)
    (bad / "latin1.txt").write_bytes("Caf\xe9 owners protest\n\nThe caf\xe9 closed on Monday."
                                     .encode("latin-1"))
    (bad / "bom.txt").write_bytes("\ufeffBOM headline\n\nA sentence after a BOM.".encode())
    (bad / "crlf.txt").write_bytes(b"CRLF headline\r\n\r\nFirst line.\r\nSecond line.\r\n")
    (bad / "huge.txt").write_text("Huge headline\n\n" + "The council met again today. " * 360_000)
    (bad / "longline.txt").write_text("Long line headline\n\n" + "x" * 100_000)
    (bad / "baddate.md").write_text("---\ntitle: Bad date\npublished: not-a-date\n---\n\nBody text.")
    (bad / "broken.jsonl").write_text('{"title": "ok", "text": "Fine body."}\n{not json\n')
    (bad / "notes.pdf").write_bytes(b"%PDF-1.4")
    assistant = Assistant(Settings(data_dir=tmp_path / "data", engine="extractive"),
                          embedder=hash_embedder)
    report = assistant.ingest([bad, tmp_path / "missing-folder"])
    reasons = {s.path.rsplit("/", 1)[-1]: s.reason for s in report.skipped}
    assert "empty" in reasons["empty.txt"] and "empty" in reasons["blank.md"]
    assert "binary" in reasons["binary.txt"]
    assert "not found" in reasons["missing-folder"]
    assert any("JSON" in r for p, r in reasons.items() if p.startswith("broken.jsonl#"))
    titles = {a.title for a in assistant.articles()}
    assert {"BOM headline", "CRLF headline", "Huge headline", "Long line headline",
            "Bad date", "ok"} <= titles
    assert any("latin1.txt: not valid UTF-8, decoded as cp1252" in w for w in report.warnings)
    crlf = next(a for a in assistant.articles() if a.title == "CRLF headline")
    assert "\r" not in assistant.article(crlf.id).text
    assert assistant.manifest.all_chunk_ids() == assistant.store.ids() == \
        assistant.manifest.keyword_ids()
    answer = assistant.ask("When did the cafe close?")
    assert "Monday" in answer.text and answer.citations[0].quote == "The caf\xe9 closed on Monday."


def test_unwritable_data_folder_gives_clear_error(tmp_path, seeds_dir, hash_embedder):
    from core.errors import RagError

    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    assistant = Assistant(Settings(data_dir=blocker / "data", engine="extractive"),
                          embedder=hash_embedder)
    with pytest.raises(RagError):
        assistant.ingest([seeds_dir])
