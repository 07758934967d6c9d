"""Background ingest jobs for the server: uploads are indexed while questions keep answering."""
from __future__ import annotations

import itertools
import logging
import os
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from core.errors import RagError
from core.records import IngestReport, Progress

logger = logging.getLogger(__name__)

# nice value of the ingest thread (and of the embedding threads it starts): questions on the
# same cores get the CPU first, the ingest takes what is left
INGEST_NICENESS = 10
KEEP_FINISHED = 50  # finished jobs remembered for their status pages
GENERIC_ERROR = "Something went wrong; the details are in the server log."

F = TypeVar("F")  # what a job indexes (the server's saved uploads)
Runner = Callable[[Sequence[F], Progress], IngestReport]


@dataclass(frozen=True)
class Job:
    """One ingest job: which files, how far it is, and how it ended."""

    id: str
    files: tuple[str, ...]
    state: str = "queued"  # queued | running | done | failed
    done: int = 0  # passages embedded so far
    total: int = 0  # passages to embed (known once the files are loaded and chunked)
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    report: IngestReport | None = None
    error: str | None = None
    exception: BaseException | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "files": list(self.files), "state": self.state,
                "done": self.done, "total": self.total, "submitted": self.submitted,
                "started": self.started, "finished": self.finished,
                "report": self.report.to_dict() if self.report else None, "error": self.error}


def _lower_priority() -> None:
    """Lower the calling thread's CPU priority (Linux: a thread id is a PRIO_PROCESS target)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), INGEST_NICENESS)
    except (AttributeError, OSError) as exc:
        logger.info("ingest runs at normal priority: %s", exc)


class IngestJobs(Generic[F]):
    """A queue of ingest jobs run one at a time on a low-priority thread."""

    def __init__(self, run: Runner[F]) -> None:
        self._run = run
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._cond = threading.Condition()
        self._queue: queue.Queue[tuple[str, Sequence[F]] | None] = queue.Queue()
        self._ids = itertools.count(1)
        self._thread: threading.Thread | None = None

    def submit(self, files: Sequence[F], names: Sequence[str]) -> Job:
        """Queue `files` (what the runner takes) for indexing; `names` are shown to users."""
        with self._cond:
            job = Job(id=f"job-{next(self._ids)}", files=tuple(names))
            self._jobs[job.id] = job
            self._forget_old()
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="newscite-ingest",
                                                daemon=True)
                self._thread.start()
        self._queue.put((job.id, files))
        return job

    def get(self, job_id: str) -> Job | None:
        with self._cond:
            return self._jobs.get(job_id)

    def list(self) -> list[Job]:
        with self._cond:
            return list(self._jobs.values())

    def busy(self) -> bool:
        """True while a job is queued or running."""
        with self._cond:
            return any(j.state in ("queued", "running") for j in self._jobs.values())

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """Block until the job has finished (or `timeout` seconds passed); its latest state."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                job = self._jobs[job_id]
                if job.state in ("done", "failed"):
                    return job
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return job
                self._cond.wait(left)

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)

    # --- the worker ---------------------------------------------------------------------------
    def _update(self, job_id: str, **changes: Any) -> None:
        with self._cond:
            self._jobs[job_id] = replace(self._jobs[job_id], **changes)
            self._cond.notify_all()

    def _forget_old(self) -> None:
        finished = [k for k, j in self._jobs.items() if j.state in ("done", "failed")]
        for key in finished[:max(0, len(finished) - KEEP_FINISHED)]:
            del self._jobs[key]

    def _work(self) -> None:
        _lower_priority()
        while (item := self._queue.get()) is not None:
            job_id, files = item
            self._update(job_id, state="running", started=time.time())

            def progress(done: int, total: int, job_id: str = job_id) -> None:
                self._update(job_id, done=done, total=total)

            try:
                report = self._run(files, progress)
            except RagError as exc:
                self._update(job_id, state="failed", error=str(exc), exception=exc,
                             finished=time.time())
            except Exception as exc:  # noqa: BLE001 - the job fails, the server goes on
                logger.error("ingest job %s failed", job_id, exc_info=exc)
                self._update(job_id, state="failed", error=GENERIC_ERROR, exception=exc,
                             finished=time.time())
            else:
                self._update(job_id, state="done", report=report, finished=time.time(),
                             done=report.chunks_embedded, total=report.chunks_embedded)
