"""The in-memory inverted index behind keyword search: row arrays, postings, snapshot file."""
from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

SNAPSHOT_VERSION = 1


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


def _parse(rows: list[tuple[Any, ...]], vocab: dict[str, int], first_doc: int
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


class InvertedIndex:
    """The `kw` rows in memory: per-row arrays plus postings (compressed rows and a delta)."""

    def __init__(self, snapshot_path: Path | None) -> None:
        self.snapshot_path = snapshot_path
        self._reset()

    def _reset(self) -> None:
        """An empty in-memory index."""
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
        self._unsaved = 0  # rows appended since the snapshot was written

    # --- loading ------------------------------------------------------------------------------
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

    def _append(self, rows: list[tuple[Any, ...]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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

    # --- reading ------------------------------------------------------------------------------
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

    def _load_snapshot(self, db: sqlite3.Connection) -> None:
        """Fill the empty index from the snapshot file, if there is one and it matches `db`."""
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
