"""The Chroma chunk store: embedded PersistentClient or HttpClient to a server, one code path."""
from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlparse

import numpy as np

from core.errors import ModelMismatchError, StoreError
from core.records import Article, Chunk, Hit

if TYPE_CHECKING:  # chromadb is imported when a store is first opened
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection
    from chromadb.api.types import Where

logger = logging.getLogger(__name__)


def published_ts(published: str | None) -> int:
    """YYYY-MM-DD -> YYYYMMDD as an int (0 when unknown), for Chroma range filters."""
    if not published or len(published) < 10:
        return 0
    try:
        return int(published[:10].replace("-", ""))
    except ValueError:
        return 0


def chunk_metadata(article: Article, chunk: Chunk) -> dict[str, Any]:
    """Flat metadata stored with each chunk; llama-index's Chroma store reads it as node metadata."""
    return {
        "document_id": article.id,  # lets llama-index's ChromaVectorStore.delete(ref_doc_id) work
        "article_id": article.id,
        "title": article.title,
        "source": article.source or "",
        "published": article.published or "",
        "published_ts": published_ts(article.published),
        "url": article.url or "",
        "position": chunk.position,
        "start": chunk.start,
        "end": chunk.end,
    }


def hit_from_chroma(chunk_id: str, document: str | None, metadata: Mapping[str, Any] | None
                    ) -> Hit:
    """An unscored Hit from what Chroma stores for a chunk (its document and the flat
    `chunk_metadata`): only for chunks the manifest cannot place, which normally come from it."""
    meta = metadata or {}
    return Hit(chunk_id=chunk_id, article_id=str(meta.get("article_id", "")),
               title=str(meta.get("title", "")), text=document or "",
               start=int(meta.get("start", 0)), end=int(meta.get("end", 0)), score=0.0,
               source=meta.get("source") or None, published=meta.get("published") or None,
               url=meta.get("url") or None, position=int(meta.get("position", 0)))


def make_client(data_dir: Path, chroma_url: str | None) -> ClientAPI:
    """A Chroma client: embedded in data_dir/chroma, or HTTP to chroma_url."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    try:
        if chroma_url:
            url = urlparse(chroma_url)
            return chromadb.HttpClient(
                host=url.hostname or "127.0.0.1",
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
        path = data_dir / "chroma"
        path.mkdir(parents=True, exist_ok=True)
        if not _writable(path):
            path = _private_copy(path)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except Exception as exc:  # chromadb raises many types; the user needs one message
        where = chroma_url or str(data_dir / "chroma")
        raise StoreError(f"cannot open the Chroma store at {where}: {exc}") from exc


def _writable(path: Path) -> bool:
    """True when this process can write the Chroma folder and its database."""
    return all(os.access(p, os.W_OK) for p in (path, path / "chroma.sqlite3") if p.exists())


def _private_copy(path: Path) -> Path:
    """A writable copy of a Chroma folder this process cannot write, removed at exit.

    Embedded Chroma writes to its database whenever it starts (it fails on a read-only one),
    so a read-only data folder is queried through a copy: the index as it was when opened."""
    started = time.perf_counter()
    target = Path(tempfile.mkdtemp(prefix="newscite-chroma-")) / "chroma"
    atexit.register(shutil.rmtree, target.parent, ignore_errors=True)
    shutil.copytree(path, target, copy_function=shutil.copyfile)
    for folder, _, _ in os.walk(target):  # copytree copies the folders' read-only modes
        os.chmod(folder, 0o700)
    size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
    logger.info("%s is not writable: querying a copy (%.1f MB in %.2fs) at %s", path, size / 1e6,
                time.perf_counter() - started, target)
    return target


@contextmanager
def _chroma_errors(doing: str) -> Iterator[None]:
    """Chroma raises many exception types; a user gets one StoreError with the reason."""
    try:
        yield
    except (ModelMismatchError, StoreError):
        raise
    except Exception as exc:
        raise StoreError(f"{doing} Chroma failed: {exc}") from exc


class ChromaStore:
    """Chunks, their vectors and flat metadata in one Chroma collection."""

    def __init__(self, data_dir: Path, chroma_url: str | None, name: str,
                 embed_model: str, dim: int) -> None:
        self.data_dir = data_dir
        self.chroma_url = chroma_url
        self.name = name
        self.embed_model = embed_model
        self.dim = dim
        self._client: ClientAPI | None = None
        self._collection: Collection | None = None
        self._batch_size: int | None = None

    @property
    def client(self) -> ClientAPI:
        if self._client is None:
            self._client = make_client(self.data_dir, self.chroma_url)
        return self._client

    @property
    def collection(self) -> Collection:
        if self._collection is None:
            try:
                col = self.client.get_or_create_collection(
                    self.name,
                    metadata={"hnsw:space": "cosine", "embed_model": self.embed_model,
                              "dim": self.dim},
                    embedding_function=None,
                )
            except Exception as exc:
                raise StoreError(f"cannot open Chroma collection {self.name!r}: {exc}") from exc
            meta = col.metadata or {}
            if meta.get("embed_model") != self.embed_model or int(meta.get("dim", -1)) != self.dim:
                raise ModelMismatchError(
                    f"collection {self.name!r} was built with embedding model "
                    f"{meta.get('embed_model')!r} ({meta.get('dim')}-d), not {self.embed_model!r} "
                    f"({self.dim}-d). Re-index into a new data folder (--data-dir) or collection, "
                    f"or delete {self.data_dir} and ingest again."
                )
            self._collection = col
        return self._collection

    @property
    def opened(self) -> bool:
        """True once the collection is open: before that, nothing can have been written."""
        return self._collection is not None

    def batch_size(self) -> int:
        if self._batch_size is None:  # asked once: over HTTP it is a round trip
            try:
                self._batch_size = max(1, min(int(self.client.get_max_batch_size()), 5000))
            except Exception:  # older servers do not report it
                self._batch_size = 1000
        return self._batch_size

    def upsert(self, articles: dict[str, Article], chunks: Sequence[Chunk],
               vectors: np.ndarray) -> None:
        """Insert or replace chunks (ids are deterministic, so re-runs are idempotent)."""
        step = self.batch_size()
        for i in range(0, len(chunks), step):
            part = chunks[i:i + step]
            with _chroma_errors("writing to"):
                self.collection.upsert(
                    ids=[c.id for c in part],
                    embeddings=vectors[i:i + step],
                    documents=[c.text for c in part],
                    metadatas=[chunk_metadata(articles[c.article_id], c) for c in part],
                )

    def delete_ids(self, ids: Sequence[str]) -> None:
        step = self.batch_size()
        for i in range(0, len(ids), step):
            with _chroma_errors("deleting from"):
                self.collection.delete(ids=list(ids[i:i + step]))

    def delete_articles(self, article_ids: Sequence[str]) -> None:
        if article_ids:
            with _chroma_errors("deleting from"):
                values: list[str | int | float | bool] = list(article_ids)
                among: dict[Literal["$in", "$nin"], list[str | int | float | bool]] = {
                    "$in": values}
                where: Where = {"article_id": among}
                self.collection.delete(where=where)

    def count(self) -> int:
        return int(self.collection.count())

    def ids(self) -> set[str]:
        """Every chunk id in the collection (paged, for verification)."""
        out: set[str] = set()
        offset, page = 0, 5000
        while True:
            got = self.collection.get(include=[], limit=page, offset=offset)
            out.update(got["ids"])
            if len(got["ids"]) < page:
                return out
            offset += page
