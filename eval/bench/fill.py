"""Fill large benchmark stores without the model: chunk vectors composed from real sentence vectors.

Each chunk's vector is the normalised mean of the embeddings of the sample sentences it was made
from (the pool is embedded once), so neighbourhoods look like real MiniLM space. Chunks go
straight into Chroma (bulk upserts) and the manifest/keyword rows through the manifest's own
bulk writer, exactly as an ingest would leave them.
"""
from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from eval.bench.corpus import Generator, SynthArticle

logger = logging.getLogger(__name__)


def pool_vectors(gen: Generator) -> np.ndarray:
    from index.embed import MiniLMEmbedder
    return MiniLMEmbedder().embed(gen.pool)


def to_article(a: SynthArticle) -> Any:
    from core.records import Article

    text = a.text
    digest = hashlib.sha256(f"{a.title}\n{text}".encode()).hexdigest()
    path = f"/bench/{a.name}.json"
    return Article(id=digest[:16], title=a.title, text=text, path=path, key=path,
                   source=a.source, url=f"https://news.example/{a.name}", published=a.published,
                   content_hash=digest)


def chunk_vectors(a: SynthArticle, chunks: list[Any], pool: np.ndarray) -> np.ndarray:
    offsets = a.sentence_offsets()
    out = np.empty((len(chunks), pool.shape[1]), dtype=np.float32)
    for i, c in enumerate(chunks):
        idx = [p for s, e, p in offsets if s < c.end and e > c.start] or [offsets[0][2]]
        v = pool[idx].mean(axis=0)
        out[i] = v / (np.linalg.norm(v) or 1.0)
    return out


def fill(data_dir: Path, chunks: int, gen: Generator, pool: np.ndarray, *,
         chroma_url: str | None = None, collection: str = "newscite", stock: str | None = None,
         progress: bool = True) -> dict[str, Any]:
    """Write about `chunks` chunks into a fresh index at data_dir (and, when `stock` names a
    collection, the same chunks in llama-index's own node format for the stock retriever)."""
    from index.chunk import chunk_article
    from index.embed import MINILM
    from index.keyword import KeywordSearcher
    from index.manifest import Manifest
    from index.store import ChromaStore

    started = time.perf_counter()
    store = ChromaStore(data_dir, chroma_url, collection, MINILM, 384)
    manifest = Manifest(data_dir / "manifest.sqlite")
    manifest.set_meta({"embed_model": MINILM, "dim": "384", "chunking": "700/1"})
    stock_store = None
    if stock:
        from llama_index.vector_stores.chroma import ChromaVectorStore
        col = store.client.get_or_create_collection(stock, embedding_function=None)
        stock_store = ChromaVectorStore(chroma_collection=col)
    step = store.batch_size()
    done = 0
    pending: list[tuple[Any, list[Any], np.ndarray]] = []
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=chunks, unit="chunk", desc=f"filling {data_dir.name}", leave=False)

    def flush() -> None:
        articles = {a.id: a for a, _, _ in pending}
        all_chunks = [c for _, cs, _ in pending for c in cs]
        vectors = np.concatenate([v for _, _, v in pending])
        store.upsert(articles, all_chunks, vectors)
        manifest.commit_articles([(a, cs) for a, cs, _ in pending],
                                 {a.key: a.id for a, _, _ in pending})
        if stock_store is not None:
            _stock_add(stock_store, articles, all_chunks, vectors)
        pending.clear()

    for synth in gen.articles():
        if done >= chunks:
            break
        article = to_article(synth)
        cs = chunk_article(article)
        pending.append((article, cs, chunk_vectors(synth, cs, pool)))
        done += len(cs)
        if bar is not None:
            bar.update(len(cs))
        if sum(len(p[1]) for p in pending) >= step:
            flush()
    if pending:
        flush()
    if bar is not None:
        bar.close()
    t = time.perf_counter()
    searcher = KeywordSearcher(str(manifest.path))
    searcher.refresh()  # builds the keyword index once and writes its snapshot
    searcher.save_snapshot()
    keyword_build = time.perf_counter() - t
    manifest.close()
    return {"chunks": done, "seconds": time.perf_counter() - started,
            "keyword_build_seconds": keyword_build}


def _stock_add(vector_store: Any, articles: dict[str, Any], chunks: list[Any],
               vectors: np.ndarray) -> None:
    """The same chunks as llama-index TextNodes (its metadata format, `_node_content`)."""
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

    nodes = []
    for c, v in zip(chunks, vectors):
        a = articles[c.article_id]
        node = TextNode(id_=c.id, text=c.text, embedding=v.tolist(),
                        metadata={"file_path": a.path, "file_name": Path(a.path).name,
                                  "file_type": "application/json", "file_size": len(a.text)},
                        start_char_idx=c.start, end_char_idx=c.end)
        node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=a.path)
        nodes.append(node)
    vector_store.add(nodes)
