"""Keyword (BM25) search over the same chunks, persisted in the manifest database.

Rows are written in the same SQLite transaction as the articles they belong to, so the keyword
index can never disagree with the manifest. Queries use an in-memory inverted index that is
loaded once and then caught up incrementally (new rows appended, deleted rows masked).
"""
from __future__ import annotations

import logging
import math
import sqlite3
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag import text as tx

logger = logging.getLogger(__name__)

K1, B = 1.2, 0.75

SCHEMA = """
CREATE TABLE IF NOT EXISTS kw (
    rid INTEGER PRIMARY KEY AUTOINCREMENT, chunk_id TEXT UNIQUE NOT NULL,
    article_id TEXT NOT NULL, length INTEGER NOT NULL, terms TEXT NOT NULL,
    source TEXT NOT NULL, published_ts INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS kw_article ON kw(article_id);
"""


def term_counts(text: str) -> tuple[int, str]:
    """(length, "term:tf term:tf ...") for storage."""
    terms = tx.terms(text)
    counts = Counter(terms)
    return len(terms), " ".join(f"{t}:{n}" for t, n in sorted(counts.items()))


@dataclass(frozen=True)
class KeywordHit:
    chunk_id: str
    score: float


class KeywordSearcher:
    """BM25 over the `kw` table; thread-safe; catches up with other writers before each query."""

    def __init__(self, db_path: str) -> None:
        self.db_path = db_path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self.vocab: dict[str, int] = {}
        self.ids: list[str] = []
        self.articles: list[str] = []
        self.sources: list[str] = []
        self._rid_to_doc: dict[int, int] = {}
        self.lengths = np.zeros(0, dtype=np.float32)
        self.published = np.zeros(0, dtype=np.int64)
        self.alive = np.zeros(0, dtype=bool)
        self._postings: dict[int, tuple[list[int], list[int]]] = {}
        self._arrays: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._max_rid = 0
        self._alive_count = 0

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = sqlite3.connect(self.db_path, check_same_thread=False, timeout=30)
            self._db.executescript(SCHEMA)
        return self._db

    def refresh(self) -> None:
        """Append rows written since the last look; mask rows deleted since."""
        db = self._conn()
        rows = db.execute("SELECT rid, chunk_id, article_id, length, terms, source, published_ts "
                          "FROM kw WHERE rid > ? ORDER BY rid", (self._max_rid,)).fetchall()
        if rows:
            self._append(rows)
        total = db.execute("SELECT COUNT(*) FROM kw").fetchone()[0]
        if total != self._alive_count:
            live = {r for (r,) in db.execute("SELECT rid FROM kw")}
            for rid, doc in self._rid_to_doc.items():
                if rid not in live:
                    self.alive[doc] = False
            self._alive_count = int(self.alive.sum())

    def _append(self, rows: list[tuple]) -> None:
        start = len(self.ids)
        lengths, published = [], []
        for n, (rid, cid, aid, length, terms, source, pts) in enumerate(rows):
            doc = start + n
            self.ids.append(cid)
            self.articles.append(aid)
            self.sources.append(source)
            self._rid_to_doc[rid] = doc
            lengths.append(length)
            published.append(pts)
            for item in terms.split():
                term, _, count = item.rpartition(":")
                tid = self.vocab.setdefault(term, len(self.vocab))
                docs, tfs = self._postings.setdefault(tid, ([], []))
                docs.append(doc)
                tfs.append(int(count))
                self._arrays.pop(tid, None)
        self.lengths = np.concatenate([self.lengths, np.asarray(lengths, dtype=np.float32)])
        self.published = np.concatenate([self.published, np.asarray(published, dtype=np.int64)])
        self.alive = np.concatenate([self.alive, np.ones(len(rows), dtype=bool)])
        self._max_rid = rows[-1][0]
        self._alive_count += len(rows)

    def _posting(self, tid: int) -> tuple[np.ndarray, np.ndarray]:
        if tid not in self._arrays:
            docs, tfs = self._postings[tid]
            self._arrays[tid] = (np.asarray(docs, dtype=np.int64), np.asarray(tfs, dtype=np.float32))
        return self._arrays[tid]

    def search(self, query: str, k: int, *, sources: Sequence[str] = (),
               article_ids: Sequence[str] = (), date_from: int = 0,
               date_to: int = 0) -> list[KeywordHit]:
        with self._lock:
            self.refresh()
            n_docs = self._alive_count
            if not n_docs:
                return []
            avgdl = float(self.lengths[self.alive].mean()) or 1.0
            scores = np.zeros(len(self.ids), dtype=np.float32)
            for term in set(tx.terms(query)):
                tid = self.vocab.get(term)
                if tid is None:
                    continue
                docs, tfs = self._posting(tid)
                live = self.alive[docs]
                df = int(live.sum())
                if not df:
                    continue
                idf = math.log(1 + (n_docs - df + 0.5) / (df + 0.5))
                norm = tfs * (K1 + 1) / (tfs + K1 * (1 - B + B * self.lengths[docs] / avgdl))
                scores[docs] += np.where(live, idf * norm, 0.0).astype(np.float32)
            mask = self.alive & (scores > 0)
            if date_from:
                mask &= self.published >= date_from
            if date_to:
                mask &= (self.published <= date_to) & (self.published > 0)
            if sources or article_ids:
                allowed_s, allowed_a = set(sources), set(article_ids)
                for doc in np.flatnonzero(mask):
                    if (allowed_s and self.sources[doc] not in allowed_s) or (
                            allowed_a and self.articles[doc] not in allowed_a):
                        mask[doc] = False
            candidates = np.flatnonzero(mask)
            if not len(candidates):
                return []
            top = candidates[np.argsort(-scores[candidates], kind="stable")[:k]]
            return [KeywordHit(self.ids[d], float(scores[d])) for d in top]
