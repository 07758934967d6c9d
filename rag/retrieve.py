"""Dense retrieval through llama-index's Chroma vector store, with metadata filters; BM25,
fusion and the second stage (`HybridRetriever`); the hybrid retriever as a llama-index
retriever."""
from __future__ import annotations

import logging
import math
import re
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from core.records import Filters, Hit
from core.settings import Settings
from index.embed import Embedder
from index.store import ChromaStore, hit_from_chroma, published_ts

if TYPE_CHECKING:  # heavy: llama-index is imported when first used
    from chromadb.api.models.Collection import Collection
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.retrievers import BaseRetriever
    from llama_index.core.vector_stores.types import MetadataFilters
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from rag.fusion import RerankWeights

logger = logging.getLogger(__name__)


def make_llama_embedding(embedder: Embedder) -> BaseEmbedding:
    """Wrap an Embedder as a llama-index BaseEmbedding (imported lazily: llama-index is heavy)."""
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from pydantic import PrivateAttr

    class _Embedding(BaseEmbedding):
        _embedder: Embedder = PrivateAttr()

        def __init__(self, inner: Embedder) -> None:
            super().__init__(model_name=inner.name, embed_batch_size=32)
            self._embedder = inner

        def _get_query_embedding(self, query: str) -> list[float]:
            vector: list[float] = self._embedder.embed([query])[0].tolist()
            return vector

        def _get_text_embedding(self, text: str) -> list[float]:
            vector: list[float] = self._embedder.embed([text])[0].tolist()
            return vector

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            vectors: list[list[float]] = self._embedder.embed(texts).tolist()
            return vectors

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

    return _Embedding(embedder)


def to_llama_filters(filters: Filters | None) -> MetadataFilters | None:
    """Filters -> llama-index MetadataFilters (None when empty)."""
    if filters is None or filters.is_empty():
        return None
    from llama_index.core.vector_stores.types import (
        FilterOperator,
        MetadataFilter,
        MetadataFilters,
    )

    parts: list[MetadataFilter | MetadataFilters] = []
    if filters.sources:
        parts.append(MetadataFilter(key="source", value=list(filters.sources),
                                    operator=FilterOperator.IN))
    if filters.article_ids:
        parts.append(MetadataFilter(key="article_id", value=list(filters.article_ids),
                                    operator=FilterOperator.IN))
    if filters.date_from:
        parts.append(MetadataFilter(key="published_ts", value=published_ts(filters.date_from),
                                    operator=FilterOperator.GTE))
    if filters.date_to:
        parts.append(MetadataFilter(key="published_ts", value=published_ts(filters.date_to),
                                    operator=FilterOperator.LTE))
    return MetadataFilters(filters=parts)


_threads_lock = threading.Lock()
_threads_active = 0
_threads_saved = 0


def cores_idle() -> bool:
    """True when nothing else on the machine is waiting for a CPU right now: the runnable
    count in /proc/loadavg (which includes the thread reading it) is at most 1. False where
    that file does not exist."""
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            return int(f.read().split()[3].split("/")[0]) <= 1
    except (OSError, ValueError, IndexError):
        return False


@contextmanager
def query_threads() -> Iterator[None]:
    """Run a query-time embedding on all of torch's threads when it is the only work on the
    machine, else on one intra-op thread.

    On an idle machine all threads embed a question faster than one. But when the cores are
    busy (other requests, other processes), OpenMP's spinning threads make it many times
    slower, so a query that starts while another query is
    running in this process, or while anything else is runnable, gets one thread. The
    previous setting returns when the last query leaves.
    """
    global _threads_active, _threads_saved
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    with _threads_lock:
        if _threads_active == 0:
            _threads_saved = torch.get_num_threads()
        _threads_active += 1
        alone = _threads_active == 1 and cores_idle()
        torch.set_num_threads(_threads_saved if alone else 1)
    try:
        yield
    finally:
        with _threads_lock:
            _threads_active -= 1
            if _threads_active == 0 and _threads_saved:
                torch.set_num_threads(_threads_saved)


# chunk ids -> unscored Hits, for the ids the manifest has committed (`KeywordSearcher.passages`)
PassageLookup = Callable[[Sequence[str]], dict[str, Hit]]


def ids_only_vector_store(collection: Collection) -> ChromaVectorStore:
    """llama-index's ChromaVectorStore (which turns llama-index metadata filters into Chroma's
    `where`), asking Chroma for ids and distances only: no documents, metadata or nodes.

    Chroma keeps metadata as one row per key, so fetching the hits' documents and metadata
    costs several times what ids and distances alone do, with a long tail (the manifest
    answers the rest cheaply). Ids the manifest does not
    know (an ingest that has not committed, or died) are left out, as they must be anyway.
    """
    from llama_index.core.vector_stores.types import VectorStoreQueryResult
    from llama_index.vector_stores.chroma import ChromaVectorStore

    class IdsOnlyChromaVectorStore(ChromaVectorStore):
        def __init__(self, chroma_collection: Collection) -> None:
            super().__init__(chroma_collection=chroma_collection)

        def _query(self, query_embeddings: list[float], n_results: int,
                   where: dict[str, Any] | None, **kwargs: Any) -> VectorStoreQueryResult:
            kwargs.setdefault("include", ["distances"])
            if where:
                kwargs["where"] = where
            got = self._collection.query(query_embeddings=query_embeddings,
                                         n_results=n_results, **kwargs)
            ids: list[str] = got["ids"][0]
            distances: list[float] = (got["distances"] or [[]])[0]
            # similarity as ChromaVectorStore scores it
            return VectorStoreQueryResult(ids=ids,
                                          similarities=[math.exp(-d) for d in distances])

    return IdsOnlyChromaVectorStore(chroma_collection=collection)


class DenseRetriever:
    """Top-k chunks by embedding similarity: a `VectorStoreQuery` to llama-index's
    ChromaVectorStore, which turns llama-index metadata filters into Chroma's `where`.

    Chroma answers ids and distances (`ids_only_vector_store`); each hit is the manifest's
    passage (`passages`) with its score, so only chunks the manifest knows, the committed ones,
    are returned (Chroma may hold chunks of an ingest that has not committed, or died). The
    store is queried
    directly rather than through a `VectorIndexRetriever`: with the question already embedded,
    the retriever only wraps the same call in instrumentation spans and `NodeWithScore`s, a
    cost that showed up in every question's latency.
    """

    CACHE_SIZE = 1024  # query vectors kept (repeated questions, retries, eval runs)

    def __init__(self, store: ChromaStore, embedder: Embedder, passages: PassageLookup) -> None:
        self.embedder = embedder
        self.passages = passages
        self.vector_store = ids_only_vector_store(store.collection)
        self._vectors: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def embed_query(self, query: str) -> list[float]:
        """The query's vector (cached; see `query_threads` for the threads it uses)."""
        with self._lock:
            got = self._vectors.get(query)
            if got is not None:
                self._vectors.move_to_end(query)
                return got
        with query_threads():
            vector: list[float] = self.embedder.embed([query])[0].tolist()
        with self._lock:
            self._vectors[query] = vector
            while len(self._vectors) > self.CACHE_SIZE:
                self._vectors.popitem(last=False)
        return vector

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of several texts in one batch (threads as in `query_threads`: with the
        cores busy, two threads are slower than one)."""
        with query_threads():
            return self.embedder.embed(texts)

    def search(self, query: str, k: int, filters: Filters | None = None,
               query_vector: Sequence[float] | None = None) -> list[Hit]:
        from llama_index.core.vector_stores.types import VectorStoreQuery

        vector = list(query_vector) if query_vector is not None else self.embed_query(query)
        result = self.vector_store.query(VectorStoreQuery(
            query_embedding=vector, similarity_top_k=k, filters=to_llama_filters(filters)))
        ids = result.ids or []
        known = self.passages(ids)
        hits = []
        for cid, similarity in zip(ids, result.similarities or []):
            passage = known.get(cid)
            if passage is not None:
                hits.append(passage.rescored(similarity, {"dense": similarity}))
        return hits


_AS_OF = re.compile(r"\bas of ([A-Z][a-z]+ \d{1,2},? \d{4}|\d{1,2} [A-Z][a-z]+ \d{4}|\d{4}-\d{2}-\d{2})")


def date_limit(question: str) -> str | None:
    """'as of <date>' in a question -> that date (ISO), to exclude later articles."""
    m = _AS_OF.search(question)
    if not m:
        return None
    from datetime import datetime
    raw = m.group(1).replace(",", "")
    for fmt in ("%B %d %Y", "%b %d %Y", "%d %B %Y", "%d %b %Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(raw, fmt).date().isoformat()
        except ValueError:
            continue
    return None


def with_date_limit(question: str, filters: Filters | None) -> Filters | None:
    """An "as of <date>" question excludes later articles, unless the caller set date_to."""
    import dataclasses as dc

    limit = date_limit(question)
    if limit and not (filters and filters.date_to):
        return dc.replace(filters or Filters(), date_to=limit)
    return filters


class HybridRetriever:
    """Dense (Chroma via llama-index) + BM25, fused by RRF, reranked, near-duplicates collapsed."""

    MODES = ("hybrid", "dense", "keyword")

    def __init__(self, settings: Settings, store: ChromaStore, embedder: Embedder,
                 keyword_db: str) -> None:
        from index.keyword import KeywordSearcher
        from rag import fusion

        self.settings = settings
        self.store = store
        self.keyword = KeywordSearcher(keyword_db)
        self.dense = DenseRetriever(store, embedder, passages=self._passages)
        self.weights = fusion.RerankWeights()
        self.sentences = fusion.SentenceSimilarity(self.dense.embed_texts)
        # hybrid searches run BM25 here, beside the question's embedding and dense search
        # (ONNX Runtime and numpy's scoring release the GIL): at 1M chunks, where every word
        # of a question is common, BM25 alone is a noticeable share of a question's time
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="newscite-bm25")

    def close(self) -> None:
        """Stop the keyword search's worker threads (they are idle between searches)."""
        self._pool.shutdown(wait=True)

    def search(self, query: str, k: int, filters: Filters | None = None, *,
               mode: str = "hybrid", rerank: bool | None = None, collapse: bool | None = None,
               weights: RerankWeights | None = None) -> list[Hit]:
        """The k best passages; `weights` overrides `self.weights` for this search."""
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {self.MODES}")
        s = self.settings
        hits = self.candidates(query, max(s.candidates, k), with_date_limit(query, filters), mode)
        return self.second_stage(query, hits, k,
                                 rerank=s.rerank if rerank is None else rerank,
                                 collapse=s.collapse_duplicates if collapse is None else collapse,
                                 weights=weights)

    def candidates(self, query: str, n: int, filters: Filters | None = None,
                   mode: str = "hybrid") -> list[Hit]:
        """The n best chunks by reciprocal rank fusion of dense and BM25 rankings."""
        from rag import fusion

        s = self.settings
        rankings: dict[str, list[str]] = {}
        by_id: dict[str, Hit] = {}
        keyword = None
        if mode == "hybrid":  # BM25 on another thread while the question is embedded
            keyword = self._pool.submit(self._keyword_ranking, query, n, filters)
        if mode in ("hybrid", "dense"):
            # only chunks the manifest has committed come back: Chroma may hold chunks of an
            # ingest that is running or died before committing, or of a replaced article
            dense = self.dense.search(query, n, filters)
            rankings["dense"] = [h.chunk_id for h in dense]
            by_id.update({h.chunk_id: h for h in dense})
        if mode in ("hybrid", "keyword"):
            rankings["keyword"] = (keyword.result() if keyword is not None
                                   else self._keyword_ranking(query, n, filters))
        fused = fusion.rrf(rankings, {"dense": s.dense_weight, "keyword": s.keyword_weight},
                           s.rrf_k)
        # texts of keyword-only hits are fetched for the fused top n only, not for all of them
        out: list[Hit] = []
        start = 0
        while len(out) < n and start < len(fused):
            window = fused[start:start + n - len(out)]
            by_id.update(self._keyword_hits([cid for cid, _ in window if cid not in by_id]))
            out += [by_id[cid].rescored(score, {**by_id[cid].scores, "rrf": score})
                    for cid, score in window if cid in by_id]
            start += len(window)
        return out

    def _keyword_ranking(self, query: str, n: int, filters: Filters | None) -> list[str]:
        f = filters or Filters()
        return [h.chunk_id for h in self.keyword.search(
            query, n, sources=f.sources, article_ids=f.article_ids,
            date_from=published_ts(f.date_from), date_to=published_ts(f.date_to))]

    def _passages(self, chunk_ids: Sequence[str]) -> dict[str, Hit]:
        """The manifest's passages; their stored sentence terms go to the reranker's cache."""
        from rag import fusion

        return self.keyword.passages(chunk_ids, stored_terms=fusion.remember)

    def _keyword_hits(self, missing: list[str]) -> dict[str, Hit]:
        """Keyword-only hits: text and metadata from the manifest (no Chroma round trip), and
        from Chroma for ids the manifest cannot place."""
        out = self._passages(missing)
        missing = [cid for cid in missing if cid not in out]
        if missing:
            got = self.store.collection.get(ids=missing, include=["documents", "metadatas"])
            for cid, doc, meta in zip(got["ids"], got["documents"] or [],
                                      got["metadatas"] or []):
                out[cid] = hit_from_chroma(cid, doc, meta)
        return out

    def search_pool(self, query: str, k: int, pool: int, filters: Filters | None = None
                    ) -> tuple[list[Hit], list[Hit]]:
        """The k best passages, exactly as `search` gives them, and from the same ranking the
        `pool` best (a wider read for the news desk), at the cost of one search."""
        s = self.settings
        hits = self.candidates(query, max(s.candidates, k, pool),
                               with_date_limit(query, filters), "hybrid")
        ranked = self.rank(query, hits, rerank=s.rerank)
        return (self.keep(ranked, k, s.collapse_duplicates),
                self.keep(ranked, max(k, pool), s.collapse_duplicates))

    def rank(self, query: str, hits: list[Hit], *, rerank: bool = True,
             weights: RerankWeights | None = None) -> list[Hit]:
        """The fused candidates reranked (as they are without `rerank`)."""
        from rag import fusion

        if rerank:
            w = weights or self.weights
            semantic = self.sentences.best(self.dense.embed_query(query),
                                           [h.text for h in hits]) if w.semantic else None
            hits = fusion.rerank(query, hits, w, semantic)
        return hits

    def second_stage(self, query: str, hits: list[Hit], k: int, *, rerank: bool = True,
                     collapse: bool = True, weights: RerankWeights | None = None) -> list[Hit]:
        """Rerank the fused candidates, collapse near-duplicates, keep k (+ 2 other outlets)."""
        return self.keep(self.rank(query, hits, rerank=rerank, weights=weights), k, collapse)

    @staticmethod
    def keep(hits: list[Hit], k: int, collapse: bool = True) -> list[Hit]:
        """The k best of ranked hits; with `collapse`, near-duplicates folded (`also_in`) and
        a couple of other outlets' copies of the kept passages after them."""
        from rag import fusion

        if collapse:
            unique, dups = fusion.collapse(hits)
            kept = {h.article_id for h in unique[:k]}
            # a couple of other outlets' copies of the kept passages stay citable, after the rest
            extra = [d for d in dups if d.article_id not in kept][:2]
            return unique[:k] + extra
        return hits[:k]


def as_llama_retriever(retriever: HybridRetriever, k: int, filters: Filters | None = None
                       ) -> BaseRetriever:
    """The hybrid retriever as a llama-index BaseRetriever, for llama-index query/chat engines.

    Nodes keep newscite's chunk id, exact offsets (`start_char_idx`/`end_char_idx` into the
    article text) and metadata; only title, outlet and date reach an LLM prompt or an
    embedding, as with the project's own engines (ids and URLs are not evidence).
    """
    from llama_index.core.retrievers import BaseRetriever
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

    hidden = ["article_id", "url"]

    class NewsciteRetriever(BaseRetriever):
        def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
            hits = retriever.search(query_bundle.query_str, k, filters)
            return [NodeWithScore(node=TextNode(
                id_=h.chunk_id, text=h.text, start_char_idx=h.start, end_char_idx=h.end,
                metadata={"article_id": h.article_id, "title": h.title, "source": h.source or "",
                          "published": h.published or "", "url": h.url or ""},
                excluded_llm_metadata_keys=hidden, excluded_embed_metadata_keys=hidden),
                score=h.score) for h in hits]

    return NewsciteRetriever()
