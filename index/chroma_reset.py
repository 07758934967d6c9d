"""Reset the Chroma store for a rebuild: drop its collection, or set a damaged folder aside."""
from __future__ import annotations

import logging
import time
from pathlib import Path

from core.errors import IndexError_, StoreError
from core.settings import Settings

logger = logging.getLogger(__name__)


def short_error(exc: BaseException) -> str:
    """An exception as one line of at most 300 characters (a damaged store's can be long)."""
    return " ".join(str(exc).split())[:300] or type(exc).__name__


def drop_collection(settings: Settings) -> Path | None:
    """Delete the collection; an embedded store too damaged to open is moved aside (returned,
    removed once the rebuild succeeds)."""
    from index.store import make_client

    data_dir = Path(settings.data_dir)
    try:
        client = make_client(data_dir, settings.chroma_url)
        names = {getattr(c, "name", c) for c in client.list_collections()}
        if settings.collection in names:
            client.delete_collection(settings.collection)
        return None
    except Exception as exc:
        if settings.chroma_url:
            raise StoreError(f"cannot reset the collection on the Chroma server: "
                             f"{short_error(exc)}") from exc
        logger.warning("the Chroma store cannot be opened (%s); starting it afresh",
                       short_error(exc))
    folder = data_dir / "chroma"
    release_embedded(folder)
    if not folder.exists():
        return None
    aside = data_dir / f"chroma.damaged-{int(time.time())}"
    try:
        folder.rename(aside)
    except OSError as exc:
        raise IndexError_(f"cannot move the damaged Chroma folder {folder}: "
                          f"{exc.strerror}") from exc
    return aside


def release_embedded(folder: Path) -> None:
    """Forget this process's cached Chroma system for one folder (it may hold the old files)."""
    try:
        from chromadb.api.shared_system_client import SharedSystemClient
    except ImportError:
        return
    for ident in [str(folder), str(folder.resolve())]:
        system = SharedSystemClient._identifier_to_system.pop(ident, None)
        SharedSystemClient._identifier_to_refcount.pop(ident, None)
        if system is not None:
            try:
                system.stop()
            except Exception:
                logger.debug("stopping the old Chroma system failed", exc_info=True)
