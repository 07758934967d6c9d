"""Sentence terms stored at ingest (`kw.sentences`): the reranker's analysis from them equals the
analysis of the text, manifests from before the column are upgraded, and hits rank the same."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.text import sentence_spans
from index.keyword import (
    SENTENCE_TERMS_FORMAT,
    KeywordSearcher,
    parse_sentence_terms,
    sentence_terms,
    span_terms,
)
from rag import fusion

_PIECES = ["U.S.", "e.g.", "O'Neil's", "4.5", "1,709", "Mr.", "state-run", "The", "what",
           "troops", "running", "Café", "Zürich", "|", ";", "1;2;", "  ", ". ", "\n\n", ", ", "."]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=30),
       st.text(alphabet="aAzZ09.' _-\n|;", max_size=40))
def test_stored_terms_read_back_as_the_text_s_sentence_terms(pieces: list[str],
                                                              noise: str) -> None:
    text = "".join(pieces) + noise
    want = span_terms(text, sentence_spans(text))
    assert parse_sentence_terms(sentence_terms(text)) == want
    # and the reranker's analysis from them is the one it makes from the text
    fusion._CACHE.clear()
    from_text = fusion.analyse(text)
    fusion._CACHE.clear()
    fusion.remember(text, sentence_terms(text))
    assert fusion.analyse(text) == from_text
    assert not fusion._STORED  # used once, then the analysis itself is cached


@pytest.mark.parametrize("stored", [None, "", "x", "0;1;a b", f"{SENTENCE_TERMS_FORMAT};2;a b",
                                    f"{SENTENCE_TERMS_FORMAT};x;a", f"{SENTENCE_TERMS_FORMAT};0;a",
                                    f"{SENTENCE_TERMS_FORMAT}1;1;a"])
def test_missing_damaged_or_foreign_values_are_ignored(stored: str | None) -> None:
    assert parse_sentence_terms(stored) is None
    fusion._CACHE.clear()
    text = "Troops crossed the border. The mayor spoke."
    fusion.remember(text, stored)
    want = tuple(map(frozenset, span_terms(text, sentence_spans(text))))
    assert len(want) == 2 and "mayor" in want[1]
    assert fusion.analyse(text).sentence_terms == want


def test_no_sentences_and_empty_sentences_differ() -> None:
    assert parse_sentence_terms(sentence_terms("")) == []
    assert parse_sentence_terms(sentence_terms("The. What.")) == [[], []]


def _ingest(tmp_path: Path, seeds_dir: Path, hash_embedder):  # noqa: ANN001, ANN202
    from core.settings import Settings
    from rag.assistant import Assistant

    assistant = Assistant(Settings(data_dir=tmp_path / "data", engine="extractive"),
                          embedder=hash_embedder)
    assistant.ingest(seeds_dir)
    return assistant


def _as_before_the_column(db_path: Path) -> None:
    """Make the manifest look as an older version wrote it: no `sentences` column."""
    db = sqlite3.connect(db_path)
    db.execute("DROP INDEX kw_no_sentences")
    db.execute("ALTER TABLE kw DROP COLUMN sentences")
    db.commit()
    db.close()


def test_an_older_manifest_is_upgraded_and_ranks_the_same(tmp_path: Path, seeds_dir: Path,
                                                           hash_embedder) -> None:  # noqa: ANN001
    assistant = _ingest(tmp_path, seeds_dir, hash_embedder)
    db_path = assistant.manifest_path
    questions = ["How many Turkish soldiers were killed?", "Who is the governor of Hatay?",
                 "What did the ministry say about the air raid?"]
    ranked = {q: [(h.chunk_id, round(h.score, 9)) for h in assistant.retrieve(q)]
              for q in questions}
    rows = sqlite3.connect(db_path).execute("SELECT chunk_id, sentences FROM kw").fetchall()
    assert rows and all(parse_sentence_terms(s) is not None for _, s in rows)
    assistant.close()

    _as_before_the_column(db_path)
    # a reader of the old manifest gets no stored terms and still finds the passages
    searcher = KeywordSearcher(str(db_path))
    ids = [cid for cid, _ in rows]
    stored: dict[str, str | None] = {}
    old = searcher.passages(ids, stored_terms=stored.__setitem__)
    assert len(old) == len(ids) and all(stored[p.text] is None for p in old.values())

    from index.manifest import Manifest

    manifest = Manifest(db_path)  # the next writer adds the column (NULL in every row) ...
    assert manifest.db.execute("SELECT COUNT(*) FROM kw WHERE sentences IS NULL"
                               ).fetchone()[0] == len(ids)
    assert manifest.backfill_sentence_terms(batch=7) == len(ids)  # ... and fills it in
    assert manifest.backfill_sentence_terms() == 0
    upgraded = dict(manifest.db.execute("SELECT chunk_id, sentences FROM kw").fetchall())
    assert upgraded == dict(rows)
    manifest.close()
    # a reader opened before the upgrade sees the column at its next search (`refresh`)
    searcher.refresh()
    stored.clear()
    got = searcher.passages(ids, stored_terms=stored.__setitem__)
    assert all(stored[p.text] == upgraded[cid] for cid, p in got.items())

    again = _ingest(tmp_path, seeds_dir, hash_embedder)
    for q in questions:
        fusion._CACHE.clear()
        assert [(h.chunk_id, round(h.score, 9)) for h in again.retrieve(q)] == ranked[q]
    again.close()


def test_the_next_ingest_upgrades_an_older_manifest(tmp_path: Path, seeds_dir: Path,
                                                    hash_embedder) -> None:  # noqa: ANN001
    assistant = _ingest(tmp_path, seeds_dir, hash_embedder)
    db_path = assistant.manifest_path
    assistant.close()
    _as_before_the_column(db_path)
    again = _ingest(tmp_path, seeds_dir, hash_embedder)  # nothing changed: only the upgrade
    values = [s for (s,) in sqlite3.connect(db_path).execute("SELECT sentences FROM kw")]
    assert values and all(parse_sentence_terms(s) is not None for s in values)
    again.close()


def test_the_reranker_uses_the_stored_terms(tmp_path: Path, seeds_dir: Path,
                                            hash_embedder, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:  # noqa: ANN001
    assistant = _ingest(tmp_path, seeds_dir, hash_embedder)
    analysed: list[str] = []
    real = fusion.span_terms

    def counting(text: str, spans):  # noqa: ANN001, ANN202
        analysed.append(text)
        return real(text, spans)

    monkeypatch.setattr(fusion, "span_terms", counting)
    fusion._CACHE.clear()
    fusion._STORED.clear()
    hits = assistant.retrieve("How many Turkish soldiers were killed in the air raid?")
    assert hits and not analysed  # every candidate's terms came from the manifest
    assistant.close()
