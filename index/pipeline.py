"""Ingest: load, clean, chunk, diff against the manifest, embed, write Chroma and the manifest."""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from core.errors import IndexError_
from core.records import Article, Chunk, IngestReport, Progress, Skipped
from core.settings import Settings
from index.chunk import chunk_article, embed_text
from index.embed import Embedder
from index.locks import write_lock
from index.manifest import Manifest
from index.memory import release_free_memory
from index.store import ChromaStore

logger = logging.getLogger(__name__)

GROUP_CHUNKS = 512  # chunks embedded and committed together (a crash loses at most one group)
# The last group's writes are the only ones nothing overlaps, so an ingest ends with a group of
# about this many chunks (when groups are at least 4x larger): its commit is waited for, not
# a whole group's.
TAIL_CHUNKS = 64
EMBED_SLICE = 128  # chunks per embedding call inside a group (progress moves at this step)


def _test_hook(point: str, count: int) -> None:
    """Fault-injection hooks for the crash-safety tests: NEWSCITE_TEST_KILL=point:N kills the
    process there; NEWSCITE_TEST_PAUSE=SECONDS waits after each committed group, so a test can
    interrupt an ingest mid-way however fast the machine is."""
    spec = os.environ.get("NEWSCITE_TEST_KILL")
    if spec and spec == f"{point}:{count}":
        os.kill(os.getpid(), signal.SIGKILL)
    pause = os.environ.get("NEWSCITE_TEST_PAUSE")
    if pause and point == "committed":
        time.sleep(float(pause))


def _load_with_warnings(paths: list[str | Path]) -> tuple[list[Article | Skipped], list[str]]:
    """Load everything, with the loaders' warnings (bad encodings, dates) for the report."""
    from index.load import load_paths

    warnings: list[str] = []
    return list(load_paths(paths, warnings=warnings)), warnings


def _group_chunks() -> int:
    """GROUP_CHUNKS, or NEWSCITE_GROUP_CHUNKS from the environment (the crash tests use it)."""
    raw = os.environ.get("NEWSCITE_GROUP_CHUNKS")
    if not raw:
        return GROUP_CHUNKS
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise IndexError_(f"NEWSCITE_GROUP_CHUNKS must be a positive integer, not {raw!r}")
    return value


@dataclass
class _Plan:
    new: list[Article]
    keys: dict[str, str]  # source key -> article id, for every loaded article
    added: list[str]
    updated: list[str]
    unchanged: list[str]


class Indexer:
    """Writes articles into the manifest, Chroma and the keyword index; one writer at a time."""

    def __init__(self, settings: Settings, embedder: Embedder, manifest: Manifest,
                 store: ChromaStore) -> None:
        self.settings = settings
        self.embedder = embedder
        self.manifest = manifest
        self.store = store
        self.group_chunks = _group_chunks()
        self._locked = False

    def writing(self) -> contextlib.AbstractContextManager[None]:
        """Hold the data folder's write lock across several steps (a sync holds it while it
        fetches, so a second writer fails before any network work)."""
        return self._writing()

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """The data folder's write lock, taken once however the public steps nest."""
        if self._locked:
            yield
            return
        with write_lock(self.settings.data_dir):
            self._locked = True
            try:
                yield
            finally:
                self._locked = False

    # --- public -----------------------------------------------------------------------------
    def ingest(self, paths: Iterable[str | Path], progress: Progress | None = None, *,
               prune: bool = False) -> IngestReport:
        """Load the files and folders in `paths` and index their articles (`ingest_articles`).

        Articles indexed earlier from a file under one of the folders that is no longer there
        are reported in a warning, and deleted with `prune`."""
        started = time.perf_counter()
        paths = list(paths)
        with self._writing():  # held while loading too: a second writer fails before any work
            t = time.perf_counter()
            loaded, warnings = _load_with_warnings(paths)
            load_seconds = time.perf_counter() - t
            report = self.ingest_articles([a for a in loaded if isinstance(a, Article)], progress)
            stale, pruned = self._stale([Path(p) for p in paths if Path(p).is_dir()], loaded,
                                        prune, report)
            warnings += stale
            report = replace(report, removed=report.removed + tuple(pruned))
        report = replace(report, skipped=tuple(s for s in loaded if isinstance(s, Skipped)),
                         warnings=tuple(warnings) + report.warnings,
                         seconds=time.perf_counter() - started,
                         timings={"load": load_seconds, **report.timings})
        logger.info("ingest: %s", report.summary())
        return report

    def ingest_articles(self, articles: Sequence[Article], progress: Progress | None = None, *,
                        keys: dict[str, str] | None = None) -> IngestReport:
        """Index ready-made articles: unchanged ones are left alone, new and changed ones are
        chunked, embedded and written crash-safely; articles no key points at any more go.

        `keys` maps source keys to article ids; by default each article's own key. An import
        passes them all (an exported article may have been loaded from several paths)."""
        started = time.perf_counter()
        timings: dict[str, float] = {}
        with self._writing():
            self._check_meta()
            self._finish_pending()
            self.manifest.backfill_sentence_terms()  # a no-op once done (a partial index)
            plan = self._plan(articles)
            t = time.perf_counter()
            chunked, warnings = self._chunk(plan.new)
            timings["chunk"] = time.perf_counter() - t
            embedded, removed = self._write(chunked, plan.keys if keys is None else keys,
                                            progress, timings)
        return IngestReport(
            added=tuple(plan.added), updated=tuple(plan.updated),
            unchanged=tuple(plan.unchanged), removed=tuple(removed), chunks_embedded=embedded,
            seconds=time.perf_counter() - started, timings=timings, warnings=tuple(warnings))

    def delete(self, article_id: str) -> bool:
        with self._writing():
            self._finish_pending()
            if not self.manifest.remove_article(article_id):
                return False
            self._finish_pending()
            return True

    # --- steps ------------------------------------------------------------------------------
    def _stale(self, folders: list[Path], loaded: list[Article | Skipped], prune: bool,
               report: IngestReport) -> tuple[list[str], list[str]]:
        """Warnings about articles from files now gone, and the ids deleted with `prune`."""
        pruned: list[str] = []
        if not folders:
            return [], pruned
        present = {a.key for a in loaded if isinstance(a, Article)}
        present |= {str(Path(s.path.split("#", 1)[0]).resolve()) for s in loaded
                    if isinstance(s, Skipped)}
        out = []
        for folder in folders:
            stale = {aid for key, aid in self.manifest.keys_under(folder).items()
                     if key not in present and key.split("#", 1)[0] not in present
                     and not Path(key.split("#", 1)[0]).exists()}
            stale -= set(report.removed)
            if not stale:
                continue
            if prune:
                for aid in sorted(stale):
                    if self.delete(aid):
                        pruned.append(aid)
                out.append(f"{folder}: removed {len(stale)} articles whose files are gone (--prune)")
            else:
                out.append(f"{folder}: {len(stale)} indexed articles came from files that are no "
                           "longer there; `newscite ingest --prune` removes them")
        return out, pruned

    def _chunk(self, articles: Sequence[Article]
               ) -> tuple[list[tuple[Article, list[Chunk]]], list[str]]:
        """Each article's chunks, at most `max_article_chunks` of them (with a warning)."""
        cap = self.settings.max_article_chunks
        out, warnings = [], []
        for article in articles:
            chunks = chunk_article(article, self.settings.chunk_chars, self.settings.chunk_overlap)
            if len(chunks) > cap:
                kept = chunks[cap - 1].end
                warnings.append(
                    f"{article.path}: \"{article.title[:60]}\" is {len(chunks):,} passages long; "
                    f"only its first {cap:,} (the first {kept:,} of {len(article.text):,} "
                    "characters) are indexed")
                chunks = chunks[:cap]
            out.append((article, chunks))
        return out, warnings

    def _check_meta(self) -> None:
        """Refuse to mix chunking settings or embedding models within one index."""
        wanted = {"embed_model": self.embedder.name, "dim": str(self.embedder.dim),
                  "chunking": f"{self.settings.chunk_chars}/{self.settings.chunk_overlap}"}
        have = {k: self.manifest.get_meta(k) for k in wanted}
        if all(v is None for v in have.values()):
            self.manifest.set_meta(wanted)
            return
        if have["embed_model"] != wanted["embed_model"] or have["dim"] != wanted["dim"]:
            from core.errors import ModelMismatchError
            raise ModelMismatchError(
                f"this index was built with {have['embed_model']} ({have['dim']}-d), not "
                f"{wanted['embed_model']}; use another --data-dir or `newscite index rebuild`")
        if have["chunking"] != wanted["chunking"]:
            raise IndexError_(
                f"this index was chunked with chunk_chars/overlap {have['chunking']}, not "
                f"{wanted['chunking']}; keep the old settings or run `newscite index rebuild`")

    def _plan(self, articles: Sequence[Article]) -> _Plan:
        plan = _Plan(new=[], keys={}, added=[], updated=[], unchanged=[])
        seen: set[str] = set()
        for article in articles:
            plan.keys[article.key] = article.id
            if article.id in seen:
                continue  # the same text twice in one run: stored once
            seen.add(article.id)
            if self.manifest.has_article(article.id):
                plan.unchanged.append(article.id)
                continue
            previous = self.manifest.article_for_key(article.key)
            (plan.updated if previous and previous != article.id else plan.added).append(article.id)
            plan.new.append(article)
        return plan

    def _groups(self, chunked: list[tuple[Article, list[Chunk]]]
                ) -> Iterator[list[tuple[Article, list[Chunk]]]]:
        """Articles in groups of about `group_chunks` chunks, ending with a short tail group
        (see TAIL_CHUNKS)."""
        tail = TAIL_CHUNKS if self.group_chunks >= 4 * TAIL_CHUNKS else 0
        left = sum(len(chunks) for _, chunks in chunked)
        group: list[tuple[Article, list[Chunk]]] = []
        size = 0
        for item in chunked:
            group.append(item)
            size += len(item[1])
            left -= len(item[1])
            if size >= self.group_chunks or 0 < left <= tail < size:
                yield group
                group, size = [], 0
        if group:
            yield group

    def _write(self, chunked: list[tuple[Article, list[Chunk]]], keys: dict[str, str],
               progress: Progress | None, timings: dict[str, float]) -> tuple[int, list[str]]:
        """Embed group after group; each group's writes run on one writer thread while the
        next group is embedded, so only the last group's writes are waited for.

        At most one group is in flight, and groups commit in order: group n's writes begin
        only after group n-1 committed, so a crash leaves what a one-thread ingest would."""
        total = sum(len(c) for _, c in chunked)
        embedded = 0
        removed: list[str] = []
        written_ids = {a.id for a, _ in chunked}
        if progress and total:
            progress(0, total)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="newscite-write") as writer:
            in_flight: Future[tuple[list[str], float]] | None = None
            for n, group in enumerate(self._groups(chunked), start=1):
                articles = {a.id: a for a, _ in group}
                chunks = [c for _, cs in group for c in cs]
                texts = [embed_text(articles[c.article_id].title, c.text) for c in chunks]
                t = time.perf_counter()
                step = (lambda k, base=embedded: progress(base + k, total)) if progress else None
                vectors = self._embed_sorted(texts, step)
                timings["embed"] = timings.get("embed", 0.0) + time.perf_counter() - t
                embedded += len(chunks)
                if in_flight is not None:
                    removed += self._collect(in_flight, timings)
                _test_hook("embedded", n)
                in_flight = writer.submit(self._commit_group, n, group, articles, chunks,
                                          vectors, {k: v for k, v in keys.items() if v in articles})
                del vectors, texts  # the writer holds the group's vectors until it commits
            if in_flight is not None:
                removed += self._collect(in_flight, timings)
        if progress and total:
            progress(total, total)
        # keys of unchanged articles (e.g. the same text under a new path) and moved keys
        rest = {k: v for k, v in keys.items() if v not in written_ids}
        # keys already pointing at their article need no write (a re-run of an unchanged
        # corpus then costs one read per file, no transaction)
        rest = {k: v for k, v in rest.items() if self.manifest.article_for_key(k) != v}
        if rest:
            removed += self.manifest.commit_articles([], rest)
            self._finish_pending()
        return total, removed

    @staticmethod
    def _collect(in_flight: Future[tuple[list[str], float]],
                 timings: dict[str, float]) -> list[str]:
        """Wait for the group being written; its error, if any, is raised here."""
        t = time.perf_counter()
        removed, seconds = in_flight.result()
        timings["store"] = timings.get("store", 0.0) + seconds
        timings["store_wait"] = timings.get("store_wait", 0.0) + time.perf_counter() - t
        return removed

    def _commit_group(self, n: int, group: list[tuple[Article, list[Chunk]]],
                      articles: dict[str, Article], chunks: list[Chunk], vectors: np.ndarray,
                      group_keys: dict[str, str]) -> tuple[list[str], float]:
        """Write one embedded group crash-safely (on the writer thread): mark its articles in
        flight, upsert Chroma, commit the manifest. Returns the removed article ids and the
        seconds it took."""
        t = time.perf_counter()
        self.manifest.mark_inflight(articles)
        _test_hook("marked", n)
        try:
            self.store.upsert(articles, chunks, vectors)
            _test_hook("stored", n)
            removed = self.manifest.commit_articles(group, group_keys)
        except Exception:
            self._undo_failed_write([c.id for c in chunks])
            raise
        seconds = time.perf_counter() - t
        _test_hook("committed", n)
        self._finish_pending()
        release_free_memory()  # the embedding's freed buffers, back to the OS
        return removed, seconds

    def _embed_sorted(self, texts: list[str],
                      step: Callable[[int], None] | None = None) -> np.ndarray:
        """Embed in length order (less padding), return rows in the original order.

        Slices of EMBED_SLICE (a multiple of the batch size) make the same batches as one call,
        and let the progress bar move within a group."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        ordered = [texts[i] for i in order]
        if step is None:
            vectors = self.embedder.embed(ordered)
        else:
            parts = []
            for i in range(0, len(ordered), EMBED_SLICE):
                parts.append(self.embedder.embed(ordered[i:i + EMBED_SLICE]))
                step(min(i + EMBED_SLICE, len(ordered)))
            vectors = np.concatenate(parts) if parts else self.embedder.embed([])
        out = np.empty_like(vectors)
        out[order] = vectors
        return out

    def _undo_failed_write(self, chunk_ids: list[str]) -> None:
        """After a failed Chroma or manifest write, delete the group's chunks from Chroma and
        forget its in-flight marks, so the index is left as it was before the group.

        By id: a delete by article makes Chroma read its segments first, which fails on a full
        disk. Best effort: what cannot be undone here stays marked in flight, and the next ingest
        removes it (`_finish_pending`); the caller re-raises the original, clearer error."""
        try:
            if self.store.opened:  # else the write failed before anything reached Chroma
                self.store.delete_ids(chunk_ids)
            self.manifest.clear_inflight()
            logger.info("failed write: removed its %d chunks from Chroma", len(chunk_ids))
        except Exception as exc:  # noqa: BLE001 - the write's own error is the one to report
            logger.info("could not clean up after the failed write (the next ingest will): %s",
                        exc)

    def _finish_pending(self) -> None:
        """Delete chunks of removed or replaced articles from Chroma, then forget them; also
        chunks a crashed run wrote to Chroma before recording them in the manifest."""
        orphans = self.manifest.inflight()
        if orphans:
            logger.warning("cleaning up %d articles from an interrupted ingest", len(orphans))
            self.store.delete_articles(orphans)
            self.manifest.clear_inflight()
        pending = self.manifest.pending_deletes()
        if not pending:
            return
        ids = [cid for cids in pending.values() for cid in cids]
        self.store.delete_ids(ids)
        _test_hook("deleted", 1)
        self.manifest.clear_pending(pending)
