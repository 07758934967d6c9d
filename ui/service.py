"""The one Assistant shared by the web chat and the REST API: locking, uploads, inputs, examples."""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import shutil
import threading
import uuid
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from core.errors import IndexLockedError, InputError, RagError
from core.records import Answer, Article, Filters, IngestReport, Skipped
from core.settings import ENGINES
from index.formats import EXTENSIONS, extensions_text
from index.manifest import ArticleInfo
from ui.conversations import ConversationStore

if TYPE_CHECKING:
    from index.feeds import Feed
    from rag.assistant import Assistant, StreamEvent
    from rag.desk.compare import Comparison
    from rag.desk.timeline import Timeline
    from ui.jobs import Job

logger = logging.getLogger(__name__)

DEFAULT_MAX_UPLOAD_BYTES = 5_000_000
MAX_TOP_K = 20
EXTRACTIVE_CONCURRENCY = 8  # extractive answers at once (tens of ms each)
LLM_CONCURRENCY = 2  # LLM answers at once; more wait for a slot (the model is CPU bound)
GENERIC_ERROR = "Something went wrong; the details are in the server log."
SYNC_JOB = "sync feeds"  # the name a feed sync's job shows

History = list[tuple[str, str]]


def size_text(size: int) -> str:
    """An upload limit as every message and label writes it: 5_000_000 -> "5 MB"."""
    return f"{size / 1e6:g} MB"


class UploadTooLargeError(InputError):
    """An uploaded file is over the size limit (HTTP 413)."""


class UnsupportedFileTypeError(InputError):
    """An uploaded file's type is not on the allowlist (HTTP 415)."""


class ReadWriteLock:
    """Many readers (questions) or one writer (ingest, delete); waiting writers go first.

    Counts, not thread ownership, so a streamed answer may release from another thread.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writing or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            try:
                while self._writing or self._readers:
                    self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


def safe_filename(name: str) -> str:
    """A plain file name (no folders, no odd characters) that keeps the extension."""
    base = re.split(r"[\\/]", name or "")[-1]
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-")[:80] or "upload"
    ext = re.sub(r"[^A-Za-z0-9]+", "", ext)[:10].lower()
    return f"{stem}.{ext}" if ext else stem


def check_extension(name: str) -> str:
    ext = Path(name).suffix.lower()
    if ext not in EXTENSIONS:
        raise UnsupportedFileTypeError(
            f"{safe_filename(name)}: unsupported file type; use {extensions_text()}")
    return ext


def parse_history(raw: Iterable[object] | None) -> History:
    """[[question, answer], ...] or [{"question": ..., "answer": ...}, ...] -> pairs."""
    if not raw:
        return []
    out: History = []
    for turn in raw:
        if isinstance(turn, dict):
            q, a = turn.get("question"), turn.get("answer")
        elif isinstance(turn, (list, tuple)) and len(turn) == 2:
            q, a = turn
        else:
            raise InputError("each history turn must be [question, answer] or "
                             "{\"question\": ..., \"answer\": ...}")
        if not isinstance(q, str) or not isinstance(a, str):
            raise InputError("history questions and answers must be strings")
        out.append((q, a))
    return out


def make_filters(sources: Iterable[str] | None = None, date_from: str | None = None,
                 date_to: str | None = None,
                 article_ids: Iterable[str] | None = None) -> Filters | None:
    """Validated Filters from form or JSON values (None when nothing restricts the search)."""
    filters = Filters(sources=tuple(s for s in (sources or ()) if s), date_from=date_from,
                      date_to=date_to, article_ids=tuple(a for a in (article_ids or ()) if a))
    return None if filters.is_empty() else filters


@dataclass(frozen=True)
class Upload:
    """A file the user sent: its original name, where its bytes are now, and their sha256."""

    name: str
    path: Path
    digest: str = ""
    replace: bool = False  # articles uploaded earlier under the same name give way to it


@dataclass(frozen=True)
class WebTask:
    """Web work queued with the uploads: a sync of every feed, or one address to add."""

    kind: str  # "sync" | "link"
    url: str | None = None


# Good questions for the project's own corpora, offered only when the words they need occur in
# the titles or openings of indexed articles (so they come from what is indexed).
_CURATED: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("How many Turkish soldiers were killed?", ("turk", "soldiers", "killed")),
    ("Who is the governor of Hatay?", ("hatay", "governor")),
    ("What did Russia say about the Turkish troops?", ("russia", "turkish troops")),
    ("What did NATO do after the strike?", ("nato",)),
    ("What ceasefire did Erdogan and Putin agree?", ("ceasefire", "putin", "erdogan")),
    ("How many people have been displaced in Idlib?", ("displaced", "idlib")),
)


class Library:
    """Thread-safe front for one Assistant: answers read, ingest/delete write (one at a time)."""

    def __init__(self, assistant: Assistant, *, max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
                 upload_dir: Path | None = None) -> None:
        from ui.jobs import IngestJobs

        self.assistant = assistant
        self.max_upload_bytes = max_upload_bytes
        self.upload_dir = upload_dir or Path(assistant.settings.data_dir) / "uploads"
        self.lock = ReadWriteLock()  # a delete excludes questions for its few milliseconds
        # uploads are indexed by a background job: questions read the committed state meanwhile
        self.jobs = IngestJobs(self._run_ingest)
        self.conversations = ConversationStore(assistant.settings.data_dir)
        # answers at once per kind of engine: extractive answers never wait behind the LLM's
        self._engines: list[str] | None = None  # installed packages do not change meanwhile
        self._slots = {"extractive": threading.BoundedSemaphore(EXTRACTIVE_CONCURRENCY),
                       "llm": threading.BoundedSemaphore(LLM_CONCURRENCY)}

    def engine_kind(self, engine: str | None) -> str:
        """'extractive' or 'llm': which concurrency limit a question with `engine` uses."""
        name = self.assistant.engine_name(engine)
        return "extractive" if name == "extractive" else "llm"

    # --- reading ------------------------------------------------------------------------------
    @property
    def default_engine(self) -> str:
        return str(self.assistant.settings.engine)

    def engines(self) -> list[str]:
        """The engines offered for questions: auto and extractive always, local when its
        package and model are installed, openai when a server URL is configured (the default
        engine is always listed: a question to it says what is missing)."""
        if self._engines is None:
            from rag.llm import is_local_available

            usable = {"auto", "extractive", self.default_engine}
            if is_local_available():
                usable.add("local")
            if self.assistant.settings.openai_base_url:
                usable.add("openai")
            self._engines = [e for e in ENGINES if e in usable]
        return list(self._engines)

    @property
    def default_top_k(self) -> int:
        return int(self.assistant.settings.top_k)

    def articles(self) -> list[ArticleInfo]:
        with self.lock.read():
            return self.assistant.articles()

    def article(self, article_id: str) -> Article | None:
        with self.lock.read():
            return self.assistant.article(article_id)

    def sources(self) -> list[str]:
        return sorted({a.source for a in self.articles() if a.source})

    def count(self) -> int:
        return len(self.articles())

    def example_questions(self, limit: int = 4) -> list[str]:
        infos = self.articles()
        if not infos:
            return []
        haystack = " ".join(a.title for a in infos).lower()
        for info in infos[:60]:
            article = self.article(info.id)
            if article is not None:
                haystack += " " + article.text[:3000].lower()
        out = [q for q, needs in _CURATED if all(n in haystack for n in needs)][:limit]
        for info in infos:
            if len(out) >= limit:
                break
            title = _short_title(info.title)
            question = f"What happened in “{title}”?"
            if title and question not in out:
                out.append(question)
        return out

    # --- answering ----------------------------------------------------------------------------
    def _check_top_k(self, top_k: int | None) -> dict[str, int]:
        """Extra keyword arguments for Assistant.ask_stream honouring a per-question top_k."""
        if top_k is None or top_k == self.assistant.settings.top_k:
            return {}
        if not 1 <= top_k <= MAX_TOP_K:
            raise InputError(f"top_k must be between 1 and {MAX_TOP_K}")
        return {"top_k": top_k}

    def ask_stream(self, question: str, history: Sequence[tuple[str, str]] | None = None,
                   filters: Filters | None = None, engine: str | None = None,
                   top_k: int | None = None) -> Generator[StreamEvent, None, None]:
        """Assistant.ask_stream under the read lock (released when the stream ends or closes)."""
        if not isinstance(question, str) or not question.strip():
            raise InputError("the question is empty")
        if engine is not None and engine not in ENGINES:
            raise InputError(f"engine must be one of {', '.join(ENGINES)}")
        extra = self._check_top_k(top_k)
        return self._locked_stream(question, list(history or ()), filters, engine, extra)

    def _locked_stream(self, question: str, history: History, filters: Filters | None,
                       engine: str | None, extra: dict[str, int]
                       ) -> Generator[StreamEvent, None, None]:
        with self._slots[self.engine_kind(engine)], self.lock.read():
            yield from self.assistant.ask_stream(question, history or None, filters, engine,
                                                 top_k=extra.get("top_k"))

    def ask(self, question: str, history: Sequence[tuple[str, str]] | None = None,
            filters: Filters | None = None, engine: str | None = None,
            top_k: int | None = None) -> Answer:
        final = None
        for event in self.ask_stream(question, history, filters, engine, top_k):
            if event.kind == "final":
                final = event.answer
        if final is None:
            raise RagError("the engine ended without an answer")
        return final

    # --- the news desk ----------------------------------------------------------------------
    def compare(self, question: str, filters: Filters | None = None,
                top_k: int | None = None) -> Comparison:
        """Assistant.compare (outlets x values, each cited) under the read lock."""
        if not isinstance(question, str) or not question.strip():
            raise InputError("the question is empty")
        with self._slots["extractive"], self.lock.read():
            return self.assistant.compare(question, filters, top_k=top_k)

    def timeline(self, topic: str, filters: Filters | None = None,
                 top_k: int | None = None) -> Timeline:
        """Assistant.timeline (dated, cited events of a topic) under the read lock."""
        if not isinstance(topic, str) or not topic.strip():
            raise InputError("the topic is empty")
        with self._slots["extractive"], self.lock.read():
            return self.assistant.timeline(topic, filters, top_k=top_k)

    # --- writing ------------------------------------------------------------------------------
    def save_upload(self, name: str, stream: BinaryIO) -> Upload:
        """Copy an uploaded stream into the upload folder, enforcing type and size limits."""
        check_extension(name)
        self.upload_dir.mkdir(parents=True, exist_ok=True)
        # a unique partial name: two uploads of one name at once must not share a file
        partial = self.upload_dir / f".{uuid.uuid4().hex}.part"
        size = 0
        digest = hashlib.sha256()
        try:
            with open(partial, "wb") as out:
                while block := stream.read(1 << 16):
                    size += len(block)
                    if size > self.max_upload_bytes:
                        raise UploadTooLargeError(
                            f"{safe_filename(name)} is larger than the "
                            f"{size_text(self.max_upload_bytes)} upload limit")
                    digest.update(block)
                    out.write(block)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return Upload(safe_filename(name), partial, digest.hexdigest())

    def submit_uploads(self, uploads: Sequence[Upload], replace: bool = False) -> Job:
        """Queue saved uploads for indexing by a background job; returns the `ui.jobs.Job`.

        Uploads are told apart by content: a different file under a name already uploaded is a
        new article beside the old one, unless `replace` (the old one is then deleted)."""
        if not uploads:
            raise InputError("no files were uploaded")
        uploads = [dataclasses.replace(up, replace=replace) for up in uploads]
        return self.jobs.submit(uploads, [up.name for up in uploads])

    def ingest_uploads(self, uploads: Sequence[Upload],
                       progress: Callable[[int, int], None] | None = None,
                       timeout: float | None = None, replace: bool = False) -> IngestReport:
        """Index saved uploads through the job queue and wait for the report (errors raised)."""
        return self._wait(self.submit_uploads(uploads, replace=replace), progress, timeout)

    # --- feeds and links: the same job queue as uploads ---------------------------------------
    def feeds(self) -> list[Feed]:
        return self.assistant.feeds.feeds()

    def submit_sync(self) -> Job:
        """Queue a sync of every feed, unless one is already queued or running (that one)."""
        for job in self.jobs.list():
            if job.files == (SYNC_JOB,) and job.state in ("queued", "running"):
                return job
        return self.jobs.submit([WebTask("sync")], [SYNC_JOB])

    def submit_link(self, url: str) -> Job:
        """Queue an address to add: a feed joins the feed list and is synced, an article page
        is indexed. A malformed or non-http(s) address is refused at once."""
        from index.fetch import normalise_url

        url = normalise_url(url if isinstance(url, str) else "")
        return self.jobs.submit([WebTask("link", url)], [url])

    def add_link(self, url: str, progress: Callable[[int, int], None] | None = None,
                 timeout: float | None = None) -> IngestReport:
        """`submit_link` and wait for the report (errors raised)."""
        return self._wait(self.submit_link(url), progress, timeout)

    def sync(self, progress: Callable[[int, int], None] | None = None,
             timeout: float | None = None) -> IngestReport:
        """`submit_sync` and wait for the report (errors raised)."""
        return self._wait(self.submit_sync(), progress, timeout)

    def remove_feed(self, url: str) -> bool:
        return self.assistant.feeds.remove(url)

    def _wait(self, job: Job, progress: Callable[[int, int], None] | None,
              timeout: float | None) -> IngestReport:
        while True:
            job = self.jobs.wait(job.id, timeout=0.5 if progress else timeout)
            if progress and job.total:
                progress(job.done, job.total)
            if job.state in ("done", "failed") or not progress:
                break
        if job.state == "failed":
            raise job.exception or RagError(job.error or GENERIC_ERROR)
        if job.report is None:
            raise RagError("indexing is still running; see /api/jobs")
        return job.report

    def _run_ingest(self, uploads: Sequence[Upload | WebTask],
                    progress: Callable[[int, int], None]) -> IngestReport:
        """The job: move saved uploads into place and index them; reported paths are the
        file names. Runs on the jobs' low-priority thread, beside questions. A `WebTask`
        (a sync, an address) runs here too: one writer at a time, whatever it writes."""
        tasks = [t for t in uploads if isinstance(t, WebTask)]
        if tasks:
            task = tasks[0]
            if task.kind == "sync":
                return self.assistant.sync(progress, background=True)
            return self.assistant.add_link(task.url or "", progress, background=True)[1]
        return self._ingest_uploads([u for u in uploads if isinstance(u, Upload)], progress)

    def _ingest_uploads(self, uploads: Sequence[Upload],
                        progress: Callable[[int, int], None]) -> IngestReport:
        targets, fresh = [], []
        for up in uploads:
            target, new = self._place(up)
            if new:
                fresh.append(target)
            targets.append(target)
        try:
            report = self.assistant.ingest(targets, progress=progress, background=True)
        except BaseException:
            for target in fresh:  # nothing indexed: do not keep new files around
                self._remove_file(target)
            raise
        for item in report.skipped:  # not an article (empty, binary...): not kept either
            self._remove_file(Path(item.path.split("#", 1)[0]), unless_indexed=True)
        replaced = self._replace_older([up for up in uploads if up.replace], targets)
        if replaced:
            report = dataclasses.replace(report, removed=report.removed + tuple(replaced))
        shown = {str(t): up.name for t, up in zip(targets, uploads, strict=True)}
        skipped = tuple(Skipped(_shown_name(s.path, shown), s.reason) for s in report.skipped)
        warnings = tuple(_strip_paths(w, shown) for w in report.warnings)
        return dataclasses.replace(report, skipped=skipped, warnings=warnings)

    def _place(self, up: Upload) -> tuple[Path, bool]:
        """Move a saved upload to uploads/<content hash>/<name> (its source key); the same
        content again, under any name, is the file already there (and so unchanged). True
        when the file is new."""
        folder = self.upload_dir / (up.digest[:16] or uuid.uuid4().hex[:16])
        existing = [f for f in folder.iterdir() if f.is_file()] if folder.is_dir() else []
        if existing:
            up.path.unlink(missing_ok=True)
            return existing[0], False
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / up.name
        shutil.move(str(up.path), str(target))
        return target, True

    def _replace_older(self, uploads: Sequence[Upload], targets: Sequence[Path]) -> list[str]:
        """Delete articles uploaded earlier under the names of `uploads` (the "replace" choice)."""
        names = {up.name for up in uploads}
        keep = {str(t.resolve()) for t in targets}
        gone = []
        for info in self.assistant.articles():
            path = Path(info.path.split("#", 1)[0]).resolve()
            if (path.name in names and str(path) not in keep
                    and self.upload_dir.resolve() in path.parents):
                if self.assistant.delete(info.id):
                    gone.append(info.id)
                    self._remove_file(path, unless_indexed=True)
        return gone

    def _remove_file(self, path: Path, unless_indexed: bool = False) -> None:
        """Remove an upload's file (and its folder when empty), if it is in the upload folder."""
        try:
            file = path.resolve()
            root = self.upload_dir.resolve()
            if root not in file.parents:
                return
            if unless_indexed and any(Path(a.path.split("#", 1)[0]).resolve() == file
                                      for a in self.assistant.articles()):
                return
            file.unlink(missing_ok=True)
            if file.parent != root and not any(file.parent.iterdir()):
                file.parent.rmdir()
        except OSError as exc:
            logger.warning("could not remove uploaded file %s: %s", path, exc)

    def ingest_paths(self, paths: Sequence[str | Path],
                     progress: Callable[[int, int], None] | None = None) -> IngestReport:
        return self.assistant.ingest(list(paths), progress=progress)

    def delete(self, article_id: str) -> bool:
        if self.jobs.busy():
            raise IndexLockedError("an upload is being indexed; delete the article when it "
                                   "has finished")
        with self.lock.write():
            article = self.assistant.article(article_id)
            if article is None or not self.assistant.delete(article_id):
                return False
            self._forget_upload(article.path)
            return True

    def _forget_upload(self, path: str) -> None:
        """Remove a deleted article's uploaded file unless another article still comes from it."""
        self._remove_file(Path(path.split("#", 1)[0]), unless_indexed=True)


def _shown_name(path: str, shown: dict[str, str]) -> str:
    for full, name in shown.items():
        if path.startswith(full):
            return name + path[len(full):]
    return Path(path).name


def _strip_paths(message: str, shown: dict[str, str]) -> str:
    for full, name in shown.items():
        message = message.replace(full, name)
    return message


def _short_title(title: str, limit: int = 70) -> str:
    title = " ".join(title.split()).rstrip(" .…?!:;,")
    if len(title) > limit:
        title = title[:limit].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"
    return title
