"""One process, one Assistant: the Gradio web chat at / and the REST API under /api."""
from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio

logger = logging.getLogger(__name__)

ASK_CONCURRENCY = 2  # answers computed at once over REST; more wait in line (CPU bound)


def create_app(assistant: Any, *, max_upload_bytes: int = 5_000_000,
               queue_size: int = 64) -> Any:
    """A FastAPI app: REST API under /api (OpenAPI at /docs), /article/{id}, Gradio at /."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr
    from fastapi import FastAPI

    from ui import render
    from ui.api import add_article_page, add_error_handlers, build_router
    from ui.service import Library
    from ui.web import build_blocks

    library = Library(assistant, max_upload_bytes=max_upload_bytes)
    app = FastAPI(title="newscite", version="0.1.0",
                  description="Answers about news articles; every sentence cites its passage. "
                              "Errors are JSON {\"detail\": message}: 400 bad input (an empty "
                              "question, bad filters), 404 unknown article, 409 index busy, "
                              "413 upload too large, 415 file type not allowed, 422 malformed "
                              "request (invalid JSON, missing or mistyped fields), 503 engine "
                              "or store unavailable.")
    app.state.library = library
    add_error_handlers(app)
    app.include_router(build_router(library, anyio.CapacityLimiter(ASK_CONCURRENCY)))
    add_article_page(app, library)

    blocks = build_blocks(library)
    blocks.queue(max_size=queue_size, default_concurrency_limit=1)
    data_dir = str(Path(assistant.settings.data_dir).resolve())
    return gr.mount_gradio_app(
        app, blocks, path="/", server_name="127.0.0.1", show_error=False,
        max_file_size=max_upload_bytes, allowed_paths=[], blocked_paths=[data_dir],
        footer_links=["api"], ssr_mode=False, mcp_server=False, css=render.CSS)


def serve(settings: Any, host: str = "127.0.0.1", port: int = 7860,
          ingest: Sequence[str | Path] = ()) -> None:
    """Index `ingest` folders (if any), then serve until interrupted."""
    import uvicorn

    from rag.assistant import Assistant
    from rag.errors import RagError

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    assistant = Assistant(settings)
    if ingest:
        report = assistant.ingest(list(ingest))
        logger.warning("indexed %s: %s", ", ".join(map(str, ingest)), report.summary())
        for skipped in report.skipped:
            logger.warning("skipped %s: %s", skipped.path, skipped.reason)
    # load the embedding model now, so the first question is not the slow one
    try:
        assistant.retrieve("warm up")
    except RagError as exc:  # an empty or unreachable index: say so, serve anyway
        logger.warning("%s", exc)
    app = create_app(assistant)
    shown = f"[{host}]" if ":" in host else host
    logger.warning("newscite is serving %d articles at http://%s:%d/ (REST API: /api, docs: "
                   "/docs); press Ctrl+C to stop", len(assistant.articles()), shown, port)
    try:
        # open streams (the chat queue's heartbeats) must not hold up Ctrl+C for long
        uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=2)
    finally:
        assistant.close()
