"""One benchmark measurement in its own process (so peak memory is its own); prints one JSON line.

`python -m eval.bench.worker KIND --data-dir D [--corpus C] ...` with KIND one of: encode (the
bare model), ingest (newscite), stock-ingest (stock LlamaIndex), query (newscite retrieval and
extractive answers), stock-query (stock LlamaIndex retrieval), findable (known-item recall of
an ingested store, newscite's or stock's: `--texts`).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

STOCK_COLLECTION = "stock"
# SentenceSplitter(chunk_size=200, chunk_overlap=25) cuts the synthetic corpora into about as
# many nodes as newscite's 700-character chunks (1,009 nodes for 1,005 chunks in a direct
# count, 1,129 in the benchmark's pipeline run): about the same work.
STOCK_MATCHED_TOKENS = 200
STOCK_MATCHED_OVERLAP = 25


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def peak_rss_mb() -> float:
    """Peak resident memory of this process (VmHWM: ru_maxrss would carry over the parent's
    peak across fork + exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def latency(values: list[float]) -> dict[str, float]:
    """Median, p95 and mean in milliseconds."""
    if not values:
        return {"p50_ms": 0.0, "p95_ms": 0.0, "mean_ms": 0.0, "n": 0}
    from eval.metrics import median_p95
    p50, p95 = median_p95(values)
    return {"p50_ms": round(p50 * 1000, 2), "p95_ms": round(p95 * 1000, 2),
            "mean_ms": round(statistics.fmean(values) * 1000, 2), "n": len(values)}


class Clock:
    """Wall and process CPU seconds of a block."""

    def __enter__(self) -> "Clock":
        self.wall, self.cpu = time.perf_counter(), cpu_seconds()
        return self

    def __exit__(self, *_: Any) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = cpu_seconds() - self.cpu


def _embedder(preload: bool) -> Any:
    from index.embed import MiniLMEmbedder

    embedder = MiniLMEmbedder()
    if preload:
        embedder.embed(["warm up the model"])
    return embedder


def _settings(args: argparse.Namespace) -> Any:
    from core.settings import Settings
    return Settings(data_dir=Path(args.data_dir), chroma_url=args.chroma_url or None,
                    collection=args.collection, engine="extractive")


def newscite_texts(corpus: Path) -> list[str]:
    """Exactly the texts newscite's ingest embeds for a corpus."""
    from core.records import Article
    from index.chunk import chunk_article, embed_text
    from index.load import load_paths

    return [embed_text(a.title, c.text) for a in load_paths([corpus]) if isinstance(a, Article)
            for c in chunk_article(a)]


def stock_documents(corpus: Path) -> list[Any]:
    """The articles as a new LlamaIndex user feeds them: Documents with file metadata, stable
    ids (the path) so a re-run can skip unchanged ones."""
    from llama_index.core import Document
    from llama_index.core.readers.file.base import default_file_metadata_func

    from eval.dataset import load_articles

    return [Document(id_=a.path, text=a.text, metadata=default_file_metadata_func(a.path))
            for a in load_articles([corpus])]


def stock_splitter(chunk_tokens: int | None) -> Any:
    """LlamaIndex's default SentenceSplitter, or one cut to `chunk_tokens` (with a
    sentence-sized overlap) so that stock embeds as many chunks as newscite does."""
    from llama_index.core.node_parser import SentenceSplitter

    if chunk_tokens is None:
        return SentenceSplitter()
    return SentenceSplitter(chunk_size=chunk_tokens, chunk_overlap=STOCK_MATCHED_OVERLAP)


def do_encode(args: argparse.Namespace) -> dict[str, Any]:
    kind = args.texts
    texts = newscite_texts(Path(args.corpus))
    if kind == "stock":
        splitter = stock_splitter(args.stock_chunk_tokens)
        nodes = splitter.get_nodes_from_documents(stock_documents(Path(args.corpus)))
        texts = [n.get_content(metadata_mode="embed") for n in nodes]
    embedder = _embedder(True)
    with Clock() as c:
        embedder.model.encode(texts, batch_size=embedder.batch_size, normalize_embeddings=True,
                              convert_to_numpy=True, show_progress_bar=False)
    return {"texts": kind, "chunks": len(texts), "seconds": c.wall, "cpu_seconds": c.cpu,
            "batch_size": embedder.batch_size, "peak_rss_mb": peak_rss_mb(),
            **word_pieces(embedder.model, texts)}


def word_pieces(model: Any, texts: Sequence[str]) -> dict[str, int]:
    """The texts' word pieces, and how many of them the model reads: it truncates each text
    to `max_seq_length` tokens, two of which are [CLS] and [SEP]."""
    limit = model.max_seq_length - 2
    lengths = [len(ids) for ids in model.tokenizer(list(texts), add_special_tokens=False,
                                                   verbose=False)["input_ids"]]
    return {"word_pieces": sum(lengths), "word_pieces_read": sum(min(n, limit) for n in lengths),
            "texts_truncated": sum(n > limit for n in lengths)}


def _model_loaded(embedder: Any) -> bool:
    """Whether the process loaded the embedding model: PyTorch's, or the ONNX session."""
    from index.embed import MiniLMEmbedder
    from index.onnx_embed import OnnxMiniLM

    return (MiniLMEmbedder._model is not None
            or isinstance(embedder, OnnxMiniLM) and embedder.active == "onnx")


def do_ingest(args: argparse.Namespace) -> dict[str, Any]:
    from rag.assistant import Assistant

    assistant = Assistant(_settings(args))
    if args.preload:  # the model newscite's ingest embeds with (ONNX unless disabled)
        assistant.ingest_embedder.embed(["warm up the model"])
    with Clock() as c:
        report = assistant.ingest([Path(args.corpus)])
    assistant.close()
    return {"chunks": report.chunks_embedded, "seconds": c.wall, "cpu_seconds": c.cpu,
            "summary": report.summary(), "timings": report.timings,
            "embedder": type(assistant.ingest_embedder).__name__,
            "model_loaded": _model_loaded(assistant.ingest_embedder),
            "torch_imported": "torch" in sys.modules, "peak_rss_mb": peak_rss_mb()}


def _stock_pipeline(data_dir: Path, embedder: Any,
                    chunk_tokens: int | None = None) -> tuple[Any, Any, Any]:
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from llama_index.core.ingestion import DocstoreStrategy, IngestionPipeline
    from llama_index.core.storage.docstore import SimpleDocumentStore
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from rag.retrieve import make_llama_embedding

    client = chromadb.PersistentClient(path=str(data_dir / "chroma"),
                                       settings=ChromaSettings(anonymized_telemetry=False))
    collection = client.get_or_create_collection(STOCK_COLLECTION, embedding_function=None)
    store = ChromaVectorStore(chroma_collection=collection)
    pipeline = IngestionPipeline(
        transformations=[stock_splitter(chunk_tokens), make_llama_embedding(embedder)],
        vector_store=store, docstore=SimpleDocumentStore(),
        docstore_strategy=DocstoreStrategy.UPSERTS)
    cache = data_dir / "pipeline"
    if cache.is_dir():
        pipeline.load(str(cache))
    return pipeline, collection, cache


def do_stock_ingest(args: argparse.Namespace) -> dict[str, Any]:
    from index.embed import MiniLMEmbedder

    embedder = _embedder(args.preload)
    data_dir = Path(args.data_dir)
    with Clock() as c:
        pipeline, collection, cache = _stock_pipeline(data_dir, embedder,
                                                      args.stock_chunk_tokens)
        nodes = pipeline.run(documents=stock_documents(Path(args.corpus)), show_progress=False)
        pipeline.persist(str(cache))
    return {"chunks": len(nodes), "stored": collection.count(), "seconds": c.wall,
            "cpu_seconds": c.cpu, "model_loaded": MiniLMEmbedder._model is not None,
            "peak_rss_mb": peak_rss_mb()}


def _questions(args: argparse.Namespace) -> list[str]:
    from eval.bench.corpus import questions
    return questions(args.questions)


def _warm_up(ask: Any, timed: Sequence[str]) -> dict[str, Any]:
    """An untimed-for-the-table pass over as many *other* questions (no per-question cache
    can help the timed ones), so that the timed passes see a process that has been serving
    for a while: term weights, Chroma's and the OS's caches are warm. Its own latency is
    reported as the first pass."""
    from eval.bench.corpus import questions

    seen = set(timed)
    others = [q for q in questions(3 * len(timed), seed=14) if q not in seen]
    times = []
    for q in others[:len(timed)]:
        t = time.perf_counter()
        ask(q)
        times.append(time.perf_counter() - t)
    return latency(times)


def do_query(args: argparse.Namespace) -> dict[str, Any]:
    from rag.assistant import Assistant

    qs = _questions(args)
    assistant = Assistant(_settings(args))
    assistant.query_embedder.embed(["warm up the model"])  # as `newscite serve` does
    with Clock() as cold:
        assistant.retrieve("warm up: opening the indexes")
    prefetch = assistant.prefetch()  # as `newscite serve` does (in the background there too)
    first_pass = _warm_up(assistant.retrieve, qs)
    # the timed passes measure a server that has been up a while: its prefetch has finished
    # (the first pass, reported apart, overlaps it as a server's first questions do)
    with Clock() as waited:
        prefetch.join()
    retrieve, answer = [], []
    for q in qs:
        t = time.perf_counter()
        assistant.retrieve(q)
        retrieve.append(time.perf_counter() - t)
    # answers are timed from cold per-question caches (query vectors, passage analyses)
    from rag import fusion
    assistant.retriever.dense._vectors.clear()
    fusion._CACHE.clear()
    refused = 0
    for q in qs:
        t = time.perf_counter()
        got = assistant.ask(q, engine="extractive")
        answer.append(time.perf_counter() - t)
        refused += got.refused
    return {"cold_first_query_s": cold.wall, "first_pass": first_pass,
            "prefetch_wait_s": round(waited.wall, 3),
            "retrieve": latency(retrieve), "answer": latency(answer), "refused": refused,
            "questions": len(qs), "peak_rss_mb": peak_rss_mb()}


def _stock_retriever(args: argparse.Namespace, embedder: Any, k: int) -> Any:
    """Stock LlamaIndex's top-k retriever over the stock collection in `--data-dir`."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from llama_index.core import VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from rag.retrieve import make_llama_embedding

    client = chromadb.PersistentClient(path=str(Path(args.data_dir) / "chroma"),
                                       settings=ChromaSettings(anonymized_telemetry=False))
    collection = client.get_collection(args.stock_collection, embedding_function=None)
    index = VectorStoreIndex.from_vector_store(ChromaVectorStore(chroma_collection=collection),
                                               embed_model=make_llama_embedding(embedder))
    return index.as_retriever(similarity_top_k=k)


def do_stock_query(args: argparse.Namespace) -> dict[str, Any]:
    qs = _questions(args)
    embedder = _embedder(True)
    with Clock() as cold:
        retriever = _stock_retriever(args, embedder, 6)
        retriever.retrieve("warm up: opening the indexes")
    first_pass = _warm_up(retriever.retrieve, qs)
    retrieve = []
    for q in qs:
        t = time.perf_counter()
        retriever.retrieve(q)
        retrieve.append(time.perf_counter() - t)
    return {"cold_first_query_s": cold.wall, "first_pass": first_pass,
            "retrieve": latency(retrieve), "questions": len(qs), "peak_rss_mb": peak_rss_mb()}


def known_items(corpus: Path, n: int, seed: int = 17) -> list[str]:
    """`n` sentences of the corpus's articles (seeded; 60 to 400 characters, no repeats): each
    is asked as it is, and the system should return a passage holding it."""
    import random

    from core.text import sentence_spans
    from eval.dataset import load_articles

    sentences = sorted({" ".join(a.text[s:e].split()) for a in load_articles([corpus])
                        for s, e in sentence_spans(a.text) if 60 <= e - s <= 400})
    return random.Random(f"{seed}:known-items").sample(sentences, min(n, len(sentences)))


def do_findable(args: argparse.Namespace) -> dict[str, Any]:
    """Known-item recall: the share of sampled corpus sentences whose own text, asked as the
    question, brings back a passage holding it among the top 5 by embedding alone. It shows
    how much of the text the store's vectors cover: a chunk the model read only in part can
    be found only by its beginning."""
    sentences = known_items(Path(args.corpus), args.questions)
    if args.texts == "stock":
        retriever = _stock_retriever(args, _embedder(True), 5)

        def top5(q: str) -> list[str]:
            return [n.node.get_content() for n in retriever.retrieve(q)]
    else:
        from rag.assistant import Assistant

        dense = Assistant(_settings(args)).retriever.dense

        def top5(q: str) -> list[str]:
            return [h.text for h in dense.search(q, 5)]

    found = sum(any(q in " ".join(t.split()) for t in top5(q)) for q in sentences)
    return {"texts": args.texts, "questions": len(sentences), "found": found,
            "recall_at_5": found / len(sentences) if sentences else None}


KINDS = {"encode": do_encode, "ingest": do_ingest, "stock-ingest": do_stock_ingest,
         "query": do_query, "stock-query": do_stock_query, "findable": do_findable}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval.bench.worker")
    p.add_argument("kind", choices=sorted(KINDS))
    p.add_argument("--data-dir", required=True)
    p.add_argument("--corpus")
    p.add_argument("--chroma-url")
    p.add_argument("--collection", default="newscite")
    p.add_argument("--stock-collection", default=STOCK_COLLECTION)
    p.add_argument("--texts", default="newscite", choices=["newscite", "stock"])
    p.add_argument("--stock-chunk-tokens", type=int, metavar="N",
                   help="stock SentenceSplitter chunk size (default: LlamaIndex's own)")
    p.add_argument("--questions", type=int, default=200)
    p.add_argument("--preload", action="store_true", help="load the model before timing")
    args = p.parse_args(argv)
    import logging
    logging.basicConfig(level=logging.WARNING)
    result = KINDS[args.kind](args)
    print("BENCH " + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
