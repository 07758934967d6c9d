"""The fast paths behave exactly like the plain ones: term extraction, BM25, snapshots, groups."""
from __future__ import annotations

import math
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import text as tx
from core.text import query_terms, span_terms
from index.keyword import K1, B, KeywordSearcher, term_counts
from rag import fusion

ROOT = Path(__file__).resolve().parents[2]
ODD = ["Café owners in Zürich said “no” — twice.", "Erdoğan’s aides met in Ankara's suburbs.",
       "Ünal and 1,709 others; naïve résumé", "plain ascii text, with U.S. names and 33 troops"]


def _texts() -> list[str]:
    from eval.bench.corpus import sentence_pool
    return sentence_pool() + ODD


def test_fast_terms_equal_rag_text_terms() -> None:
    for text in _texts():
        assert query_terms(text) == tx.terms(text)
        assert query_terms(text) == tx.terms(text)
    from core.text import sentence_spans

    paragraphs = [" ".join(_texts()[i:i + 7]) for i in range(0, len(_texts()), 7)]
    for text in [*_texts(), *paragraphs, "", "One.", "Two words.", "\n\nU.S. troops.\n7 died."]:
        fusion._CACHE.clear()
        a = fusion.analyse(text)
        terms = tx.terms(text)
        assert a.folded == tx.fold(text)
        assert a.terms == tuple(terms) and a.term_set == set(terms)
        assert a.sentence_terms == tuple(frozenset(tx.terms(text[s:e]))
                                         for s, e in sentence_spans(text))
        assert a.sentence_lists == tuple(tuple(tx.terms(text[s:e]))
                                         for s, e in sentence_spans(text))
        assert a.shingles == {tuple(terms[i:i + 3]) for i in range(max(1, len(terms) - 2))}
    for text in [*paragraphs, "Plain words here. More plain words, and a last one."]:
        spans = [*sentence_spans(text), (0, len(text)), (3, 40), (5, 5)]  # mid-word cuts too
        assert span_terms(text, spans) == [tx.terms(text[s:e]) for s, e in spans]


_PIECES = ["U.S.", "e.g.", "A.B.C.", "x.Y.z", "O'Neil's", "it's", "don't", "4.5", "1,709",
           "Mr.", "state-run", "The", "the", "what", "Which", "troops", "running", "ponies",
           "  ", " ", ". ", "\n\n", ", ", "'", ".", "_", "a_b", "Café"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=30),
       st.text(alphabet="aAzZ09.' _-\n", max_size=40))
def test_fast_terms_equal_rag_text_terms_on_any_text(pieces: list[str], noise: str) -> None:
    from core.text import sentence_spans

    text = "".join(pieces) + noise
    assert query_terms(text) == tx.terms(text)
    spans = [*sentence_spans(text), (0, len(text))]
    assert span_terms(text, spans) == [tx.terms(text[s:e]) for s, e in spans]


def test_the_word_table_starts_over_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tx, "_TERMS", {})  # the word table lives in core.text
    monkeypatch.setattr(tx, "_TERMS_MAX", 3)
    text = "Troops running past the ponies and horses"
    assert query_terms(text) == tx.terms(text)
    assert 0 < len(tx._TERMS) <= 3
    assert query_terms(text) == tx.terms(text)


def _article(n: int, text: str, source: str, published: str):  # noqa: ANN202
    from core.records import Article
    return Article(id=f"art{n:04d}", title=f"Title {n}", text=text, path=f"/x/{n}.txt",
                   key=f"/x/{n}.txt", source=source, published=published)


def _commit(db: Path, start: int, count: int) -> list:
    from eval.bench.corpus import Generator
    from index.chunk import chunk_article
    from index.manifest import Manifest

    gen = Generator(5)
    items = []
    for n in range(start, start + count):
        synth = gen.article(n)
        a = _article(n, synth.text, synth.source, synth.published)
        items.append((a, chunk_article(a)))
    m = Manifest(db)
    m.commit_articles(items, {a.key: a.id for a, _ in items})
    m.close()
    return items


def _reference(db: Path, query: str, k: int, sources=(), date_from=0, date_to=0):  # noqa: ANN001, ANN202
    """The original per-query BM25 over all live rows."""
    rows = sqlite3.connect(db).execute(
        "SELECT chunk_id, length, terms, source, published_ts FROM kw ORDER BY rid").fetchall()
    docs = [dict(item.rsplit(":", 1) for item in r[2].split()) for r in rows]
    n = len(rows)
    avgdl = sum(r[1] for r in rows) / n
    scores = [0.0] * n
    for term in set(tx.terms(query)):
        df = sum(term in d for d in docs)
        if not df:
            continue
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        for i, d in enumerate(docs):
            if term in d:
                tf = int(d[term])
                scores[i] += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * rows[i][1] / avgdl))
    ok = [i for i in range(n) if scores[i] > 0 and (not sources or rows[i][3] in sources)
          and (not date_from or rows[i][4] >= date_from)
          and (not date_to or 0 < rows[i][4] <= date_to)]
    ok.sort(key=lambda i: -scores[i])
    return [(rows[i][0], scores[i]) for i in ok[:k]]


def _same(got, want) -> None:  # noqa: ANN001
    assert len(got) == len(want)
    assert all(abs(h.score - s) < 1e-4 * max(1.0, s) for h, (_, s) in zip(got, want))
    # ids agree except where scores tie
    for h, (cid, s) in zip(got, want):
        assert h.chunk_id == cid or abs(h.score - s) < 1e-4


QUERIES = ["Turkish soldiers killed in Idlib", "ceasefire Moscow Putin", "budget vote council",
           "coral reef heatwave", "refugees Greek border", "Ankara NATO Article 4 talks"]


def test_bm25_matches_reference_incremental_and_filtered(tmp_path: Path) -> None:
    db = tmp_path / "manifest.sqlite"
    _commit(db, 0, 30)
    searcher = KeywordSearcher(str(db))
    for q in QUERIES:
        _same(searcher.search(q, 10), _reference(db, q, 10))
    # rows written by another connection are picked up; sparse and dense scoring paths agree
    _commit(db, 30, 40)
    for q in QUERIES:
        _same(searcher.search(q, 8), _reference(db, q, 8))
        _same(searcher.search(q, 8, sources=["Levant Ledger", "Meridian Times"],
                              date_from=20200101, date_to=20201231),
              _reference(db, q, 8, ("Levant Ledger", "Meridian Times"), 20200101, 20201231))
    # a removed article disappears (and its terms' statistics with it)
    from index.manifest import Manifest
    m = Manifest(db)
    m.remove_article("art0003")
    m.close()
    for q in QUERIES:
        got = searcher.search(q, 10)
        assert not any(h.chunk_id.startswith("art0003") for h in got)
        _same(got, _reference(db, q, 10))
    terms = sqlite3.connect(db).execute(
        "SELECT terms FROM kw WHERE article_id='art0005'").fetchone()[0]
    word = terms.split()[0].split(":")[0]
    only = searcher.search(word, 50, article_ids=["art0005"])
    assert only and all(h.chunk_id.startswith("art0005-") for h in only)
    assert searcher.search("Turkish soldiers", 5, sources=["No Such Outlet"]) == []


def test_snapshot_round_trip_and_staleness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import index.keyword as kw
    monkeypatch.setattr(kw, "SNAPSHOT_MIN_ROWS", 10)
    db = tmp_path / "manifest.sqlite"
    _commit(db, 0, 25)
    first = KeywordSearcher(str(db))
    want = {q: [(h.chunk_id, h.score) for h in first.search(q, 10)] for q in QUERIES}
    snap = Path(f"{db}.kw-snapshot.npz")
    assert snap.is_file()
    _commit(db, 25, 5)  # written after the snapshot: caught up on load
    loaded = KeywordSearcher(str(db))
    for q in QUERIES:
        _same(loaded.search(q, 10), _reference(db, q, 10))
    assert len(loaded.ids) > len(first.ids)
    # a snapshot of another database is not used
    other = tmp_path / "other.sqlite"
    _commit(other, 100, 20)
    snap.replace(Path(f"{other}.kw-snapshot.npz"))
    fresh = KeywordSearcher(str(other))
    for q in QUERIES:
        _same(fresh.search(q, 10), _reference(other, q, 10))
    assert want


def test_mostly_dead_index_is_compacted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import index.keyword as kw
    from index.manifest import Manifest
    monkeypatch.setattr(kw, "COMPACT_MIN_ROWS", 20)
    db = tmp_path / "manifest.sqlite"
    _commit(db, 0, 30)
    searcher = KeywordSearcher(str(db), snapshot=False)
    searcher.search("Turkish soldiers", 5)
    m = Manifest(db)
    for n in range(20):
        m.remove_article(f"art{n:04d}")
    m.close()
    for q in QUERIES:
        _same(searcher.search(q, 10), _reference(db, q, 10))
    assert len(searcher.ids) == int(searcher.alive.sum()) == sqlite3.connect(db).execute(
        "SELECT COUNT(*) FROM kw").fetchone()[0]
    _commit(db, 30, 3)
    for q in QUERIES:
        _same(searcher.search(q, 10), _reference(db, q, 10))


def test_term_counts_format() -> None:
    length, terms = term_counts("Turkish soldiers and Turkish troops")
    assert length == 4 and terms == "soldier:1 troop:1 turkish:2"
    assert Counter(tx.terms("Turkish soldiers and Turkish troops")) == {"turkish": 2,
                                                                        "soldier": 1, "troop": 1}


def test_group_chunks_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from core.errors import IndexError_
    from core.settings import Settings
    from index.embed import HashEmbedder
    from index.manifest import Manifest
    from index.pipeline import GROUP_CHUNKS, Indexer

    def make() -> Indexer:
        return Indexer(Settings(data_dir=tmp_path), HashEmbedder(),
                       Manifest(tmp_path / "m.sqlite"), None)  # type: ignore[arg-type]

    monkeypatch.delenv("NEWSCITE_GROUP_CHUNKS", raising=False)
    assert make().group_chunks == GROUP_CHUNKS
    monkeypatch.setenv("NEWSCITE_GROUP_CHUNKS", "7")
    assert make().group_chunks == 7
    monkeypatch.setenv("NEWSCITE_GROUP_CHUNKS", "zero")
    with pytest.raises(IndexError_):
        make()


@pytest.mark.parametrize(("group", "sizes", "want"), [
    (512, [50] * 20, [550, 400, 50]),  # the tail: the last <= 64 chunks, not a whole group
    (512, [100] * 10, [600, 400]),  # articles are never split, so no tail fits here
    (512, [30] * 18, [480, 60]),
    (512, [200, 200, 200, 1], [600, 1]),
    (512, [5], [5]),  # a small ingest (one changed article) is one group
    (512, [40, 40], [80]),  # nothing left once the group outgrows the tail
    (10, [3] * 6, [12, 6]),  # small groups (the crash tests') keep no tail
])
def test_groups_end_with_a_short_tail(tmp_path: Path, group: int, sizes: list[int],
                                      want: list[int]) -> None:
    from core.settings import Settings
    from index.embed import HashEmbedder
    from index.manifest import Manifest
    from index.pipeline import Indexer

    indexer = Indexer(Settings(data_dir=tmp_path), HashEmbedder(),
                      Manifest(tmp_path / "m.sqlite"), None)  # type: ignore[arg-type]
    indexer.group_chunks = group
    chunked = [(n, [None] * n) for n in sizes]
    groups = list(indexer._groups(chunked))  # type: ignore[arg-type]
    assert [sum(len(c) for _, c in g) for g in groups] == want
    assert [n for g in groups for n, _ in g] == sizes  # every article once, in order


def test_progress_moves_within_a_group(tmp_path: Path) -> None:
    from core.settings import Settings
    from eval.bench.corpus import write_corpus
    from index.embed import HashEmbedder
    from rag.assistant import Assistant
    write_corpus(tmp_path / "c", 300, seed=3)
    calls: list[tuple[int, int]] = []
    a = Assistant(Settings(data_dir=tmp_path / "d"), embedder=HashEmbedder())
    report = a.ingest([tmp_path / "c"], progress=lambda d, t: calls.append((d, t)))
    total = report.chunks_embedded
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert len(calls) > 4 and all(b[0] >= x[0] for x, b in zip(calls, calls[1:]))
    again = a.ingest([tmp_path / "c"], progress=lambda d, t: calls.append((d, t)))
    assert again.chunks_embedded == 0
    a.close()
