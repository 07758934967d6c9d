"""verify() against each kind of damage, and rebuild(), with the fake embedder (fast)."""
from __future__ import annotations

import json

import pytest
from rel_helpers import SAMPLE

from core.settings import Settings
from index.embed import HashEmbedder
from rag.assistant import Assistant


@pytest.fixture
def built(tmp_path):  # noqa: ANN001, ANN201
    assistant = Assistant(Settings(data_dir=tmp_path / "data", engine="extractive"),
                          embedder=HashEmbedder())
    assistant.ingest([SAMPLE])
    yield assistant
    assistant.close()


def _kinds(assistant: Assistant) -> set[str]:
    return {p.kind for p in assistant.verify()}


def test_clean_index_has_no_problems(built):
    assert built.verify() == []


def test_keyword_rows(built):
    db = built.manifest.db
    cid = sorted(built.manifest.keyword_ids())[0]
    db.execute("DELETE FROM kw WHERE chunk_id=?", (cid,))
    db.execute("INSERT INTO kw (chunk_id, article_id, length, terms, source, published_ts) "
               "VALUES ('x-1', 'x', 1, 'a:1', '', 0)")
    problems = {p.kind: p for p in built.verify()}
    assert problems["missing-keyword"].chunk_ids == (cid,)
    assert problems["orphan-keyword"].chunk_ids == ("x-1",)


def test_keyword_sentence_terms(built):
    db = built.manifest.db
    first, second, third = sorted(built.manifest.keyword_ids())[:3]
    db.execute("UPDATE kw SET sentences = '1;1;wrong term' WHERE chunk_id=?", (first,))
    db.execute("UPDATE kw SET sentences = NULL WHERE chunk_id=?", (second,))  # not filled yet
    db.execute("UPDATE kw SET sentences = '9;1;other format' WHERE chunk_id=?", (third,))
    problems = {p.kind: p for p in built.verify()}
    assert set(problems) == {"keyword-sentences"}
    assert problems["keyword-sentences"].chunk_ids == (first,)
    built.rebuild()
    assert built.verify() == []


def test_chroma_chunks(built):
    col = built.store.collection
    ids = sorted(built.store.ids())
    col.delete(ids=ids[:2])
    got = col.get(ids=[ids[2], ids[3]], include=["embeddings", "metadatas"])
    col.update(ids=[ids[2]], documents=["changed text"], embeddings=[got["embeddings"][0]])
    col.update(ids=[ids[3]], metadatas=[{**got["metadatas"][1], "start": 1}],
               embeddings=[got["embeddings"][1]])
    col.add(ids=["stray-1"], embeddings=[got["embeddings"][0]], documents=["stray"],
            metadatas=[got["metadatas"][0]])
    problems = {p.kind: p for p in built.verify()}
    assert set(problems["missing-in-chroma"].chunk_ids) == set(ids[:2])
    assert problems["chunk-text"].chunk_ids == (ids[2],)
    assert problems["chunk-metadata"].chunk_ids == (ids[3],)
    assert problems["orphan-in-chroma"].chunk_ids == ("stray-1",)
    report = built.rebuild()
    assert report.articles == len(built.articles()) and built.verify() == []


def test_manifest_damage(built):
    db = built.manifest.db
    aid, chunks = db.execute("SELECT id, chunks FROM articles ORDER BY id LIMIT 1").fetchone()
    db.execute("UPDATE articles SET text = text || ' Edited.' WHERE id=?", (aid,))
    bad = json.loads(chunks)
    bad[0][3] = 10**6
    other = db.execute("SELECT id FROM articles ORDER BY id LIMIT 1 OFFSET 1").fetchone()[0]
    db.execute("UPDATE articles SET chunks=? WHERE id=?", (json.dumps(bad), aid))
    db.execute("INSERT INTO pending_deletes VALUES (?, ?)", (other, "gone-1"))
    db.execute("INSERT INTO inflight VALUES ('never-committed')")
    assert {"article-hash", "chunk-offsets", "interrupted-ingest"} <= _kinds(built)


def test_rebuild_applies_new_chunking_and_model(built, tmp_path):
    chunks_before = built.manifest.all_chunk_ids()
    other = Assistant(built.settings.replace(chunk_chars=300),
                      embedder=HashEmbedder(dim=32, name="test/other-hash"))
    assert {"manifest-model", "manifest-chunking", "collection-model"} <= _kinds(other)
    other.rebuild()
    assert other.verify() == []
    assert other.manifest.all_chunk_ids() != chunks_before
    assert other.store.collection.metadata["dim"] == 32
    hits = other.retrieve("Hatay governor")
    assert hits and all(h.end - h.start <= 300 for h in hits)
    other.close()


def test_rebuild_of_an_unreadable_chroma_folder(built):
    data = built.settings.data_dir
    count = len(built.manifest.all_chunk_ids())
    built.close()
    with open(data / "chroma" / "chroma.sqlite3", "r+b") as f:
        f.truncate(4096)
    fresh = Assistant(built.settings, embedder=HashEmbedder())
    from index.chroma_reset import release_embedded
    release_embedded(data / "chroma")  # this process opened the folder before the damage
    assert "store-unreadable" in _kinds(fresh)
    assert fresh.rebuild().chunks == count
    assert fresh.verify() == []
    assert not [p for p in data.iterdir() if p.name.startswith("chroma.damaged")]
    fresh.close()


def test_interrupted_rebuild_is_reported(built):
    built.manifest.set_meta({"rebuild": "2020-01-01T00:00:00"})
    assert "interrupted-rebuild" in _kinds(built)
    built.rebuild()
    assert built.verify() == []
