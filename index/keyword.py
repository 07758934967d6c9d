"""Keyword (BM25) search over the same chunks, persisted in the manifest database.

Rows are written in the same SQLite transaction as the articles they belong to, so the keyword
index can never disagree with the manifest. Queries use an in-memory inverted index (compressed
sparse rows, built vectorised) that is loaded once, from a snapshot file beside the database
when one matches, and then caught up incrementally (new rows appended, deleted rows masked);
`PRAGMA data_version` tells cheaply whether anything changed since the last query.
"""
from __future__ import annotations

import json
import math
import sqlite3
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.records import Hit
from core.text import query_terms, sentence_spans, span_terms
from index.keyword_index import InvertedIndex
from index.sqlite import is_read_only, open_sqlite

K1, B = 1.2, 0.75
SNAPSHOT_MIN_ROWS = 20_000  # smaller indexes build from SQLite in well under a second
COMPACT_MIN_ROWS = 1000  # past this, an index with more dead rows than live ones is rebuilt
# BM25 weights of recently used terms' postings are kept between queries (float32; the doc
# numbers are views of the index): 16M entries (64 MB) or 40 per indexed chunk if more (160 MB
# at 1M chunks, where recomputing a common term's weights is costly and the bench's 200
# questions touch about 36M postings; at 100k they touch 3.6M, and 4M entries were too few).
_WEIGHT_CACHE_ENTRIES = 16_000_000
_WEIGHT_CACHE_PER_DOC = 40
LOOKUP_COST = 6  # a posting lookup (binary search) against adding one posting, measured

# `sentences`: each sentence's terms of the chunk text (`sentence_terms`), which the reranker
# would otherwise work out for every hit of every question; NULL in rows written before it
# existed (those hits are analysed at query time, and `Manifest.backfill_sentence_terms`
# fills them in)
SCHEMA = """
CREATE TABLE IF NOT EXISTS kw (
    rid INTEGER PRIMARY KEY AUTOINCREMENT, chunk_id TEXT UNIQUE NOT NULL,
    article_id TEXT NOT NULL, length INTEGER NOT NULL, terms TEXT NOT NULL,
    source TEXT NOT NULL, published_ts INTEGER NOT NULL, sentences TEXT);
CREATE INDEX IF NOT EXISTS kw_article ON kw(article_id);
"""
# the first field of a stored `sentences` value: bump it when the analysis changes (words,
# stop words, stemmer, sentence split), and values of another format are ignored
SENTENCE_TERMS_FORMAT = "1"


def sentence_terms(text: str) -> str:
    """A chunk text's terms per sentence, for the `sentences` column: the format, the number
    of sentences, then the sentences' terms ("1;2;storm hit coast|mayor said")."""
    per_sentence = span_terms(text, sentence_spans(text))
    return (f"{SENTENCE_TERMS_FORMAT};{len(per_sentence)};"
            + "|".join(" ".join(terms) for terms in per_sentence))


def parse_sentence_terms(stored: str | None) -> list[list[str]] | None:
    """`sentence_terms`' value back as lists; None when absent, damaged or of another format
    (the caller then analyses the text itself)."""
    if not stored:
        return None
    fmt, _, rest = stored.partition(";")
    count, sep, body = rest.partition(";")
    if fmt != SENTENCE_TERMS_FORMAT or not sep or not count.isdigit():
        return None
    if count == "0":
        return [] if not body else None
    parts = body.split("|")
    if len(parts) != int(count):
        return None
    return [part.split(" ") if part else [] for part in parts]


def has_sentences_column(db: sqlite3.Connection) -> bool:
    return any(row[1] == "sentences" for row in db.execute("PRAGMA table_info(kw)"))


def term_counts(text: str) -> tuple[int, str]:
    """(length, "term:tf term:tf ...") for storage."""
    terms = query_terms(text)
    counts = Counter(terms)
    return len(terms), " ".join(f"{t}:{n}" for t, n in sorted(counts.items()))


@lru_cache(maxsize=4096)
def chunk_refs(chunks_json: str) -> dict[str, tuple[int, int, int]]:
    """An article's chunk list as stored in the manifest -> {chunk id: (position, start, end)}
    (cached by the stored text itself, so a replaced article cannot get stale entries; parsing
    it for every question showed in query latency). Callers must not change the dict."""
    return {c[0]: (c[1], c[2], c[3]) for c in json.loads(chunks_json)}


@dataclass(frozen=True)
class KeywordHit:
    chunk_id: str
    score: float


class KeywordSearcher(InvertedIndex):
    """BM25 over the `kw` table; thread-safe; catches up with other writers before each query."""

    def __init__(self, db_path: str, snapshot: bool = True) -> None:
        self.db_path = db_path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._version: int | None = None
        self._sentences = "NULL"  # the column to read stored sentence terms from, if any
        super().__init__(Path(f"{db_path}.kw-snapshot.npz") if snapshot else None)

    def _reset(self) -> None:
        """An empty in-memory index (the connection and data version are kept)."""
        super()._reset()
        self._generation = 0
        self._weights: OrderedDict[int, tuple[int, np.ndarray, np.ndarray, int]] = OrderedDict()
        self._weights_size = 0
        self._norms: tuple[int, float, np.ndarray] | None = None

    # --- loading ------------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            path = Path(self.db_path)
            self._db = open_sqlite(path)
            if not is_read_only(path):  # a read-only data folder can still be searched
                self._db.executescript(SCHEMA)
            try:  # manifests from before the column read as NULL (`Manifest` adds it)
                self._sentences = "kw.sentences" if has_sentences_column(self._db) else "NULL"
            except sqlite3.Error:
                self._sentences = "NULL"
        return self._db

    def refresh(self) -> None:
        """Append rows written since the last look; mask rows deleted since."""
        db = self._conn()
        version = db.execute("PRAGMA data_version").fetchone()[0]
        if version == self._version:
            return  # no other connection committed anything since
        first = self._version is None
        self._version = version
        if self._sentences == "NULL" and has_sentences_column(db):  # added by a writer since
            self._sentences = "kw.sentences"
        if first and not len(self.ids):
            self._load_snapshot(db)
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

    def passages(self, chunk_ids: Sequence[str],
                 stored_terms: Callable[[str, str | None], None] | None = None
                 ) -> dict[str, Hit]:
        """Chunks as unscored Hits (score 0), text and metadata from the manifest in the same
        database (keyword-only hits need no Chroma round trip). Ids it does not know are left
        out. `stored_terms`, when given, is called with each passage's text and the sentence
        terms stored for it at ingest (see `sentence_terms`; None where not stored yet): the
        reranker keeps them (`rag.fusion.remember`)."""
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        try:
            with self._lock:
                db = self._conn()
                rows = db.execute(
                    "SELECT kw.chunk_id, a.id, a.title, a.text, a.chunks, a.source, a.published, "
                    f"a.url, {self._sentences} FROM kw JOIN articles a ON a.id = kw.article_id "
                    f"WHERE kw.chunk_id IN ({marks})", list(chunk_ids)).fetchall()
        except sqlite3.Error:  # no manifest tables here: the caller asks Chroma
            return {}
        out: dict[str, Hit] = {}
        refs: dict[str, dict[str, tuple[int, int, int]]] = {}
        for cid, aid, title, text, chunks, source, published, url, sentences in rows:
            if aid not in refs:
                refs[aid] = chunk_refs(chunks)
            ref = refs[aid].get(cid)
            if ref is None:
                continue
            position, start, end = ref
            passage = text[start:end]
            out[cid] = Hit(chunk_id=cid, article_id=aid, title=title, text=passage,
                           start=start, end=end, score=0.0, source=source or None,
                           published=published or None, url=url or None, position=position)
            if stored_terms is not None:
                stored_terms(passage, sentences)
        return out

    # --- scoring ------------------------------------------------------------------------------
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
            norm = tfs * (K1 + 1) / (tfs + self._length_norm(avgdl)[docs])
            if df < len(docs):
                docs, norm = docs[live], norm[live]
            weights = (idf * norm).astype(np.float32)
        else:
            weights = norm = tfs[:0]
        self._weights[tid] = (self._generation, docs, weights, df)
        self._weights_size += len(docs)
        limit = max(_WEIGHT_CACHE_ENTRIES, _WEIGHT_CACHE_PER_DOC * len(self.ids))
        while self._weights_size > limit and len(self._weights) > 1:
            _, (_, d, _, _) = self._weights.popitem(last=False)
            self._weights_size -= len(d)
        return (docs, weights) if df else None

    def _length_norm(self, avgdl: float) -> np.ndarray:
        """BM25's per-doc length term K1 * (1 - B + B * length / avgdl), computed once per
        index generation instead of once per term."""
        got = self._norms
        if got is None or got[0] != self._generation or got[1] != avgdl:
            got = (self._generation, avgdl, K1 * (1 - B + B * self.lengths / avgdl))
            self._norms = got
        return got[2]

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
            keep = _Filter(self, sources, article_ids, date_from, date_to)
            candidates, scores = _max_score(postings, k, len(self.ids), keep)
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


@dataclass(frozen=True)
class _Filter:
    """The search filters, applied to candidate doc numbers."""

    index: InvertedIndex
    sources: Sequence[str]
    article_ids: Sequence[str]
    date_from: int
    date_to: int

    def active(self) -> bool:
        return bool(self.sources or self.article_ids or self.date_from or self.date_to)

    def __call__(self, candidates: np.ndarray, scores: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
        ix = self.index
        keep = scores > 0
        if self.date_from:
            keep &= ix.published[candidates] >= self.date_from
        if self.date_to:
            pub = ix.published[candidates]
            keep &= (pub <= self.date_to) & (pub > 0)
        if self.sources:
            keep &= np.isin(ix._source_of[candidates], ix._sources.codes(self.sources))
        if self.article_ids:
            keep &= np.isin(ix._article_of[candidates], ix._articles.codes(self.article_ids))
        if keep.all():
            return candidates, scores
        return candidates[keep], scores[keep]


def _union_scores(postings: Sequence[tuple[np.ndarray, np.ndarray]]
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(docs, summed weights) over the union of some postings, docs ascending. The union is
    sort-based: numpy's hashing `unique` was much slower on large unions."""
    if len(postings) == 1:
        return postings[0][0], postings[0][1].copy()
    docs = np.sort(np.concatenate([d for d, _ in postings]))
    candidates = docs[np.concatenate(([True], docs[1:] != docs[:-1]))]
    scores = np.zeros(len(candidates), dtype=np.float32)
    for docs, weights in postings:
        scores[np.searchsorted(candidates, docs)] += weights
    return candidates, scores


def _score_all(postings: Sequence[tuple[np.ndarray, np.ndarray]], n_docs: int,
               floor: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(docs, BM25 scores) of every doc that has any query term and scores above `floor`."""
    size = sum(len(d) for d, _ in postings)
    if size * 8 < n_docs:  # few matches: score only the matched docs
        return _union_scores(postings)
    full = np.zeros(n_docs, dtype=np.float32)
    for docs, weights in postings:
        full[docs] += weights
    candidates = np.flatnonzero(full > floor)
    return candidates, full[candidates]


def _max_score(postings: list[tuple[np.ndarray, np.ndarray]], k: int, n_docs: int,
               keep: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
               ) -> tuple[np.ndarray, np.ndarray]:
    """The filtered candidates (with exact scores) that contain the top k, without scoring
    every doc that has a common query term when that is cheaper (MaxScore pruning).

    The docs of the rarest terms are scored exactly, looking the other terms up in their
    postings. A doc that has none of those rare terms scores at most the sum of the other
    terms' largest weights; once that bound is below the k-th best score found, no such doc
    can reach the top k (nor tie with it). Otherwise the next rarest term joins the rare
    ones. A lookup costs about LOOKUP_COST times as much as adding one posting, so this is
    tried only while the rare terms are that much smaller than the rest (a real news corpus
    and a name in the question; not a corpus where every word is common).
    """
    postings = sorted(postings, key=lambda p: len(p[0]))
    total = sum(len(d) for d, _ in postings)
    rare = 1
    while rare < len(postings):
        size = sum(len(d) for d, _ in postings[:rare])
        if size * (len(postings) - rare) * LOOKUP_COST > total:
            break  # looking the common terms up would cost more than adding them all
        candidates, scores = _union_scores(postings[:rare])
        for docs, weights in postings[rare:]:
            at = np.searchsorted(docs, candidates)
            at[at == len(docs)] = 0
            found = docs[at] == candidates
            scores[found] += weights[at[found]]
        candidates, scores = keep(candidates, scores)
        if len(scores) >= k:
            kth = np.partition(scores, len(scores) - k)[len(scores) - k]
            bound = sum(float(w.max()) for _, w in postings[rare:])
            if kth > bound * (1 + 1e-6):  # float32 sums: a safety margin
                return candidates, scores
        rare += 1
    return keep(*_score_all(postings, n_docs, _floor(postings, k, keep)))


def _floor(postings: Sequence[tuple[np.ndarray, np.ndarray]], k: int,
           keep: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]) -> float:
    """A score below the k-th best, to skip the long tail before sorting: a doc scores at
    least its weight for any one term, so the k-th largest weight of a term's postings (the
    rarest term's: high idf, and cheap to partition) is a lower bound of the k-th best score.
    Lowered a little against float32 rounding; 0 (no floor) when filters are on, since the
    filtered top k can score lower."""
    if not isinstance(keep, _Filter) or keep.active():
        return 0.0
    rarest = min((w for _d, w in postings if len(w) >= k), key=len, default=None)
    if rarest is None:
        return 0.0
    return float(np.partition(rarest, len(rarest) - k)[len(rarest) - k]) * (1 - 1e-5)
