"""The stock LlamaIndex pipeline a new user writes, scored with the same metrics as newscite."""
from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.records import Article, Hit
from eval.citations import draft_citations, from_draft
from eval.dataset import load_articles, quote_spans
from eval.systems import Config, History, Reply
from index.embed import Embedder

logger = logging.getLogger(__name__)

TOP_K = 5  # CitationQueryEngine's similarity_top_k, as in the docs' example
# stock prompts are long (whole 1,024-token nodes, refine calls): a generous limit, so the
# baseline is scored on its answers rather than on newscite's default 120 s timeout
LLM_TIMEOUT = 900.0
_SOURCE_PREFIX = re.compile(r"^\s*Source \d+:\s*\n?")


def make_llm(settings: Any) -> Any:
    """The project's llama-index wrapper (`rag.llm.llamaindex.EngineLLM`) over the local engine."""
    from rag.llm.llamaindex import EngineLLM
    from rag.llm.local import LocalEngine

    return EngineLLM(LocalEngine(settings))


class StockLlamaIndex:
    """`Document`s with SimpleDirectoryReader's default metadata, default `SentenceSplitter`,
    `VectorStoreIndex` over its own embedded Chroma, MiniLM, `CitationQueryEngine` top-5.

    Documents are built from the same loaded articles newscite indexes (same body text), so
    spans compare; everything else is llama-index's defaults. It has no chat memory: a
    follow-up question is asked as it is.
    """

    def __init__(self, config: Config, data_dir: Path, embedder: Embedder,
                 with_llm: bool = False) -> None:
        self.config = config
        self.data_dir = data_dir
        self.embedder = embedder
        self.with_llm = with_llm
        self.answers = with_llm
        self.notes: list[str] = []
        self.index: Any = None
        self.engine: Any = None
        self.client: Any = None
        self.retrievers: dict[int, Any] = {}
        self.articles: dict[str, Article] = {}  # llama-index document id -> article

    def ingest(self, paths: Sequence[Path]) -> float:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from llama_index.core import Document, StorageContext, VectorStoreIndex
        from llama_index.core.node_parser import SentenceSplitter
        from llama_index.core.readers.file.base import default_file_metadata_func
        from llama_index.vector_stores.chroma import ChromaVectorStore

        from rag.retrieve import make_llama_embedding

        started = time.perf_counter()
        documents = []
        for article in load_articles(list(paths)):
            doc = Document(text=article.text, metadata=default_file_metadata_func(article.path))
            self.articles[doc.doc_id] = article
            documents.append(doc)
        self.client = chromadb.PersistentClient(
            path=str(self.data_dir / "chroma"),
            settings=ChromaSettings(anonymized_telemetry=False))
        # embedding_function=None: vectors come from llama-index; nothing may download a model
        collection = self.client.get_or_create_collection("stock", embedding_function=None)
        storage = StorageContext.from_defaults(
            vector_store=ChromaVectorStore(chroma_collection=collection))
        self.index = VectorStoreIndex.from_documents(
            documents, storage_context=storage, embed_model=make_llama_embedding(self.embedder),
            transformations=[SentenceSplitter()], show_progress=False)
        if self.with_llm:
            from llama_index.core.query_engine import CitationQueryEngine

            from core.settings import Settings

            self.engine = CitationQueryEngine.from_args(
                self.index, llm=make_llm(Settings(engine="local", llm_timeout=LLM_TIMEOUT)),
                similarity_top_k=TOP_K)
        seconds = time.perf_counter() - started
        logger.info("stock llama-index: %d documents, %d nodes in %.1fs", len(documents),
                    collection.count(), seconds)
        return seconds

    # --- nodes -> Hits in article coordinates -------------------------------------------------
    def _hit(self, scored: Any, strip_prefix: bool = False) -> Hit:
        node = scored.node
        text = node.get_content()
        if strip_prefix:
            text = _SOURCE_PREFIX.sub("", text).rstrip("\n")
        article = self.articles.get(node.ref_doc_id or "")
        start = end = 0
        if article is not None:
            s, e = node.start_char_idx, node.end_char_idx
            if s is not None and e is not None and article.text[s:e] == text:
                start, end = s, e
            else:
                spans = quote_spans(article.text, text.strip())
                if spans:
                    start, end = spans[0]
                    text = article.text[start:end]
                else:
                    logger.debug("node text not found in article %s", article.id)
        return Hit(chunk_id=node.node_id, article_id=article.id if article else "",
                   title=article.title if article else "", text=text, start=start, end=end,
                   score=float(scored.score or 0.0),
                   source=article.source if article else None,
                   published=article.published if article else None)

    def retrieve(self, question: str, k: int) -> list[Hit]:
        retriever = self.retrievers.get(k)
        if retriever is None:
            retriever = self.retrievers[k] = self.index.as_retriever(similarity_top_k=k)
        return [self._hit(n) for n in retriever.retrieve(question)]

    def reply(self, question: str, history: History) -> Reply | None:
        if self.engine is None:
            return None
        from llama_index.core.schema import QueryBundle

        from rag.cite import is_refusal

        started = time.perf_counter()
        bundle = QueryBundle(query_str=question)
        nodes = self.engine.retrieve(bundle)
        retrieved = time.perf_counter()
        response = self.engine.synthesize(bundle, nodes)
        done = time.perf_counter()
        text = str(response.response or "").strip()
        hits = [self._hit(n, strip_prefix=True) for n in response.source_nodes]
        refused = is_refusal(text)
        sentences = () if refused else tuple(from_draft(text, hits))
        return Reply(text=text, refused=refused, sentences=sentences,
                     citations=draft_citations(sentences), standalone=question,
                     engine="stock-llamaindex",
                     timings={"retrieve": retrieved - started, "generate": done - retrieved,
                              "total": done - started})

    def close(self) -> None:
        self.engine = None
        self.retrievers.clear()
        self.index = None
        self.client = None
