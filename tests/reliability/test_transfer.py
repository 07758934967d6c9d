"""`newscite export` / `newscite import`: a lossless round trip, same ids, same answers."""
from __future__ import annotations

import json

import pytest
from rel_helpers import cli, copy_corpus, release_chroma, snapshot

from core.settings import Settings
from index.embed import HashEmbedder
from index.transfer import read_jsonl
from rag.assistant import Assistant

FIELDS = {"newscite_export", "id", "title", "source", "url", "published", "text", "path", "key",
          "keys", "boilerplate", "content_hash"}


@pytest.mark.integration
@pytest.mark.slow
def test_export_import_round_trip(tmp_path, minilm, need_seeds):
    corpus = copy_corpus(tmp_path / "corpus")
    (corpus / "copy-of-strike.txt").write_text((corpus / "idlib-strike-toll.txt").read_text())
    first = tmp_path / "first"
    assistant = Assistant(Settings(data_dir=first, engine="extractive"), embedder=minilm)
    assistant.ingest([corpus])
    assistant.close()
    release_chroma(first)

    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    out = cli("export", one, "--data-dir", first)
    assert out.returncode == 0 and "exported 14 articles" in out.stdout, out.stderr
    records = [json.loads(line) for line in one.read_text().splitlines()]
    assert len(records) == 14 and all(set(r) == FIELDS for r in records)
    assert [r["id"] for r in records] == sorted(r["id"] for r in records)
    assert any(len(r["keys"]) == 2 for r in records)  # one text under two paths
    assert any(r["boilerplate"] for r in records)

    second = tmp_path / "second"
    imported = cli("import", one, "--json", "--data-dir", second)
    assert imported.returncode == 0, imported.stderr
    report = json.loads(imported.stdout)
    assert len(report["added"]) == 14 and not report["skipped"] and not report["warnings"]
    again = cli("import", one, "--json", "--data-dir", second)
    assert json.loads(again.stdout)["chunks_embedded"] == 0  # already there: nothing to do
    assert cli("export", two, "--data-dir", second).returncode == 0
    assert one.read_bytes() == two.read_bytes()

    views = snapshot([first, second])
    a, b = views[str(first)], views[str(second)]
    assert a["problems"] == b["problems"] == []
    assert a["articles"] == b["articles"] and a["manifest"] == b["manifest"]
    assert (a["top"], a["answer"], a["citations"]) == (b["top"], b["answer"], b["citations"])
    assert a["citations"]


@pytest.mark.fault
def test_import_bad_lines_and_edited_text(tmp_path):
    good = {"id": "x", "title": "Ferry timetable changes", "text": "The ferry now leaves at "
            "nine. It returns at five.", "source": "Harbour News", "published": "2020-03-01"}
    lines = [json.dumps(good), "{not json", json.dumps([1, 2]), json.dumps({"title": "No text"}),
             json.dumps({**good, "text": 5}), json.dumps({**good, "source": ["a"]}),
             json.dumps({**good, "boilerplate": "SHARE"}), "", json.dumps("just a string")]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    items, skipped, warnings = read_jsonl(path)
    assert len(items) == 1 and len(skipped) == 7
    assert any("does not match the text" in w for w in warnings)  # "x" is not its content id
    assistant = Assistant(Settings(data_dir=tmp_path / "data", engine="extractive"),
                          embedder=HashEmbedder())
    report = assistant.import_articles(path)
    assert len(report.added) == 1 and len(report.skipped) == 7
    article = assistant.article(report.added[0])
    assert article is not None and article.source == "Harbour News"
    assert article.key.startswith("import:")
    assistant.export(tmp_path / "out.jsonl")
    assert json.loads((tmp_path / "out.jsonl").read_text())["id"] == report.added[0]
    with pytest.raises(Exception, match="not found"):
        assistant.import_articles(tmp_path / "missing.jsonl")
    assistant.close()
