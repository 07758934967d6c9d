"""The public Python API: `Assistant(settings)` ingests articles and answers questions."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Final

from core.errors import ConfigError, EngineError, InputError, RagError
from core.records import (
    REFUSAL,
    Answer,
    Article,
    Filters,
    Hit,
    IngestReport,
    Progress,
    with_as_of,
)
from core.settings import Settings
from index.embed import Embedder, get_embedder
from index.manifest import ArticleInfo, Manifest
from index.onnx_embed import OnnxMiniLM, onnx_embedder
from rag.engine import Condenser, Engine, Loadable

if TYPE_CHECKING:
    from index.feeds import FeedStore
    from index.fetch import FetchPolicy
    from index.pipeline import Indexer
    from index.store import ChromaStore
    from index.verify import Problem, RebuildReport
    from rag.cite import Similarity
    from rag.desk.compare import Comparison
    from rag.desk.timeline import Timeline
    from rag.fusion import RerankWeights
    from rag.retrieve import HybridRetriever

logger = logging.getLogger(__name__)

DESK_K = 12  # passages a comparison or a timeline reads (more outlets than one answer needs)
History = Sequence[tuple[str, str]]  # earlier (question, answer text) turns, oldest first


@dataclass(frozen=True)
class StreamEvent:
    """One event of `Assistant.ask_stream`: with a generating engine a 'quick' Answer first,
    then 'token' pieces of text, then one 'final' Answer."""

    kind: str  # "quick" | "token" | "final"
    text: str = ""
    answer: Answer | None = None


QUICK_NOTICE: Final = "Quick answer, quoted from the articles: the full answer is being written."


def _kept(quick: Answer, notices: Sequence[str], why: str, timings: dict[str, float]) -> Answer:
    """The quick answer as the final one, saying why the generated answer was not used."""
    return replace(quick, notices=(*notices, why), timings=dict(timings))


class Assistant:
    """Ingest news articles and answer questions about them with verified citations."""

    def __init__(self, settings: Settings | None = None, embedder: Embedder | None = None) -> None:
        self.settings = settings or Settings()
        self.embedder = embedder or get_embedder("minilm", self.settings.embed_batch_size)
        # the same model on ONNX Runtime (same vectors): questions and ingest go through it,
        # so neither a serving process nor an ingest has to import torch. Both sides share
        # one session, created on first use (see OnnxMiniLM.load)
        onnx = onnx_embedder(self.embedder, self.settings.cache_dir)
        self.query_embedder = onnx if self.settings.onnx_queries else self.embedder
        self.ingest_embedder = onnx if self.settings.onnx_ingest else self.embedder
        self._lock = threading.RLock()
        self._manifest: Manifest | None = None
        self._store: ChromaStore | None = None
        self._retriever: HybridRetriever | None = None
        self._engines: dict[str, Engine] = {}
        self._auto: str | None = None  # what engine="auto" resolved to
        self._background: Embedder | None = None  # see _background_embedder

    # --- parts, built lazily so `import rag` stays fast -------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.settings.data_dir / "manifest.sqlite"

    @property
    def manifest(self) -> Manifest:
        if self._manifest is None:
            self._manifest = Manifest(self.manifest_path)
        return self._manifest

    @property
    def store(self) -> ChromaStore:
        if self._store is None:
            from index.store import ChromaStore
            self._store = ChromaStore(self.settings.data_dir, self.settings.chroma_url,
                                      self.settings.collection, self.embedder.name,
                                      self.embedder.dim)
        return self._store

    @property
    def retriever(self) -> HybridRetriever:
        with self._lock:
            if self._retriever is None:
                from rag.retrieve import HybridRetriever
                self._retriever = HybridRetriever(self.settings, self.store,
                                                  self.query_embedder,
                                                  str(self.manifest.path))
            return self._retriever

    @contextmanager
    def _indexer(self, embedder: Embedder | None = None) -> Iterator[Indexer]:
        """An Indexer writing through a manifest connection of its own: questions answered
        meanwhile read the manifest's committed state through `self.manifest`, never the
        writer's open transaction."""
        from index.pipeline import Indexer

        self.manifest  # noqa: B018 - creates the database (and its schema) first
        manifest = Manifest(self.manifest_path)
        try:
            yield Indexer(self.settings, embedder or self.ingest_embedder, manifest, self.store)
        finally:
            manifest.close()

    def _background_embedder(self) -> Embedder:
        """The ingest embedder for `ingest(..., background=True)`: its own ONNX session, so
        the threads it creates on first use inherit the low priority of the ingest thread that
        creates them, and questions keep the shared session to themselves."""
        with self._lock:
            if self._background is None:
                self._background = (onnx_embedder(self.embedder, self.settings.cache_dir)
                                    if self.settings.onnx_ingest else self.embedder)
            return self._background

    # --- ingest side --------------------------------------------------------------------------
    def ingest(self, paths: Iterable[str | Path] | str | Path,
               progress: Progress | None = None, *, background: bool = False,
               prune: bool = False) -> IngestReport:
        """Index files or folders; unchanged articles are skipped, changed ones replaced.
        Articles from files no longer in a given folder are reported (deleted with `prune`).

        `background=True` is for a server ingesting while it answers: the caller runs it on a
        low-priority thread, and it embeds on a session of its own (`_background_embedder`)."""
        if isinstance(paths, (str, Path)):
            paths = [paths]
        embedder = self._background_embedder() if background else None
        with self._indexer(embedder) as indexer:
            report = indexer.ingest(list(paths), progress=progress, prune=prune)
        for each in (self.query_embedder, self.ingest_embedder):
            if isinstance(each, OnnxMiniLM):
                each.prepare()  # export the graph if a PyTorch ingest loaded torch anyway
        return report

    # --- web pages and feeds ------------------------------------------------------------------
    @property
    def feeds(self) -> FeedStore:
        """The feed list of the data folder (feeds.json beside the manifest)."""
        from index.feeds import FeedStore
        return FeedStore(self.settings.data_dir)

    def _web(self, background: bool) -> tuple[Embedder | None, FetchPolicy]:
        from index.fetch import FetchPolicy
        return (self._background_embedder() if background else None,
                FetchPolicy.from_settings(self.settings))

    def ingest_urls(self, urls: Sequence[str], progress: Progress | None = None, *,
                    background: bool = False) -> IngestReport:
        """Fetch article pages and index them; a page's address is its identity (a changed
        page replaces its article, an unchanged one is left alone). Fetch limits and the
        private-address rule come from the settings (`fetch_*`)."""
        from index.sync import ingest_urls
        embedder, policy = self._web(background)
        with self._indexer(embedder) as indexer:
            return ingest_urls(indexer, self.feeds, list(urls), policy, progress)

    def sync(self, progress: Progress | None = None, *, only: Sequence[str] | None = None,
             background: bool = False) -> IngestReport:
        """Fetch the new and changed items of every feed (or those in `only`) and index them."""
        from index.sync import sync_feeds
        embedder, policy = self._web(background)
        with self._indexer(embedder) as indexer:
            return sync_feeds(indexer, self.feeds, policy, progress,
                              only=list(only) if only else None)

    def add_link(self, url: str, progress: Progress | None = None, *,
                 background: bool = False) -> tuple[str, IngestReport]:
        """A feed (added to the feed list and synced) or an article page (indexed), whichever
        `url` turns out to be: ("feed" | "page", report)."""
        from index.sync import add_link
        embedder, policy = self._web(background)
        with self._indexer(embedder) as indexer:
            return add_link(indexer, self.feeds, url, policy, progress)

    def delete(self, article_id: str) -> bool:
        """Remove an article and its chunks; False when no such article is indexed."""
        with self._indexer() as indexer:
            return bool(indexer.delete(article_id))

    def verify(self, probes: int | None = None) -> list[Problem]:
        """Every problem in the index: manifest, Chroma and keyword table disagreeing, stored
        chunk texts that are not their article's text (empty when all is well)."""
        from index.verify import PROBES, verify
        return verify(self.settings, self.manifest, self.store, self.embedder,
                      probes=PROBES if probes is None else probes)

    def rebuild(self, progress: Progress | None = None) -> RebuildReport:
        """Re-chunk and re-embed every stored article into a fresh collection and keyword
        table (after damage, or for new chunking settings or embedding model)."""
        from index.verify import rebuild
        with self._lock:
            self.close()  # the store and retriever refer to the collection being dropped
            self._store = None
        return rebuild(self.settings, self.manifest, self.ingest_embedder, progress)

    def export(self, path: str | Path) -> int:
        """Write every indexed article with its metadata to a JSON-lines file; the count."""
        from index.transfer import export_jsonl
        return export_jsonl(self.manifest, path)

    def import_articles(self, path: str | Path, progress: Progress | None = None
                        ) -> IngestReport:
        """Index the articles of an `export` file as they are (same ids, texts and metadata)."""
        from index.transfer import import_jsonl
        with self._indexer() as indexer:
            return import_jsonl(indexer, path, progress)

    def articles(self) -> list[ArticleInfo]:
        return self.manifest.articles()

    def article(self, article_id: str) -> Article | None:
        return self.manifest.article(article_id)

    # --- query side ---------------------------------------------------------------------------
    def retrieve(self, question: str, filters: Filters | None = None, k: int | None = None, *,
                 mode: str = "hybrid", rerank: bool | None = None,
                 collapse: bool | None = None,
                 weights: RerankWeights | None = None) -> list[Hit]:
        """Passages for a question: hybrid by default; `mode` ("hybrid", "dense", "keyword"),
        `rerank`, `collapse` and `weights` override the settings for this search."""
        return self.retriever.search(question, k or self.settings.top_k, filters, mode=mode,
                                     rerank=rerank, collapse=collapse, weights=weights)

    def engine_name(self, name: str | None = None) -> str:
        """The engine `name` stands for ('auto' resolved), without loading it."""
        name = name or self.settings.engine
        if name != "auto":
            return name
        with self._lock:
            if self._auto is None:  # installed packages do not change while we run
                from rag.llm import is_local_available
                self._auto = "local" if is_local_available() else "extractive"
            return self._auto

    def engine(self, name: str | None = None) -> Engine:
        """The answer engine by name ('auto' = local LLM when installed, else extractive)."""
        name = self.engine_name(name)
        with self._lock:
            if name not in self._engines:
                if name == "extractive":
                    # the learned sentence scorer (rag/data/scorer.json) reads question and
                    # sentence vectors from the question embedder
                    from rag.learned import LearnedExtractiveEngine
                    engine: Engine = LearnedExtractiveEngine(embed=self.query_embedder.embed)
                elif name == "local":
                    from rag.llm.local import LocalEngine
                    engine = LocalEngine(
                        self.settings, precheck=self.settings.llm_precheck,
                        refuse_below=self.settings.llm_refuse_below)
                elif name == "openai":
                    if not self.settings.openai_base_url:
                        raise ConfigError("the openai engine needs openai_base_url "
                                          "(NEWSCITE_OPENAI_BASE_URL or --openai-url)")
                    from rag.llm.openai import OpenAIEngine
                    engine = OpenAIEngine(
                        self.settings, precheck=self.settings.llm_precheck,
                        refuse_below=self.settings.llm_refuse_below)
                else:
                    raise ConfigError(f"unknown engine {name!r}")
                self._engines[name] = engine
            return self._engines[name]

    def warm_up(self) -> None:
        """Load the question embedder and the default engine now, not on the first question,
        and start reading the manifest into the OS page cache (see `prefetch`)."""
        self.query_embedder.embed(["warm up"])
        self.prefetch()
        self.load_engine()

    def load_engine(self, name: str | None = None) -> Engine:
        """The engine `name` (default: the settings' engine), its model loaded now when it has
        one (`Loadable`), rather than on its first question."""
        engine = self.engine(name)
        if isinstance(engine, Loadable):
            engine.load()
        return engine

    def prefetch(self) -> threading.Thread:
        """Start reading the manifest database (every hit's text and metadata come from it)
        into the OS page cache, in a background thread; returns the thread. On a server that
        has just started, questions then stop waiting on disk reads for their hits' texts."""
        from index.pagecache import prefetch

        thread = threading.Thread(target=prefetch, args=(self.manifest_path,),
                                  name="prefetch-manifest", daemon=True)
        thread.start()
        return thread

    def _prepare(self, question: str) -> tuple[str, list[str]]:
        if not isinstance(question, str):
            raise TypeError("question must be a string")
        question = " ".join(question.split())
        if not question:
            raise InputError("the question is empty")
        notices = []
        limit = self.settings.max_question_chars
        if len(question) > limit:
            question = question[:limit].rsplit(" ", 1)[0] or question[:limit]
            notices.append(f"The question was longer than {limit} characters and was shortened.")
        return question, notices

    def condense(self, question: str, history: History | None,
                 engine: Engine | None = None) -> str:
        """A follow-up question made standalone: by the engine when it is a `Condenser` and
        the question leans on the conversation, else by the heuristic."""
        if not history:
            return question
        from rag.condense import condense_heuristic, needs_context
        if isinstance(engine, Condenser) and needs_context(question):
            try:
                return engine.condense(question, history) or question
            except EngineError as exc:
                logger.warning("LLM condense failed (%s); using the heuristic", exc)
        return condense_heuristic(question, history)

    def ask(self, question: str, history: History | None = None, filters: Filters | None = None,
            engine: str | None = None, top_k: int | None = None,
            as_of: str | None = None) -> Answer:
        """Answer a question (a follow-up when `history` is given) with verified citations;
        `top_k` overrides the number of passages for this question; `as_of` (YYYY-MM-DD) is
        the question's "now": articles published after it are not used."""
        final = None
        for event in self.ask_stream(question, history, filters, engine, top_k, as_of):
            if event.kind == "final":
                final = event.answer
        assert final is not None
        return final

    def ask_stream(self, question: str, history: History | None = None,
                   filters: Filters | None = None, engine: str | None = None,
                   top_k: int | None = None, as_of: str | None = None
                   ) -> Iterator[StreamEvent]:
        """Like `ask`, but yields events as the answer forms: with a generating engine first a
        'quick' event (the extractive answer, checked, shown while the model writes), then the
        draft's 'token' pieces, then the 'final' checked Answer (which is the quick answer
        again when the generated one is refused or keeps no verified sentence)."""
        from rag.cite import finalize, is_refusal

        filters = with_as_of(filters, as_of)
        timings: dict[str, float] = {}
        started = time.perf_counter()
        question, notices = self._prepare(question)
        eng = self.engine(engine)
        t = time.perf_counter()
        standalone = self.condense(question, history, eng)
        timings["condense"] = time.perf_counter() - t
        t = time.perf_counter()
        k = top_k or self.settings.top_k
        # the desk (what each outlet says, earlier values) reads a few more passages than the
        # engine: outlets that repeat the top passages' fact sit just below them
        hits, pool = self.retriever.search_pool(standalone, k, DESK_K, filters)
        from rag.desk.recency import by_recency, is_recent, without_recency
        recent = is_recent(standalone)
        # the extractive engine weighs every question word: "latest" or "so far", which no
        # passage states, would count as facts the passages lack
        quoted = without_recency(standalone) if recent else standalone
        if recent:  # "latest", "now", "so far": the newest of the relevant passages first
            pool = by_recency(pool)
            hits = pool[:len(hits)]
        timings["retrieve"] = time.perf_counter() - t

        def answer(draft: str, used: str, similarity: Similarity | None, notes: list[str],
                   times: dict[str, float], quick: bool = False) -> Answer:
            t = time.perf_counter()
            checked = finalize(draft, hits, similarity, self.settings.unsupported,
                               repair=self.settings.misnumbered == "repair")
            result = Answer(
                question=question, text=checked.text, citations=checked.citations,
                passages=tuple(hits), refused=checked.refused, standalone_question=standalone,
                engine=used, sentences=checked.sentences, notices=tuple(notes),
                timings=dict(times), quick=quick)
            if not quick:
                result = self._desk(result, hits, pool, recent)
            times["cite"] = time.perf_counter() - t
            times["total"] = time.perf_counter() - started
            return replace(result, timings=dict(times))

        quick = None
        if hits and eng.name != "extractive" and self.settings.quick_answer:
            t = time.perf_counter()
            draft = "".join(self.engine("extractive").draft(quoted, hits))
            quick_times = {**timings, "generate": time.perf_counter() - t}
            quick = answer(draft, "extractive", None, [*notices, QUICK_NOTICE], quick_times,
                           quick=True)
            timings["quick"] = quick.timings["total"]
            yield StreamEvent("quick", answer=quick)
        t = time.perf_counter()
        used = eng.name
        pieces: list[str] = []
        if hits:
            try:
                for piece in eng.draft(quoted if eng.name == "extractive" else standalone,
                                       hits):
                    if not pieces:  # when the user sees the first text of the answer
                        timings["first_text"] = time.perf_counter() - started
                    pieces.append(piece)
                    yield StreamEvent("token", piece)
            except EngineError as exc:
                if eng.name == "extractive":
                    raise
                logger.warning("engine %s failed: %s", eng.name, exc)
                failed = (f"The {eng.name} engine failed ({exc}); "
                          "this is an extractive answer instead.")
                if quick is not None:
                    yield StreamEvent("final", answer=_kept(quick, notices, failed, timings))
                    return
                notices.append(failed)
                pieces = list(self.engine("extractive").draft(quoted, hits))
                used = "extractive"
        else:
            pieces = [REFUSAL]
        timings["generate"] = time.perf_counter() - t
        # generated (paraphrased) sentences may also be checked by embedding similarity
        similarity = None if used == "extractive" else self._similarity
        draft = "".join(pieces)
        final = answer(draft, used, similarity, notices, timings)
        refusal = is_refusal(draft)
        if quick is not None and not quick.refused and not final.citations and (
                not refusal or self.settings.keep_quick_on_refusal):
            why = "refused" if refusal else "kept no verified sentence"
            final = _kept(quick, notices, f"The {used} engine's answer {why}; this is the "
                          "quick answer quoted from the articles.", final.timings)
        yield StreamEvent("final", answer=final)

    def _desk(self, answer: Answer, hits: Sequence[Hit], pool: Sequence[Hit],
              recent: bool) -> Answer:
        """The answer with what each outlet says (read from `pool`, the engine's `hits` and a
        few more) and, for a "latest" question, the newest article's value with its date (and
        the earlier values with theirs)."""
        from rag.desk.answer import annotate, recompose

        if recent and answer.engine == "extractive":
            answer = recompose(answer.standalone_question, answer, pool,
                               self.settings.unsupported) or answer
        return annotate(answer, pool, recent)

    def compare(self, question: str, filters: Filters | None = None,
                as_of: str | None = None, top_k: int | None = None) -> Comparison:
        """A table of outlets by the values or statements they give for `question`, each
        cell cited (a verified span)."""
        from rag.desk.compare import compare
        question, _ = self._prepare(question)
        hits = self.retrieve(question, with_as_of(filters, as_of), k=top_k or DESK_K)
        return compare(question, hits)

    def timeline(self, topic: str, filters: Filters | None = None,
                 as_of: str | None = None, top_k: int | None = None) -> Timeline:
        """Dated events about `topic` in the order they happened, each cited; the same event
        told by several outlets is one entry ("reported by N outlets")."""
        from rag.desk.timeline import timeline
        topic, _ = self._prepare(topic)
        hits = self.retrieve(topic, with_as_of(filters, as_of), k=top_k or DESK_K)
        return timeline(topic, hits)

    def _similarity(self, sentence: str, candidates: Sequence[str]) -> list[float]:
        vectors = self.query_embedder.embed([sentence, *candidates])
        return [float(v) for v in vectors[1:] @ vectors[0]]

    def close(self) -> None:
        """Release the manifest and the retriever's threads (both are opened again if the
        assistant is used after this)."""
        with self._lock:
            if self._retriever is not None:
                self._retriever.close()
                self._retriever = None
        if self._manifest is not None:
            self._manifest.close()
            self._manifest = None


__all__ = ["Assistant", "StreamEvent", "RagError"]
