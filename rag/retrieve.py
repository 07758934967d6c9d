"""Dense retrieval through llama-index over the Chroma collection, with metadata filters."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from index.embed import Embedder
from index.store import ChromaStore, published_ts
from rag.types import Filters, Hit

logger = logging.getLogger(__name__)


def make_llama_embedding(embedder: Embedder) -> Any:
    """Wrap an Embedder as a llama-index BaseEmbedding (imported lazily: llama-index is heavy)."""
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from pydantic import PrivateAttr

    class _Embedding(BaseEmbedding):
        _embedder: Any = PrivateAttr()

        def __init__(self, inner: Embedder) -> None:
            super().__init__(model_name=inner.name, embed_batch_size=32)
            self._embedder = inner

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._embedder.embed([query])[0].tolist()

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._embedder.embed([text])[0].tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return self._embedder.embed(texts).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

    return _Embedding(embedder)


def to_llama_filters(filters: Filters | None) -> Any:
    """Filters -> llama-index MetadataFilters (None when empty)."""
    if filters is None or filters.is_empty():
        return None
    from llama_index.core.vector_stores.types import FilterOperator, MetadataFilter, MetadataFilters

    parts: list[MetadataFilter] = []
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


def node_to_hit(node: Any, score: float) -> Hit:
    meta = node.metadata
    return Hit(
        chunk_id=node.node_id,
        article_id=str(meta.get("article_id", "")),
        title=str(meta.get("title", "")),
        text=node.get_content(),
        start=int(meta.get("start", 0)),
        end=int(meta.get("end", 0)),
        score=float(score),
        source=meta.get("source") or None,
        published=meta.get("published") or None,
        url=meta.get("url") or None,
        position=int(meta.get("position", 0)),
        scores={"dense": float(score)},
    )


class DenseRetriever:
    """Top-k chunks by embedding similarity, via llama-index's VectorStoreIndex over Chroma."""

    def __init__(self, store: ChromaStore, embedder: Embedder) -> None:
        from llama_index.core import VectorStoreIndex
        from llama_index.vector_stores.chroma import ChromaVectorStore

        self.embedder = embedder
        self.vector_store = ChromaVectorStore(chroma_collection=store.collection)
        self.index = VectorStoreIndex.from_vector_store(
            self.vector_store, embed_model=make_llama_embedding(embedder))

    def search(self, query: str, k: int, filters: Filters | None = None,
               query_vector: Sequence[float] | None = None) -> list[Hit]:
        from llama_index.core.schema import QueryBundle

        retriever = self.index.as_retriever(similarity_top_k=k, filters=to_llama_filters(filters))
        bundle = QueryBundle(query_str=query,
                             embedding=list(query_vector) if query_vector is not None else None)
        nodes = retriever.retrieve(bundle)
        return [node_to_hit(n.node, n.score or 0.0) for n in nodes]
