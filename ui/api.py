"""The REST API under /api (JSON and server-sent events) and the /article/{id} page."""
from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import anyio
from fastapi import APIRouter, FastAPI, File, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    Response,
    StreamingResponse,
)
from pydantic import AfterValidator, BaseModel, Field
from starlette.concurrency import run_in_threadpool

from core.errors import (
    ConfigError,
    EngineError,
    IndexError_,
    IndexLockedError,
    InputError,
    RagError,
    StoreError,
)
from core.records import Answer, Filters, with_as_of
from index.formats import extensions_text
from index.load import web_url
from ui import render
from ui.markdown import answer_markdown
from ui.service import (
    GENERIC_ERROR,
    MAX_TOP_K,
    Library,
    UnsupportedFileTypeError,
    Upload,
    UploadTooLargeError,
    make_filters,
    parse_history,
)

if TYPE_CHECKING:
    from rag.assistant import StreamEvent

logger = logging.getLogger(__name__)

Engine = Literal["auto", "extractive", "local", "openai"]
AnswerFormat = Literal["json", "markdown"]
UPLOAD_FILES = f"one or more files: {extensions_text()}"
DOCS_ASSETS = "/docs/assets"
# the files /docs (Swagger UI 5) and /redoc need, from the fastapi-offline package: served
# here, never from a CDN
DOC_FILES = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css",
             "redoc.standalone.js": "text/javascript", "favicon.png": "image/png"}
# the doc pages may load nothing from elsewhere (ReDoc would show a logo from its CDN);
# FastAPI's pages start the viewers with an inline script, ReDoc searches in a blob: worker
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
            "worker-src 'self' blob:; connect-src 'self'; base-uri 'none'; form-action 'none'")


class FiltersIn(BaseModel):
    """Restrict the search; dates are ISO (YYYY-MM-DD), inclusive."""

    sources: list[Text] = Field(default_factory=list, description="outlets to search")
    date_from: Text | None = Field(None, examples=["2020-02-27"])
    date_to: Text | None = Field(None, examples=["2020-03-05"])
    article_ids: list[Text] = Field(default_factory=list)


def _valid_text(value: str) -> str:
    """Text that can be stored and sent back as UTF-8: no unpaired surrogates ("\\ud800")."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (it holds an unpaired surrogate)") from None
    return value


Text = Annotated[str, AfterValidator(_valid_text)]


class Turn(BaseModel):
    question: Text
    answer: Text


class VerifyIn(BaseModel):
    """A claim (e.g. an answer sentence) and the passage it cites."""

    claim: Text = Field(..., max_length=5_000,
                        examples=["33 Turkish soldiers were killed in an air strike."])
    passage: Text = Field(..., max_length=50_000)


class AskIn(BaseModel):
    """A question, optionally a follow-up to earlier turns (oldest first)."""

    question: Text = Field(..., max_length=20_000,
                           examples=["How many Turkish soldiers were killed?"])
    history: list[tuple[Text, Text]] | list[Turn] | None = Field(
        None, description="earlier turns as [[question, answer], ...] or "
                          "[{\"question\": ..., \"answer\": ...}, ...]")
    filters: FiltersIn | None = None
    engine: Engine | None = Field(None, description="default: the server's engine")
    top_k: int | None = Field(None, ge=1, le=MAX_TOP_K, description="passages to retrieve")
    as_of: str | None = Field(None, examples=["2020-03-05"],
                              description="the question's 'now' (YYYY-MM-DD): articles "
                                          "published after it are not used")


class DeskIn(BaseModel):
    """A question (compare) or topic (timeline) for the news desk."""

    question: Text = Field(..., max_length=2_000,
                           examples=["How many Turkish soldiers were killed?"],
                           description="the question to compare outlets on, or the "
                                       "timeline's topic")
    filters: FiltersIn | None = None
    top_k: int | None = Field(None, ge=1, le=MAX_TOP_K, description="passages to read")
    as_of: str | None = Field(None, examples=["2020-03-05"],
                              description="the 'now' (YYYY-MM-DD): later articles are not used")


def status_for(exc: RagError) -> int:
    """The HTTP status for a newscite error (its message is safe to show)."""
    if isinstance(exc, UploadTooLargeError):
        return 413
    if isinstance(exc, UnsupportedFileTypeError):
        return 415
    if isinstance(exc, (InputError, ConfigError)):
        return 400
    if isinstance(exc, IndexLockedError):
        return 409
    if isinstance(exc, (EngineError, StoreError, IndexError_)):
        return 503
    return 500


def error_response(exc: BaseException) -> JSONResponse:
    if isinstance(exc, RagError):
        return JSONResponse({"detail": str(exc)}, status_code=status_for(exc))
    logger.error("unexpected error", exc_info=exc)
    return JSONResponse({"detail": GENERIC_ERROR}, status_code=500)


def citation_events(answer: Answer) -> list[dict[str, Any]]:
    """Each citation with the span (answer_start/answer_end) of the first sentence citing it
    (None for a citation only what each outlet says refers to)."""
    data = answer.to_dict()
    out = []
    for c in data["citations"]:
        sentence = next((s for s in answer.sentences if c["number"] in s.citations), None)
        out.append({**c, "answer_start": sentence.start if sentence else None,
                    "answer_end": sentence.end if sentence else None})
    return out


def sse(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _history(body: AskIn) -> list[tuple[str, str]]:
    raw = [t.model_dump() if isinstance(t, Turn) else list(t) for t in body.history or []]
    return parse_history(raw)


def _filters(body: AskIn | DeskIn) -> Filters | None:
    f = body.filters
    filters = None if f is None else make_filters(f.sources, f.date_from, f.date_to,
                                                  f.article_ids)
    # InputError (400) for an as_of that is not YYYY-MM-DD
    return with_as_of(filters, body.as_of)


def build_router(library: Library, limits: dict[str, anyio.CapacityLimiter]) -> APIRouter:
    """The REST routes; `limits` holds the worker threads answers may use at once, per kind of
    engine ("extractive", "llm"), so extractive answers never queue behind LLM ones."""
    router = APIRouter(prefix="/api", tags=["newscite"])

    def _limit(body: AskIn) -> anyio.CapacityLimiter:
        try:
            return limits[library.engine_kind(body.engine)]
        except RagError:  # an unusable engine: the question itself reports it
            return limits["extractive"]

    def _start(body: AskIn) -> Generator[StreamEvent, None, None]:
        return library.ask_stream(body.question, _history(body), _filters(body), body.engine,
                                  body.top_k)

    @router.post("/ask", summary="Answer a question with verified citations",
                 responses={200: {"content": {"application/json": {},
                                              "text/markdown": {}}}})
    async def ask(body: AskIn, format: AnswerFormat = Query(  # noqa: A002, B008
            "json", description="json: the Answer (`Answer.to_dict`); markdown: the answer "
                                "as Markdown with numbered footnotes (title, outlet, date, "
                                "URL, quote), as text/markdown")) -> Response:
        """The Answer as JSON (`Answer.to_dict`), or Markdown with `?format=markdown`. 400 for
        an empty question or bad filters."""
        def run() -> Answer:
            final = None
            for event in _start(body):
                if event.kind == "final":
                    final = event.answer
            if final is None:
                raise RagError("the engine ended without an answer")
            return final
        try:
            final = await anyio.to_thread.run_sync(run, limiter=_limit(body))
        except Exception as exc:  # noqa: BLE001 - translated to an HTTP error at the edge
            return error_response(exc)
        if format == "markdown":
            return Response(answer_markdown(final), media_type="text/markdown; charset=utf-8")
        return JSONResponse(final.to_dict())

    @router.post("/ask/stream", summary="Answer as server-sent events",
                 response_class=StreamingResponse,
                 responses={200: {"content": {"text/event-stream": {}}}})
    async def ask_stream(body: AskIn) -> Response:
        """Events: with a generating engine `quick` first (the extractive Answer, checked, to
        show at once), then `token` {"text"}, then `citation` (a citation with
        answer_start/answer_end), then `final` (the whole Answer, authoritative: it may be the
        quick answer again), or `error` {"message"} if it fails midway."""
        # one slot of the ask limiter for the whole stream, held on behalf of this request
        borrower = object()
        ask_limit = _limit(body)
        await ask_limit.acquire_on_behalf_of(borrower)
        try:
            stream = await anyio.to_thread.run_sync(_start, body)
            first = await anyio.to_thread.run_sync(next, stream, None)
        except Exception as exc:  # noqa: BLE001 - errors before the stream starts: HTTP codes
            ask_limit.release_on_behalf_of(borrower)
            return error_response(exc)

        async def events() -> AsyncIterator[str]:
            event = first
            try:
                while event is not None:
                    if event.kind == "quick" and event.answer is not None:
                        yield sse("quick", event.answer.to_dict())
                    elif event.kind == "token":
                        yield sse("token", {"text": event.text})
                    elif event.kind == "final" and event.answer is not None:
                        for citation in citation_events(event.answer):
                            yield sse("citation", citation)
                        yield sse("final", event.answer.to_dict())
                    event = await anyio.to_thread.run_sync(next, stream, None)
            except Exception as exc:  # noqa: BLE001 - the status is sent already: an event
                if not isinstance(exc, RagError):
                    logger.error("unexpected error while streaming", exc_info=exc)
                message = str(exc) if isinstance(exc, RagError) else GENERIC_ERROR
                yield sse("error", {"message": message})
            finally:
                # releases the read lock and the slot even when the client went away midway
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(stream.close)
                ask_limit.release_on_behalf_of(borrower)

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache",
                                          "X-Accel-Buffering": "no"})

    @router.post("/compare", summary="What each outlet says: outlets x values, each cited")
    async def compare(body: DeskIn) -> Response:
        """A table of outlets by the values (or, for a question asking for none, the
        statements) they give, each cell citing a verified span; `claims` groups the same by
        value. 400 for an empty question or bad filters."""
        try:
            table = await anyio.to_thread.run_sync(
                lambda: library.compare(body.question, _filters(body), body.top_k),
                limiter=limits["extractive"])
        except Exception as exc:  # noqa: BLE001 - translated to an HTTP error at the edge
            return error_response(exc)
        return JSONResponse(table.to_dict())

    @router.post("/timeline", summary="Dated events about a topic, in order, each cited")
    async def timeline(body: DeskIn) -> Response:
        """Events about the topic (`question`) ordered by when they happened (dates in the
        text resolved against the article's date), each with its citations and the outlets
        reporting it."""
        try:
            events = await anyio.to_thread.run_sync(
                lambda: library.timeline(body.question, _filters(body), body.top_k),
                limiter=limits["extractive"])
        except Exception as exc:  # noqa: BLE001 - translated to an HTTP error at the edge
            return error_response(exc)
        return JSONResponse(events.to_dict())

    @router.get("/articles", summary="List the indexed articles")
    async def list_articles() -> list[dict[str, Any]]:
        infos = await run_in_threadpool(library.articles)
        return [{"id": a.id, "title": a.title, "source": a.source, "published": a.published,
                 "url": web_url(a.url), "chunks": a.chunks} for a in infos]

    @router.get("/articles/{article_id}", summary="One article with its full text",
                responses={404: {"description": "no such article"}})
    async def get_article(article_id: str) -> dict[str, Any]:
        article = await run_in_threadpool(library.article, article_id)
        if article is None:
            raise HTTPException(404, f"no article with id {article_id}")
        return {"id": article.id, "title": article.title, "source": article.source,
                "published": article.published, "url": web_url(article.url),
                "text": article.text}

    @router.post("/articles", summary="Upload article files; they are indexed in the background",
                 status_code=202,
                 responses={200: {"description": "with wait=true: the ingest report"},
                            413: {"description": "a file is over the size limit"},
                            415: {"description": "a file type is not allowed"}})
    async def upload(files: list[UploadFile] = File(..., description=UPLOAD_FILES),
                     wait: bool = Query(False, description="answer when the files are "
                                        "indexed, with the ingest report"),
                     replace: bool = Query(False, description="delete the articles uploaded "
                                           "earlier under the same file names")) -> Response:
        """Saves the files and starts a background job that indexes them; answers 202 with the
        job (poll `GET /api/jobs/{id}` for progress and the report). Questions keep being
        answered from the articles indexed so far while it runs. Files are told apart by their
        content: another file under a name uploaded before is added beside it, unless
        `replace=true`."""
        saved: list[Upload] = []
        try:
            for f in files:
                saved.append(await run_in_threadpool(library.save_upload, f.filename or "",
                                                     f.file))
            job = library.submit_uploads(saved, replace=replace)
        except Exception as exc:  # noqa: BLE001
            for up in saved:
                up.path.unlink(missing_ok=True)
            return error_response(exc)
        if not wait:
            return JSONResponse(job.to_dict(), status_code=202,
                                headers={"Location": f"/api/jobs/{job.id}"})
        job = await run_in_threadpool(library.jobs.wait, job.id)
        if job.state == "failed":
            return error_response(job.exception or RagError(job.error or GENERIC_ERROR))
        return JSONResponse(job.report.to_dict() if job.report else {}, status_code=200)

    @router.get("/jobs", summary="Ingest jobs: queued, running and recently finished")
    async def list_jobs() -> list[dict[str, Any]]:
        return [job.to_dict() for job in library.jobs.list()]

    @router.get("/jobs/{job_id}", summary="One ingest job: state, progress, report or error",
                responses={404: {"description": "no such job"}})
    async def get_job(job_id: str) -> dict[str, Any]:
        job = library.jobs.get(job_id)
        if job is None:
            raise HTTPException(404, f"no job with id {job_id}")
        return job.to_dict()

    # `Any`: it answers a dict or an error Response, and FastAPI would read a union in the
    # annotation as a response model
    @router.delete("/articles/{article_id}", summary="Remove an article",
                   responses={404: {"description": "no such article"}})
    async def delete(article_id: str) -> Any:
        try:
            deleted = await run_in_threadpool(library.delete, article_id)
        except Exception as exc:  # noqa: BLE001
            return error_response(exc)
        if not deleted:
            raise HTTPException(404, f"no article with id {article_id}")
        return {"deleted": article_id}

    @router.post("/verify", summary="Does a passage support a claim?")
    async def verify_claim(body: VerifyIn) -> dict[str, Any]:
        """The citation check every answer sentence goes through (`rag.verify`): `state` is
        supported, partial or unsupported, `score` the fitted probability of support, `span`
        the offsets of the passage's best supporting sentences, `unsupported` the claim's
        words (names, numbers, content words) the passage does not state."""
        from rag.support import verify

        result = await run_in_threadpool(verify, body.claim, body.passage)
        return {"state": result.state, "score": round(result.score, 4),
                "span": list(result.span), "unsupported": list(result.unsupported)}

    @router.get("/conversations", summary="Saved web-chat conversations, the latest first",
                responses={400: {"description": "a malformed session id"}})
    async def list_conversations(session: str | None = Query(
            None, description="only the conversations of this browser session")) -> Any:
        """Each conversation's id, session, name, title (its name, else its first question),
        created and updated (Unix seconds) and number of turns."""
        try:
            items = await run_in_threadpool(library.conversations.list, session)
        except Exception as exc:  # noqa: BLE001
            return error_response(exc)
        return [c.summary() for c in items]

    @router.get("/conversations/{conversation_id}", summary="One saved conversation",
                responses={400: {"description": "a malformed id"},
                           404: {"description": "no such conversation"}})
    async def get_conversation(conversation_id: str) -> Any:
        """The conversation with its turns: question, engine and answer (`Answer.to_dict`)."""
        try:
            conversation = await run_in_threadpool(library.conversations.get, conversation_id)
        except Exception as exc:  # noqa: BLE001
            return error_response(exc)
        if conversation is None:
            raise HTTPException(404, "no such conversation")
        return conversation.to_dict()

    @router.delete("/conversations/{conversation_id}", summary="Delete a saved conversation",
                   responses={400: {"description": "a malformed id"},
                              404: {"description": "no such conversation"}})
    async def delete_conversation(conversation_id: str) -> Any:
        try:
            deleted = await run_in_threadpool(library.conversations.delete, conversation_id)
        except Exception as exc:  # noqa: BLE001
            return error_response(exc)
        if not deleted:
            raise HTTPException(404, "no such conversation")
        return {"deleted": conversation_id}

    @router.get("/health", summary="Liveness and index size")
    async def health() -> dict[str, Any]:
        count = await run_in_threadpool(library.count)
        return {"status": "ok", "articles": count, "engine": library.default_engine}

    return router


def add_article_page(app: FastAPI, library: Library) -> None:
    @app.get("/article/{article_id}", response_class=HTMLResponse, include_in_schema=False)
    async def article_page(article_id: str, start: int | None = Query(None, ge=0),
                           end: int | None = Query(None, ge=0)) -> HTMLResponse:
        article = await run_in_threadpool(library.article, article_id)
        if article is None:
            return HTMLResponse("<!DOCTYPE html><title>Not found</title><p>No such article.</p>",
                                status_code=404)
        return HTMLResponse(render.article_page(article, start, end),
                            headers={"Content-Security-Policy":
                                     "default-src 'none'; style-src 'unsafe-inline'; "
                                     "base-uri 'none'; form-action 'none'",
                                     "X-Content-Type-Options": "nosniff",
                                     "Referrer-Policy": "no-referrer"})


def add_api_docs(app: FastAPI) -> None:
    """Swagger UI at /docs and ReDoc at /redoc with their scripts, style sheet and icon served
    by this app (from the fastapi-offline package), so the docs work offline. FastAPI's own
    pages load them from a CDN: the app is made with both off."""
    from importlib.resources import files

    from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html

    folder = Path(str(files("fastapi_offline") / "static"))

    def urls(request: Request) -> tuple[str, str]:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return root + (app.openapi_url or "/openapi.json"), root + DOCS_ASSETS

    def secured(page: HTMLResponse) -> HTMLResponse:
        page.headers["Content-Security-Policy"] = DOCS_CSP
        return page

    @app.get("/docs", include_in_schema=False)
    async def swagger(request: Request) -> HTMLResponse:
        spec, assets = urls(request)
        return secured(get_swagger_ui_html(
            openapi_url=spec, title=f"{app.title} REST API",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon.png", oauth2_redirect_url=None,
            # no badge from validator.swagger.io
            swagger_ui_parameters={"validatorUrl": None}))

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        spec, assets = urls(request)
        return secured(get_redoc_html(openapi_url=spec, title=f"{app.title} REST API",
                                      redoc_js_url=f"{assets}/redoc.standalone.js",
                                      redoc_favicon_url=f"{assets}/favicon.png",
                                      with_google_fonts=False))

    @app.get(DOCS_ASSETS + "/{name}", include_in_schema=False)
    async def docs_asset(name: str) -> Response:
        if name not in DOC_FILES:
            raise HTTPException(404, "Not Found")
        return FileResponse(folder / name, media_type=DOC_FILES[name],
                            headers={"Cache-Control": "public, max-age=86400"})


def validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    """What was wrong with a request, never the input itself: echoing it back could be huge,
    could not always be encoded (NaN, unpaired surrogates), and reflects the caller's data."""
    out = []
    for error in exc.errors()[:20]:
        loc = [part if isinstance(part, (int, str)) else str(part) for part in error.get("loc", ())]
        out.append({"loc": loc, "msg": str(error.get("msg", "invalid"))[:200],
                    "type": str(error.get("type", "value_error"))})
    return out


def add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RagError)
    async def rag_error(_: Request, exc: RagError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_details(exc)}, status_code=422)
