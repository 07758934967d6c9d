"""Check that the manifest, Chroma and keyword table agree; rebuild the stores from the manifest."""
from __future__ import annotations

import json
import logging
import math
import shutil
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.errors import ModelMismatchError, RagError, StoreError
from core.records import Article, Chunk, Progress, content_hash
from core.settings import Settings
from index.chroma_reset import (
    drop_collection,
    short_error,
)
from index.chunk import chunk_article, chunk_id, embed_text
from index.embed import Embedder
from index.keyword import has_sentences_column, parse_sentence_terms, sentence_terms
from index.manifest import Manifest
from index.store import ChromaStore

if TYPE_CHECKING:  # chromadb is imported when a store is first opened
    from chromadb.api.models.Collection import Collection
    from chromadb.api.types import Embeddings, GetResult, Include

logger = logging.getLogger(__name__)
Vector = Sequence[float] | Sequence[int] | np.ndarray  # a stored embedding, as Chroma returns it

REBUILD_FLAG = "rebuild"  # manifest meta key set while a rebuild runs (left behind by a crash)
PROBES = 64  # chunks queried by their own vector to check the dense index answers
PAGE = 1000  # chunks fetched from Chroma per call
GROUP = 256  # chunks embedded and committed together by a rebuild


@dataclass(frozen=True)
class Problem:
    """One disagreement between the manifest, Chroma and the keyword table."""

    kind: str  # a short code, e.g. "missing-in-chroma", "orphan-keyword", "chunk-text"
    message: str
    article_id: str | None = None
    chunk_ids: tuple[str, ...] = ()

    def __str__(self) -> str:
        ids = ""
        if self.chunk_ids:
            shown = ", ".join(self.chunk_ids[:3])
            more = f" and {len(self.chunk_ids) - 3} more" if len(self.chunk_ids) > 3 else ""
            ids = f" [{shown}{more}]"
        return f"{self.kind}: {self.message}{ids}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "article_id": self.article_id,
                "chunk_ids": list(self.chunk_ids)}


@dataclass(frozen=True)
class RebuildReport:
    articles: int
    chunks: int
    seconds: float

    def summary(self) -> str:
        return (f"rebuilt {self.chunks} chunks of {self.articles} articles "
                f"in {self.seconds:.1f}s")


# --- verify ------------------------------------------------------------------------------------
def verify(settings: Settings, manifest: Manifest, store: ChromaStore, embedder: Embedder, *,
           probes: int = PROBES) -> list[Problem]:
    """Every problem found in an index (empty when manifest, Chroma and the keyword table
    agree and every stored chunk text is its article's text[start:end])."""
    problems: list[Problem] = []
    try:
        db: sqlite3.Connection = manifest.db
        check = db.execute("PRAGMA quick_check").fetchone()
    except (RagError, sqlite3.Error) as exc:
        return [Problem("manifest-unreadable", f"the manifest cannot be read: {exc}")]
    if check and check[0] != "ok":
        problems.append(Problem("manifest-damaged", f"SQLite quick_check: {check[0]}"))
    try:
        expected = _manifest_side(settings, embedder, db, problems)
        _keyword_side(db, expected, problems)
    except sqlite3.Error as exc:
        problems.append(Problem("manifest-unreadable", f"the manifest cannot be read: {exc}"))
        return problems
    _chroma_side(store, embedder, expected, problems, probes)
    return problems


def _manifest_side(settings: Settings, embedder: Embedder, db: sqlite3.Connection,
                   problems: list[Problem]) -> dict[str, Chunk]:
    meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    if meta.get(REBUILD_FLAG):
        problems.append(Problem("interrupted-rebuild", "a rebuild did not finish; run "
                                "`newscite index rebuild` again"))
    if meta.get("embed_model") and (meta.get("embed_model") != embedder.name
                                    or meta.get("dim") != str(embedder.dim)):
        problems.append(Problem("manifest-model", f"the manifest says the index was built with "
                                f"{meta.get('embed_model')} ({meta.get('dim')}-d), not "
                                f"{embedder.name} ({embedder.dim}-d)"))
    chunking = f"{settings.chunk_chars}/{settings.chunk_overlap}"
    if meta.get("chunking") and meta["chunking"] != chunking:
        problems.append(Problem("manifest-chunking", f"the index was chunked with "
                                f"{meta['chunking']}, the settings say {chunking}"))
    pending = db.execute("SELECT article_id, chunk_id FROM pending_deletes").fetchall()
    if pending:
        problems.append(Problem(
            "interrupted-ingest", f"{len(pending)} chunks of removed or replaced articles are "
            "waiting to be deleted from Chroma (an ingest was interrupted); run the ingest "
            "again", chunk_ids=tuple(sorted(c for _, c in pending))))
    inflight = [r[0] for r in db.execute(
        "SELECT article_id FROM inflight WHERE article_id NOT IN (SELECT id FROM articles)")]
    if inflight:
        problems.append(Problem(
            "interrupted-ingest", f"{len(inflight)} articles were being written when an ingest "
            "stopped; run the ingest again"))

    expected: dict[str, Chunk] = {}
    rows = db.execute("SELECT id, title, text, content_hash, chunks FROM articles ORDER BY id")
    for aid, title, text, stored_hash, chunks_json in rows:
        if content_hash(title, text) != stored_hash or not stored_hash.startswith(aid):
            problems.append(Problem("article-hash", f"article {aid}: its stored text does not "
                                    "match its content hash (edited or damaged)", aid))
        try:
            refs = json.loads(chunks_json)
        except ValueError:
            problems.append(Problem("chunk-list", f"article {aid}: unreadable chunk list", aid))
            continue
        for position, ref in enumerate(refs):
            try:
                cid, pos, start, end = ref
                start, end = int(start), int(end)
            except (TypeError, ValueError):
                problems.append(Problem("chunk-list", f"article {aid}: malformed chunk entry "
                                        f"{str(ref)[:60]}", aid))
                continue
            if not 0 <= start < end <= len(text):
                problems.append(Problem("chunk-offsets", f"article {aid}: chunk offsets "
                                        f"{start}-{end} outside the text ({len(text)} chars)",
                                        aid, (cid,)))
                continue
            if cid != chunk_id(aid, start, end) or pos != position:
                problems.append(Problem("chunk-id", f"article {aid}: chunk id or position does "
                                        f"not match its offsets {start}-{end}", aid, (cid,)))
            if cid in expected:
                problems.append(Problem("chunk-duplicate", f"chunk {cid} is listed twice", aid,
                                        (cid,)))
            expected[cid] = Chunk(cid, aid, pos, start, end, text[start:end])
    return expected


def _keyword_side(db: sqlite3.Connection, expected: dict[str, Chunk],
                  problems: list[Problem]) -> None:
    rows = dict(db.execute("SELECT chunk_id, article_id FROM kw").fetchall())
    missing = sorted(set(expected) - set(rows))
    orphans = sorted(set(rows) - set(expected))
    if missing:
        problems.append(Problem("missing-keyword", f"{len(missing)} chunks are not in the keyword "
                                "index", chunk_ids=tuple(missing)))
    if orphans:
        problems.append(Problem("orphan-keyword", f"{len(orphans)} keyword rows belong to no "
                                "indexed chunk", chunk_ids=tuple(orphans)))
    wrong = sorted(c for c, a in rows.items() if c in expected and expected[c].article_id != a)
    if wrong:
        problems.append(Problem("keyword-article", f"{len(wrong)} keyword rows name the wrong "
                                "article", chunk_ids=tuple(wrong)))
    if not has_sentences_column(db):
        return  # a manifest from before the column: the next ingest adds and fills it
    # NULL (not filled in yet) and other formats are not read as terms, so they are no problem
    stale = sorted(c for c, stored in db.execute("SELECT chunk_id, sentences FROM kw "
                                                 "WHERE sentences IS NOT NULL")
                   if c in expected and parse_sentence_terms(stored) is not None
                   and stored != sentence_terms(expected[c].text))
    if stale:
        problems.append(Problem("keyword-sentences", f"{len(stale)} keyword rows store sentence "
                                "terms that do not match their chunk's text (the reranker reads "
                                "them); run `newscite index rebuild`", chunk_ids=tuple(stale)))


def _pages(collection: Collection, include: Include) -> Iterator[GetResult]:
    offset = 0
    while True:
        got = collection.get(include=include, limit=PAGE, offset=offset)
        yield got
        if len(got["ids"]) < PAGE:
            return
        offset += PAGE


def _chroma_side(store: ChromaStore, embedder: Embedder, expected: dict[str, Chunk],
                 problems: list[Problem], probes: int) -> None:
    try:
        collection = store.collection
    except ModelMismatchError as exc:
        problems.append(Problem("collection-model", str(exc)))
        return
    except (StoreError, Exception) as exc:  # noqa: BLE001 - a damaged store raises any type
        problems.append(Problem("store-unreadable", short_error(exc)))
        return
    meta = collection.metadata or {}
    if meta.get("hnsw:space", "cosine") != "cosine":
        problems.append(Problem("collection-metadata", f"distance is {meta.get('hnsw:space')}, "
                                "not cosine"))
    seen: set[str] = set()
    bad_text, bad_meta, bad_vec, orphans = [], [], [], []
    sample: list[tuple[str, Vector]] = []
    stride = max(1, len(expected) // max(probes, 1))
    try:
        for page in _pages(collection, ["documents", "metadatas", "embeddings"]):
            embeddings = page.get("embeddings")
            for n, cid in enumerate(page["ids"]):
                seen.add(cid)
                want = expected.get(cid)
                if want is None:
                    orphans.append(cid)
                    continue
                docs, metas = page.get("documents"), page.get("metadatas")
                doc = docs[n] if docs else None
                md = (metas[n] if metas else None) or {}
                if doc != want.text:
                    bad_text.append(cid)
                if (md.get("article_id") != want.article_id or md.get("start") != want.start
                        or md.get("end") != want.end or md.get("position") != want.position):
                    bad_meta.append(cid)
                vector = None if embeddings is None else embeddings[n]
                if vector is None or not _vector_ok(vector, embedder.dim):
                    bad_vec.append(cid)
                elif len(seen) % stride == 0 and len(sample) < probes:
                    sample.append((cid, vector))
        count = int(collection.count())
    except Exception as exc:  # noqa: BLE001 - a damaged store raises anything
        problems.append(Problem("store-unreadable", f"reading the Chroma collection failed: "
                                f"{short_error(exc)}"))
        return
    missing = sorted(set(expected) - seen)
    for kind, ids, what in (
            ("missing-in-chroma", missing, "indexed chunks are missing from Chroma"),
            ("orphan-in-chroma", sorted(orphans), ("Chroma chunks belong to no indexed article "
                                                   "(stale or from an interrupted ingest)")),
            ("chunk-text", bad_text, "Chroma chunk texts differ from article.text[start:end]"),
            ("chunk-metadata", bad_meta, "Chroma chunk metadata (article, offsets) is wrong"),
            ("bad-vector", bad_vec, f"Chroma vectors are not finite unit {embedder.dim}-d")):
        if ids:
            problems.append(Problem(kind, f"{len(ids)} {what}", chunk_ids=tuple(ids)))
    if count != len(seen):
        problems.append(Problem("chroma-count", f"Chroma counts {count} chunks but lists "
                                f"{len(seen)}"))
    _probe(collection, sample, problems)


def _probe(collection: Collection, sample: list[tuple[str, Vector]],
           problems: list[Problem]) -> None:
    """Each sampled chunk's own vector must find a vector equal to it: the ANN index works."""
    if not sample:
        return
    try:
        vectors: Embeddings = [np.asarray(v, dtype=np.float32) for _, v in sample]
        got = collection.query(query_embeddings=vectors, n_results=1, include=["distances"])
    except Exception as exc:  # noqa: BLE001 - a damaged index raises anything
        problems.append(Problem("vector-index", f"the dense index cannot be searched: "
                                f"{short_error(exc)}"))
        return
    lost = [cid for (cid, _), ids, dist in zip(sample, got["ids"], got["distances"] or [],
                                               strict=True)
            if not ids or dist[0] > 1e-3]
    if lost:
        problems.append(Problem("vector-index", f"{len(lost)} of {len(sample)} sampled chunks "
                                "are not found by a search with their own vector",
                                chunk_ids=tuple(lost)))


def _vector_ok(vector: Vector, dim: int) -> bool:
    arr = np.asarray(vector, dtype=np.float64)
    if arr.shape != (dim,) or not np.all(np.isfinite(arr)):
        return False
    return math.isclose(float(np.linalg.norm(arr)), 1.0, abs_tol=1e-2)


# --- rebuild -----------------------------------------------------------------------------------
def rebuild(settings: Settings, manifest: Manifest, embedder: Embedder,
            progress: Progress | None = None) -> RebuildReport:
    """Re-chunk and re-embed every article stored in the manifest into a fresh Chroma collection
    and keyword table (for a damaged store, or new chunking settings or embedding model).

    Holds the write lock; if interrupted, `verify` reports it and running rebuild again finishes.
    A store object opened before the rebuild refers to the dropped collection: open a new one.
    """
    from index.locks import write_lock

    started = time.perf_counter()
    with write_lock(Path(settings.data_dir)):
        manifest.set_meta({REBUILD_FLAG: time.strftime("%Y-%m-%dT%H:%M:%S")})
        articles = [a for a in (manifest.article(aid) for aid in manifest.article_ids()) if a]
        keys: dict[str, list[str]] = {}
        for key, aid in manifest.db.execute("SELECT key, article_id FROM keys ORDER BY key"):
            keys.setdefault(aid, []).append(key)
        moved = drop_collection(settings)
        store = ChromaStore(Path(settings.data_dir), settings.chroma_url, settings.collection,
                            embedder.name, embedder.dim)
        with manifest.transaction() as db:
            # chunks are re-listed per article below; nothing is pending once Chroma is new
            db.execute("DELETE FROM kw")
            db.execute("DELETE FROM pending_deletes")
            db.execute("DELETE FROM inflight")
        chunked = [(a, chunk_article(a, settings.chunk_chars, settings.chunk_overlap))
                   for a in articles]
        total = sum(len(c) for _, c in chunked)
        done = 0
        for group in _groups(chunked):
            by_id = {a.id: a for a, _ in group}
            chunks = [c for _, cs in group for c in cs]
            vectors = _embed(embedder, [embed_text(by_id[c.article_id].title, c.text)
                                        for c in chunks])
            store.upsert(by_id, chunks, vectors)
            group_keys = {k: a.id for a, _ in group for k in keys.get(a.id, [])}
            manifest.commit_articles(group, group_keys)
            done += len(chunks)
            if progress:
                progress(done, total)
        manifest.set_meta({"embed_model": embedder.name, "dim": str(embedder.dim),
                           "chunking": f"{settings.chunk_chars}/{settings.chunk_overlap}"})
        with manifest.transaction() as db:
            db.execute("DELETE FROM meta WHERE key=?", (REBUILD_FLAG,))
        if moved is not None:
            shutil.rmtree(moved, ignore_errors=True)
    report = RebuildReport(len(articles), total, time.perf_counter() - started)
    logger.info("%s", report.summary())
    return report


def _groups(chunked: list[tuple[Article, list[Chunk]]]
            ) -> Iterator[list[tuple[Article, list[Chunk]]]]:
    group: list[tuple[Article, list[Chunk]]] = []
    size = 0
    for item in chunked:
        group.append(item)
        size += len(item[1])
        if size >= GROUP:
            yield group
            group, size = [], 0
    if group:
        yield group


def _embed(embedder: Embedder, texts: list[str]) -> np.ndarray:
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    vectors = embedder.embed([texts[i] for i in order])
    out = np.empty_like(vectors)
    out[order] = vectors
    return out
