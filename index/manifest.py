"""The ingest manifest (SQLite): article texts and metadata, source keys, chunk ids, pending deletes."""
from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from core.errors import IndexError_
from core.records import Article, Chunk
from index.chunk import embed_text
from index.keyword import SCHEMA as KEYWORD_SCHEMA
from index.keyword import chunk_refs, has_sentences_column, sentence_terms, term_counts
from index.sqlite import is_read_only, open_sqlite
from index.store import published_ts

logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, source TEXT, url TEXT, published TEXT,
    path TEXT NOT NULL, text TEXT NOT NULL, content_hash TEXT NOT NULL,
    boilerplate TEXT NOT NULL, chunks TEXT NOT NULL, ingested_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS keys (key TEXT PRIMARY KEY, article_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS keys_article ON keys(article_id);
CREATE TABLE IF NOT EXISTS pending_deletes (article_id TEXT NOT NULL, chunk_id TEXT NOT NULL,
    PRIMARY KEY (article_id, chunk_id));
CREATE TABLE IF NOT EXISTS inflight (article_id TEXT PRIMARY KEY);
"""


@dataclass(frozen=True)
class ArticleInfo:
    """An indexed article as listed by `Assistant.articles()`."""

    id: str
    title: str
    source: str | None
    published: str | None
    url: str | None
    path: str
    chunks: int


@dataclass(frozen=True)
class ChunkRef:
    """A stored chunk's offsets, enough to rebuild its text from the article."""

    id: str
    position: int
    start: int
    end: int


class Manifest:
    """SQLite file in the data folder; every change is one transaction.

    A data folder this process cannot write is opened read-only (see `open_sqlite`): questions
    are answered, and every write fails with IndexError_ before touching the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.read_only = is_read_only(path)
        try:
            if self.read_only:
                self.db = open_sqlite(path, read_only=True)
                logger.info("the index manifest %s is not writable: opened read-only", path)
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = open_sqlite(path, read_only=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(SCHEMA + KEYWORD_SCHEMA)
            if not has_sentences_column(self.db):  # a manifest from before the column
                self.db.execute("ALTER TABLE kw ADD COLUMN sentences TEXT")
            # finds the rows `backfill_sentence_terms` has to fill without a table scan
            self.db.execute("CREATE INDEX IF NOT EXISTS kw_no_sentences ON kw(rid) "
                            "WHERE sentences IS NULL")
        except (OSError, sqlite3.Error) as exc:
            raise IndexError_(f"cannot open the index manifest {path}: {exc}") from exc

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        if self.read_only:  # an immutable open would even let BEGIN through
            raise IndexError_(f"cannot write the index manifest {self.path}: it is read-only "
                              "for this process")
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise IndexError_(f"cannot write the index manifest {self.path}: {exc}") from exc
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            try:
                self.db.execute("COMMIT")
            except sqlite3.Error as exc:
                self.db.execute("ROLLBACK")
                raise IndexError_(f"cannot write the index manifest {self.path}: {exc}") from exc

    # --- meta -----------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, values: dict[str, str]) -> None:
        with self.transaction() as db:
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(values.items()))

    # --- reads ----------------------------------------------------------------------------
    def has_article(self, article_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM articles WHERE id=?", (article_id,)).fetchone() \
            is not None

    def article_for_key(self, key: str) -> str | None:
        row = self.db.execute("SELECT article_id FROM keys WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def keys_under(self, folder: Path) -> dict[str, str]:
        """{source key: article id} of every article loaded from a file under `folder`."""
        prefix = str(folder.resolve()).rstrip("/") + "/"
        rows = self.db.execute("SELECT key, article_id FROM keys WHERE substr(key, 1, ?) = ?",
                               (len(prefix), prefix))
        return dict(rows.fetchall())

    def article(self, article_id: str) -> Article | None:
        row = self.db.execute(
            "SELECT id, title, text, path, source, url, published, content_hash, boilerplate "
            "FROM articles WHERE id=?", (article_id,)).fetchone()
        if row is None:
            return None
        key = self.db.execute("SELECT key FROM keys WHERE article_id=? ORDER BY key LIMIT 1",
                              (article_id,)).fetchone()
        return Article(id=row[0], title=row[1], text=row[2], path=row[3], key=key[0] if key else "",
                       source=row[4], url=row[5], published=row[6], content_hash=row[7],
                       boilerplate=tuple(json.loads(row[8])))

    def articles(self) -> list[ArticleInfo]:
        rows = self.db.execute(
            "SELECT id, title, source, published, url, path, chunks FROM articles "
            "ORDER BY published DESC, title").fetchall()
        return [ArticleInfo(r[0], r[1], r[2], r[3], r[4], r[5], len(json.loads(r[6])))
                for r in rows]

    def chunk_refs(self, article_id: str) -> list[ChunkRef]:
        row = self.db.execute("SELECT chunks FROM articles WHERE id=?", (article_id,)).fetchone()
        return [ChunkRef(*c) for c in json.loads(row[0])] if row else []

    def all_chunk_ids(self) -> set[str]:
        out: set[str] = set()
        for (chunks,) in self.db.execute("SELECT chunks FROM articles"):
            out.update(c[0] for c in json.loads(chunks))
        return out

    def article_ids(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT id FROM articles ORDER BY id")]

    def count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM articles").fetchone()[0])

    def pending_deletes(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for aid, cid in self.db.execute("SELECT article_id, chunk_id FROM pending_deletes"):
            out.setdefault(aid, []).append(cid)
        return out

    # --- writes ---------------------------------------------------------------------------
    def commit_articles(self, items: Iterable[tuple[Article, list[Chunk]]],
                        keys: dict[str, str]) -> list[str]:
        """Record articles with their chunks and point source keys at them, in one transaction.

        Articles no longer referenced by any key are removed and their chunks queued in
        pending_deletes (the caller deletes them from the stores, then clears the queue).
        Returns the ids of the removed articles.
        """
        now = time.time()
        with self.transaction() as db:
            for article, chunks in items:
                db.execute(
                    "INSERT OR REPLACE INTO articles VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (article.id, article.title, article.source, article.url, article.published,
                     article.path, article.text, article.content_hash,
                     json.dumps(list(article.boilerplate)),
                     json.dumps([[c.id, c.position, c.start, c.end] for c in chunks]), now))
                db.execute("DELETE FROM kw WHERE article_id=?", (article.id,))
                db.executemany("INSERT INTO kw (chunk_id, article_id, length, terms, source, "
                               "published_ts, sentences) VALUES (?,?,?,?,?,?,?)",
                               [(c.id, article.id, *term_counts(embed_text(article.title, c.text)),
                                 article.source or "", published_ts(article.published),
                                 sentence_terms(c.text)) for c in chunks])
                db.execute("DELETE FROM inflight WHERE article_id=?", (article.id,))
            previous = {k: self.article_for_key(k) for k in keys}
            db.executemany("INSERT OR REPLACE INTO keys VALUES (?, ?)", list(keys.items()))
            removed = []
            for old in {v for v in previous.values() if v and v not in keys.values()}:
                still = db.execute("SELECT 1 FROM keys WHERE article_id=?", (old,)).fetchone()
                if still is None:
                    removed.append(old)
                    self._remove(db, old)
        return removed

    def backfill_sentence_terms(self, batch: int = 2000) -> int:
        """Store the sentence terms of chunks written before the `kw.sentences` column existed
        (their hits are analysed at query time until then). One transaction per `batch` rows,
        so an interrupted run keeps what it did; returns the number of rows filled."""
        if self.read_only:
            return 0
        done = 0
        while True:
            rows = self.db.execute(
                "SELECT kw.rid, kw.chunk_id, a.text, a.chunks FROM kw JOIN articles a "
                "ON a.id = kw.article_id WHERE kw.sentences IS NULL LIMIT ?", (batch,)).fetchall()
            if not rows:
                return done
            if not done:
                logger.warning("storing the sentence terms of chunks indexed by an older "
                               "version (once; about 1 s per 10,000 chunks)")
            values = []
            for rid, cid, text, chunks in rows:
                ref = chunk_refs(chunks).get(cid)
                # "" (not NULL): a row its article does not list is not picked up again
                values.append(("" if ref is None else sentence_terms(text[ref[1]:ref[2]]), rid))
            with self.transaction() as db:
                db.executemany("UPDATE kw SET sentences=? WHERE rid=? AND sentences IS NULL",
                               values)
            done += len(rows)

    def remove_article(self, article_id: str) -> bool:
        with self.transaction() as db:
            if not self.has_article(article_id):
                return False
            self._remove(db, article_id)
            db.execute("DELETE FROM keys WHERE article_id=?", (article_id,))
        return True

    def _remove(self, db: sqlite3.Connection, article_id: str) -> None:
        refs = self.chunk_refs(article_id)
        db.executemany("INSERT OR IGNORE INTO pending_deletes VALUES (?, ?)",
                       [(article_id, r.id) for r in refs])
        db.execute("DELETE FROM articles WHERE id=?", (article_id,))
        db.execute("DELETE FROM kw WHERE article_id=?", (article_id,))

    def mark_inflight(self, article_ids: Iterable[str]) -> None:
        """Record articles about to be written to Chroma, so a crash can be cleaned up."""
        with self.transaction() as db:
            db.executemany("INSERT OR IGNORE INTO inflight VALUES (?)", [(a,) for a in article_ids])

    def inflight(self) -> list[str]:
        """Articles written to Chroma by a run that died before recording them."""
        return [r[0] for r in self.db.execute(
            "SELECT article_id FROM inflight WHERE article_id NOT IN (SELECT id FROM articles)")]

    def clear_inflight(self) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM inflight")

    def keyword_count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM kw").fetchone()[0])

    def keyword_ids(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT chunk_id FROM kw")}

    def clear_pending(self, article_ids: Iterable[str]) -> None:
        with self.transaction() as db:
            db.executemany("DELETE FROM pending_deletes WHERE article_id=?",
                           [(a,) for a in article_ids])
