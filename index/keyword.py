"""Keyword (BM25) search over the same chunks, persisted in the manifest database.

Rows are written in the same SQLite transaction as the articles they belong to, so the keyword
index can never disagree with the manifest. Queries use an in-memory inverted index (compressed
sparse rows, built vectorised) that is loaded once, from a snapshot file beside the database
when one matches, and then caught up incrementally (new rows appended, deleted rows masked);
`PRAGMA data_version` tells cheaply whether anything changed since the last query.
"""
from __future__ import annotations

import json
import logging
import math
import os
import sqlite3
import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag import text as tx

logger = logging.getLogger(__name__)

K1, B = 1.2, 0.75
SNAPSHOT_VERSION = 1
SNAPSHOT_MIN_ROWS = 20_000  # smaller indexes build from SQLite in well under a second
COMPACT_MIN_ROWS = 1000  # past this, an index with more dead rows than live ones is rebuilt
_WEIGHT_CACHE_ENTRIES = 2_000_000  # posting weights kept between queries (16 MB)

SCHEMA = """
CREATE TABLE IF NOT EXISTS kw (
    rid INTEGER PRIMARY KEY AUTOINCREMENT, chunk_id TEXT UNIQUE NOT NULL,
    article_id TEXT NOT NULL, length INTEGER NOT NULL, terms TEXT NOT NULL,
    source TEXT NOT NULL, published_ts INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS kw_article ON kw(article_id);
"""


def _ascii_words(text: str) -> list[str]:
    """`rag.text.words` for ASCII text, where folding is just lowercasing."""
    acronym = getattr(tx, "_ACRONYM", None)
    if acronym is not None:
        text = acronym.sub(lambda m: m.group().replace(".", ""), text)
    return tx._WORD.findall(text.lower())


_PROBES = ("U.S. and U.N. troops met the E.U. envoy.", "Mr. Smith's 1,709 dogs; it's 33rd",
           "e.g. state-run TV - A.B.C. news, x.y.z", "Don't stop: 4.5 percent, O'Neil")
# the fast path is used only while it agrees with rag.text (which may change under us)
_FAST = all(_ascii_words(p) == tx.words(p) and tx.fold(p) == p.lower() for p in _PROBES)


def fast_words(text: str) -> list[str]:
    """`rag.text.words`, without the slow Unicode folding for ASCII text."""
    return _ascii_words(text) if _FAST and text.isascii() else tx.words(text)


def fast_fold(text: str) -> str:
    """`rag.text.fold`, without the Unicode work for ASCII text."""
    return text.lower() if _FAST and text.isascii() else tx.fold(text)


def query_terms(text: str) -> list[str]:
    """`rag.text.terms`, with the fast path for ASCII text."""
    if not (_FAST and text.isascii()):
        return tx.terms(text)
    stop, qwords, stem = tx.STOPWORDS, tx.QUESTION_WORDS, tx.stem
    return [stem(w) for w in _ascii_words(text) if w not in stop and w not in qwords]


def term_counts(text: str) -> tuple[int, str]:
    """(length, "term:tf term:tf ...") for storage."""
    terms = query_terms(text)
    counts = Counter(terms)
    return len(terms), " ".join(f"{t}:{n}" for t, n in sorted(counts.items()))


@dataclass(frozen=True)
class KeywordHit:
    chunk_id: str
    score: float


@dataclass(frozen=True)
class Passage:
    """A chunk's text and metadata as the manifest records them (what Chroma stores too)."""

    chunk_id: str
    article_id: str
    title: str
    text: str
    start: int
    end: int
    position: int
    source: str | None
    published: str | None
    url: str | None


class _Codes:
    """Strings (article ids, outlets) as small ints, for vectorised filters."""

    def __init__(self, names: Sequence[str] = ()) -> None:
        self.names: list[str] = list(names)
        self.index: dict[str, int] = {n: i for i, n in enumerate(self.names)}

    def code(self, name: str) -> int:
        got = self.index.get(name)
        if got is None:
            got = self.index[name] = len(self.names)
            self.names.append(name)
        return got

    def codes(self, names: Sequence[str]) -> np.ndarray:
        return np.asarray([self.index[n] for n in names if n in self.index], dtype=np.int32)


def _parse(rows: list[tuple], vocab: dict[str, int], first_doc: int
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows' "term:tf ..." strings -> flat (term id, doc, tf) arrays."""
    tids: list[int] = []
    tfs: list[str] = []
    per_row: list[int] = []
    setdefault = vocab.setdefault
    for _rid, _cid, _aid, _length, terms, _source, _pts in rows:
        toks = terms.replace(":", " ").split()  # terms never hold ':' or spaces
        if len(toks) % 2:
            items = [item.rpartition(":") for item in terms.split()]
            toks = [x for term, _, count in items for x in (term, count)]
        names = toks[0::2]
        tids.extend([setdefault(t, len(vocab)) for t in names])
        tfs.extend(toks[1::2])
        per_row.append(len(names))
    docs = np.repeat(np.arange(first_doc, first_doc + len(rows), dtype=np.int32),
                     np.asarray(per_row, dtype=np.int64))
    return (np.asarray(tids, dtype=np.int32), docs,
            np.asarray(list(map(int, tfs)), dtype=np.float32))


class KeywordSearcher:
    """BM25 over the `kw` table; thread-safe; catches up with other writers before each query."""

    def __init__(self, db_path: str, snapshot: bool = True) -> None:
        self.db_path = db_path
        self.snapshot_path = Path(f"{db_path}.kw-snapshot.npz") if snapshot else None
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._version: int | None = None
        self._reset()

    def _reset(self) -> None:
        """An empty in-memory index (the connection and data version are kept)."""
        self.vocab: dict[str, int] = {}
        self.ids: list[str] = []
        self._articles = _Codes()
        self._sources = _Codes()
        self._article_of = np.zeros(0, dtype=np.int32)
        self._source_of = np.zeros(0, dtype=np.int32)
        self.rids = np.zeros(0, dtype=np.int64)
        self.lengths = np.zeros(0, dtype=np.float32)
        self.published = np.zeros(0, dtype=np.int64)
        self.alive = np.zeros(0, dtype=bool)
        # postings: compressed rows (main) + a small tail of rows appended since (delta)
        self._indptr = np.zeros(1, dtype=np.int64)
        self._docs = np.zeros(0, dtype=np.int32)
        self._tfs = np.zeros(0, dtype=np.float32)
        self._delta: dict[int, tuple[list[int], list[float]]] = {}
        self._delta_size = 0
        self._max_rid = 0
        self._alive_count = 0
        self._alive_length = 0.0
        self._generation = 0
        self._weights: OrderedDict[int, tuple[int, np.ndarray, np.ndarray, int]] = OrderedDict()
        self._weights_size = 0
        self._unsaved = 0  # rows appended since the snapshot was written

    # --- loading ------------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            from index.manifest import is_read_only, open_sqlite  # lazy: manifest imports us

            path = Path(self.db_path)
            self._db = open_sqlite(path)
            if not is_read_only(path):  # a read-only data folder can still be searched
                self._db.executescript(SCHEMA)
        return self._db

    def refresh(self) -> None:
        """Append rows written since the last look; mask rows deleted since."""
        db = self._conn()
        version = db.execute("PRAGMA data_version").fetchone()[0]
        if version == self._version:
            return  # no other connection committed anything since
        first = self._version is None
        self._version = version
        if first and not len(self.ids):
            self._load_snapshot()
        appended = self._append_all(db, first)
        changed = bool(appended)
        total = db.execute("SELECT COUNT(*) FROM kw").fetchone()[0]
        if total != self._alive_count:
            live = np.fromiter((r for (r,) in db.execute("SELECT rid FROM kw")), dtype=np.int64)
            now = self.alive & np.isin(self.rids, live, assume_unique=True)
            if (now != self.alive).any():
                self.alive = now
                self._alive_count = int(now.sum())
                self._alive_length = float(self.lengths[now].sum(dtype=np.float64))
                changed = True
        if changed:
            self._generation += 1
            self._weights.clear()
            self._weights_size = 0
            self._unsaved += appended
            if len(self.ids) > COMPACT_MIN_ROWS and self._alive_count * 2 < len(self.ids):
                # mostly replaced rows: rebuild from the live rows only, to bound memory
                self._reset()
                self._append_all(db, first=True)
                self._generation += 1
                self._unsaved = len(self.ids)
            if len(self.ids) >= SNAPSHOT_MIN_ROWS and self._unsaved * 5 > len(self.ids):
                self.save_snapshot()

    def _append_all(self, db: sqlite3.Connection, first: bool) -> int:
        """Read every row past the last one seen; returns how many."""
        cursor = db.execute("SELECT rid, chunk_id, article_id, length, terms, source, "
                            "published_ts FROM kw WHERE rid > ? ORDER BY rid", (self._max_rid,))
        parsed = []
        count = 0
        while rows := cursor.fetchmany(100_000):
            parsed.append(self._append(rows))
            count += len(rows)
        if not parsed:
            return 0
        tids, docs, tfs = (np.concatenate([p[i] for p in parsed]) for i in range(3))
        if first or self._delta_size + len(tids) > max(200_000, len(self._docs) // 4):
            self._merge(tids, docs, tfs)
        else:
            for tid, doc, tf in zip(tids.tolist(), docs.tolist(), tfs.tolist()):
                got = self._delta.setdefault(tid, ([], []))
                got[0].append(doc)
                got[1].append(tf)
            self._delta_size += len(tids)
        return count

    def _append(self, rows: list[tuple]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Record rows' metadata; returns their parsed postings."""
        start = len(self.ids)
        parsed = _parse(rows, self.vocab, start)
        n = len(rows)
        self.ids.extend(r[1] for r in rows)
        self._article_of = np.concatenate([self._article_of, np.fromiter(
            (self._articles.code(r[2]) for r in rows), dtype=np.int32, count=n)])
        self._source_of = np.concatenate([self._source_of, np.fromiter(
            (self._sources.code(r[5]) for r in rows), dtype=np.int32, count=n)])
        self.rids = np.concatenate([self.rids, np.fromiter((r[0] for r in rows), np.int64,
                                                           count=n)])
        lengths = np.fromiter((r[3] for r in rows), np.float32, count=n)
        self.lengths = np.concatenate([self.lengths, lengths])
        self.published = np.concatenate(
            [self.published, np.fromiter((r[6] for r in rows), np.int64, count=n)])
        self.alive = np.concatenate([self.alive, np.ones(n, dtype=bool)])
        self._max_rid = rows[-1][0]
        self._alive_count += n
        self._alive_length += float(lengths.sum(dtype=np.float64))
        return parsed

    def _merge(self, tids: np.ndarray, docs: np.ndarray, tfs: np.ndarray) -> None:
        """Rebuild the compressed postings from main + delta + new entries (docs stay sorted
        within a term: every later entry has a higher doc number)."""
        parts_t = [np.repeat(np.arange(len(self._indptr) - 1, dtype=np.int32),
                             np.diff(self._indptr))]
        parts_d, parts_f = [self._docs], [self._tfs]
        for tid, (d, f) in self._delta.items():
            parts_t.append(np.full(len(d), tid, dtype=np.int32))
            parts_d.append(np.asarray(d, dtype=np.int32))
            parts_f.append(np.asarray(f, dtype=np.float32))
        parts_t.append(tids)
        parts_d.append(docs)
        parts_f.append(tfs)
        all_t = np.concatenate(parts_t)
        # stable by term: main, then delta, then new entries, each in doc order per term
        order = np.argsort(all_t, kind="stable")
        self._docs = np.concatenate(parts_d)[order]
        self._tfs = np.concatenate(parts_f)[order]
        counts = np.bincount(all_t, minlength=len(self.vocab))
        self._indptr = np.zeros(len(self.vocab) + 1, dtype=np.int64)
        np.cumsum(counts, out=self._indptr[1:])
        self._delta = {}
        self._delta_size = 0

    # --- snapshot -----------------------------------------------------------------------------
    def save_snapshot(self) -> None:
        """Write the in-memory index beside the database (atomically), for fast loading."""
        if self.snapshot_path is None or not len(self.ids):
            return
        if self._delta:
            self._merge(np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.float32))
        probes = np.unique(np.linspace(0, len(self.ids) - 1, 16).astype(np.int64))
        tmp = self.snapshot_path.with_name(self.snapshot_path.name + f".{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as fh:
                np.savez(fh, version=np.int64(SNAPSHOT_VERSION), max_rid=np.int64(self._max_rid),
                         vocab=np.asarray(sorted(self.vocab, key=self.vocab.__getitem__)),
                         ids=np.asarray(self.ids), rids=self.rids, lengths=self.lengths,
                         published=self.published, alive=self.alive,
                         article_of=self._article_of, source_of=self._source_of,
                         articles=np.asarray(self._articles.names or [""]),
                         sources=np.asarray(self._sources.names or [""]),
                         indptr=self._indptr, docs=self._docs, tfs=self._tfs, probes=probes)
            os.replace(tmp, self.snapshot_path)
            self._unsaved = 0
        except OSError as exc:  # a cache: not being able to write it is not an error
            logger.warning("cannot write the keyword snapshot %s: %s", self.snapshot_path, exc)
            tmp.unlink(missing_ok=True)

    def _load_snapshot(self) -> None:
        path = self.snapshot_path
        if path is None or not path.is_file():
            return
        try:
            with np.load(path, allow_pickle=False) as z:
                if int(z["version"]) != SNAPSHOT_VERSION:
                    return
                ids = z["ids"].tolist()
                rids = z["rids"]
                probes = z["probes"]
                # the snapshot must describe this database: sampled rows still present agree
                db = self._conn()
                for p in probes.tolist():
                    row = db.execute("SELECT chunk_id FROM kw WHERE rid=?",
                                     (int(rids[p]),)).fetchone()
                    if row is not None and row[0] != ids[p]:
                        logger.info("keyword snapshot %s is stale; rebuilding", path)
                        return
                self.vocab = {t: i for i, t in enumerate(z["vocab"].tolist())}
                self.ids = ids
                self.rids = rids
                self.lengths = z["lengths"]
                self.published = z["published"]
                self.alive = z["alive"]
                self._article_of = z["article_of"]
                self._source_of = z["source_of"]
                self._articles = _Codes(z["articles"].tolist())
                self._sources = _Codes(z["sources"].tolist())
                self._indptr = z["indptr"]
                self._docs = z["docs"]
                self._tfs = z["tfs"]
                self._max_rid = int(z["max_rid"])
        except (OSError, ValueError, KeyError) as exc:
            logger.warning("ignoring unreadable keyword snapshot %s: %s", path, exc)
            self._reset()
            return
        self._alive_count = int(self.alive.sum())
        self._alive_length = float(self.lengths[self.alive].sum(dtype=np.float64))
        logger.info("keyword index: %d rows from %s", len(self.ids), path)

    def live(self, chunk_ids: Sequence[str]) -> set[str]:
        """The ids among `chunk_ids` that belong to committed articles (one indexed query)."""
        if not chunk_ids:
            return set()
        with self._lock:
            marks = ",".join("?" * len(chunk_ids))
            rows = self._conn().execute(f"SELECT chunk_id FROM kw WHERE chunk_id IN ({marks})",
                                        list(chunk_ids))
            return {r[0] for r in rows}

    def passages(self, chunk_ids: Sequence[str]) -> dict[str, Passage]:
        """Chunks' text and metadata from the manifest in the same database (keyword-only hits
        need no Chroma round trip). Ids it does not know are left out."""
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        try:
            with self._lock:
                rows = self._conn().execute(
                    "SELECT kw.chunk_id, a.id, a.title, a.text, a.chunks, a.source, a.published, "
                    f"a.url FROM kw JOIN articles a ON a.id = kw.article_id "
                    f"WHERE kw.chunk_id IN ({marks})", list(chunk_ids)).fetchall()
        except sqlite3.Error:  # no manifest tables here: the caller asks Chroma
            return {}
        out: dict[str, Passage] = {}
        refs: dict[str, dict[str, tuple[int, int, int]]] = {}
        for cid, aid, title, text, chunks, source, published, url in rows:
            if aid not in refs:
                refs[aid] = {c[0]: (c[1], c[2], c[3]) for c in json.loads(chunks)}
            ref = refs[aid].get(cid)
            if ref is None:
                continue
            position, start, end = ref
            out[cid] = Passage(cid, aid, title, text[start:end], start, end, position,
                               source or None, published or None, url or None)
        return out

    # --- scoring ------------------------------------------------------------------------------
    def _posting(self, tid: int) -> tuple[np.ndarray, np.ndarray]:
        docs = self._docs[self._indptr[tid]:self._indptr[tid + 1]] \
            if tid < len(self._indptr) - 1 else self._docs[:0]
        tfs = self._tfs[self._indptr[tid]:self._indptr[tid + 1]] \
            if tid < len(self._indptr) - 1 else self._tfs[:0]
        extra = self._delta.get(tid)
        if extra:
            docs = np.concatenate([docs, np.asarray(extra[0], dtype=np.int32)])
            tfs = np.concatenate([tfs, np.asarray(extra[1], dtype=np.float32)])
        return docs, tfs

    def _term_weights(self, tid: int, n_docs: int, avgdl: float
                      ) -> tuple[np.ndarray, np.ndarray] | None:
        """(docs, BM25 weights) of a term's live postings; cached until the index changes."""
        got = self._weights.get(tid)
        if got is not None and got[0] == self._generation:
            self._weights.move_to_end(tid)
            return (got[1], got[2]) if got[3] else None
        docs, tfs = self._posting(tid)
        live = self.alive[docs]
        df = int(live.sum())
        if df:
            idf = math.log(1 + (n_docs - df + 0.5) / (df + 0.5))
            norm = tfs * (K1 + 1) / (tfs + K1 * (1 - B + B * self.lengths[docs] / avgdl))
            if df < len(docs):
                docs, norm = docs[live], norm[live]
            weights = (idf * norm).astype(np.float32)
        else:
            weights = norm = tfs[:0]
        self._weights[tid] = (self._generation, docs, weights, df)
        self._weights_size += len(docs)
        while self._weights_size > _WEIGHT_CACHE_ENTRIES and len(self._weights) > 1:
            _, (_, d, _, _) = self._weights.popitem(last=False)
            self._weights_size -= len(d)
        return (docs, weights) if df else None

    def search(self, query: str, k: int, *, sources: Sequence[str] = (),
               article_ids: Sequence[str] = (), date_from: int = 0,
               date_to: int = 0) -> list[KeywordHit]:
        with self._lock:
            self.refresh()
            n_docs = self._alive_count
            if not n_docs:
                return []
            avgdl = float(np.float32(self._alive_length / n_docs)) or 1.0
            postings = []
            for term in set(query_terms(query)):
                tid = self.vocab.get(term)
                if tid is not None:
                    got = self._term_weights(tid, n_docs, avgdl)
                    if got is not None:
                        postings.append(got)
            if not postings:
                return []
            size = sum(len(d) for d, _ in postings)
            if size * 8 < len(self.ids):  # few matches: score only the matched docs
                candidates = np.unique(np.concatenate([d for d, _ in postings]))
                scores = np.zeros(len(candidates), dtype=np.float32)
                for docs, weights in postings:
                    scores[np.searchsorted(candidates, docs)] += weights
            else:
                full = np.zeros(len(self.ids), dtype=np.float32)
                for docs, weights in postings:
                    full[docs] += weights
                candidates = np.flatnonzero(full > 0)
                scores = full[candidates]
            keep = scores > 0
            if date_from:
                keep &= self.published[candidates] >= date_from
            if date_to:
                pub = self.published[candidates]
                keep &= (pub <= date_to) & (pub > 0)
            if sources:
                keep &= np.isin(self._source_of[candidates], self._sources.codes(sources))
            if article_ids:
                keep &= np.isin(self._article_of[candidates], self._articles.codes(article_ids))
            if not keep.all():
                candidates, scores = candidates[keep], scores[keep]
            if not len(candidates):
                return []
            if len(candidates) > 4 * k:
                # everything scoring at least the k-th best, in doc order; then a stable sort
                # gives exactly the order a stable sort of all candidates would
                kth = np.partition(scores, len(scores) - k)[len(scores) - k]
                sel = scores >= kth
                candidates, scores = candidates[sel], scores[sel]
            top = np.argsort(-scores, kind="stable")[:k]
            return [KeywordHit(self.ids[int(candidates[i])], float(scores[i])) for i in top]
