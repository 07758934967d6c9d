"""The Gradio web chat: Chat (streamed, cited answers), Library (add, find, delete), Settings."""
from __future__ import annotations

import html
import logging
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import gradio as gr

from core.errors import RagError
from core.records import IngestReport, with_as_of
from index.formats import EXTENSIONS, extensions_text
from ui import render
from ui.conversations import Conversation, Turn, check_id, new_id
from ui.desk_web import build_desk_tab
from ui.service import (
    GENERIC_ERROR,
    MAX_TOP_K,
    Library,
    Upload,
    make_filters,
    size_text,
)

logger = logging.getLogger(__name__)

STREAM_EVERY = 0.05  # seconds between redraws while tokens arrive
PRIVATE: Final = "private"  # the `api_visibility` of handlers that are not a public API
# The chat's script. Copy buttons (ui.render.actions_html) copy the Markdown their Export
# link holds (navigator.clipboard needs a secure context, https or localhost; elsewhere
# execCommand). Esc clicks Stop while an answer streams in.
CHAT_JS: Final = """
if (!window.ncStopOnEscape) {
  window.ncStopOnEscape = true;
  document.addEventListener('keydown', (event) => {
    const stop = document.querySelector('#nc-stop');
    if (event.key === 'Escape' && stop && stop.offsetParent !== null) {
      event.preventDefault();
      stop.click();
    }
  });
}
// a new question, and then its checked answer, scroll into view (the question at the top, its
// answer right below it)
let ncAsked = element.querySelectorAll('.nc-q').length;
let ncAnswered = element.querySelectorAll('.nc-final').length;
new MutationObserver(() => {
  const asked = element.querySelectorAll('.nc-q');
  const answered = element.querySelectorAll('.nc-final').length;
  if (asked.length && (asked.length > ncAsked || answered > ncAnswered)) {
    asked[asked.length - 1].scrollIntoView({block: 'start'});
  }
  ncAsked = asked.length;
  ncAnswered = answered;
}).observe(element, {childList: true, subtree: true});
element.addEventListener('click', async (event) => {
  const button = event.target.closest('button.nc-copy');
  if (!button) return;
  const link = button.parentElement.querySelector('a.nc-export');
  const bytes = Uint8Array.from(atob(link.href.split(',')[1]), c => c.charCodeAt(0));
  const text = new TextDecoder().decode(bytes);
  try {
    await navigator.clipboard.writeText(text);
  } catch (e) {
    const area = document.createElement('textarea');
    area.value = text;
    document.body.appendChild(area);
    area.select();
    document.execCommand('copy');
    area.remove();
  }
  const label = button.dataset.label || button.textContent;
  button.dataset.label = label;
  button.textContent = 'Copied';
  setTimeout(() => { button.textContent = label; }, 1500);
});
"""


def _message(exc: Exception) -> str:
    """A short message for the user; unexpected errors are logged, never shown."""
    if isinstance(exc, RagError):  # Gradio shows the message as HTML: it may echo user input
        return html.escape(str(exc))
    logger.error("unexpected error in the web chat", exc_info=exc)
    return GENERIC_ERROR


class _Refused(Exception):
    """A mistake in the web page's input (no file, no question, a bad date): one warning, and
    every output left as it was. Raising gr.Error instead would put each output component in
    Gradio's error state, with an "Error" label that stays until the page is reloaded."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _warn(message: str) -> None:
    gr.Warning(message, title="Not done")


def _report_lines(report: IngestReport) -> list[str]:
    """A fetch or sync report for the status line: counts, then every skip and warning."""
    lines = [f"{len(report.added)} added, {len(report.updated)} updated, "
             f"{len(report.unchanged)} unchanged, {len(report.skipped)} skipped "
             f"({report.chunks_embedded} passages in {report.seconds:.1f} s)."]
    lines += [f"Skipped {s.path}: {s.reason}" for s in report.skipped]
    lines += [f"Warning: {w}" for w in report.warnings]
    return lines


LOAD_STATUS_AFTER = 0.5  # seconds a model load takes before the pending answer says so


class _Status:
    """Not an answer event: what the answer waits for (None: nothing any more)."""

    kind = "status"

    def __init__(self, text: str | None) -> None:
        self.text = text


class _LoadWatch:
    """The answer's events, read on a helper thread, with `_Status` events between them while
    the local model is assembled or loaded (after `after` seconds of it): the page can say so
    while the stream is blocked in the load. `close` stops the stream at its next event."""

    def __init__(self, stream: Iterator[Any], after: float = LOAD_STATUS_AFTER,
                 every: float = 0.2) -> None:
        from rag.llm.model import LOAD_MESSAGES, on_load_progress

        self._messages = LOAD_MESSAGES
        self._events: queue.Queue[Any] = queue.Queue()
        self._stop = threading.Event()
        self._stage: tuple[str | None, float] = (None, 0.0)
        self._after, self._every = after, every
        self._remove = on_load_progress(self._changed)
        self._stream = stream
        threading.Thread(target=self._pump, name="answer-stream", daemon=True).start()

    def _changed(self, stage: str | None) -> None:
        self._stage = (stage, time.monotonic())

    def _pump(self) -> None:
        try:
            for event in self._stream:
                self._events.put(event)
                if self._stop.is_set():
                    break
        except BaseException as exc:  # noqa: BLE001 - handed to the reader
            self._events.put(exc)
        finally:
            close = getattr(self._stream, "close", None)
            if close is not None:
                close()
            self._events.put(StopIteration())

    def __iter__(self) -> Iterator[Any]:
        shown: str | None = None
        while True:
            try:
                item = self._events.get(timeout=self._every)
            except queue.Empty:
                item = None
            stage, since = self._stage
            wanted = (self._messages.get(stage, stage)
                      if stage and time.monotonic() - since >= self._after else None)
            if wanted != shown:
                shown = wanted
                yield _Status(wanted)
            if item is None:
                continue
            if isinstance(item, StopIteration):
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._remove()
        self._stop.set()


def _web_turns(conversation: Conversation | None) -> list[dict[str, Any]]:
    """A stored conversation as the chat's turns (dicts of question, Answer, engine)."""
    if conversation is None:
        return []
    return [{"question": t.question, "answer": t.answer, "engine": t.engine}
            for t in conversation.turns]


def _session(state: object) -> str:
    """The browser session's id from its stored state, or a new one."""
    session = state.get("session") if isinstance(state, dict) else None
    try:
        return check_id(session, "session id")
    except RagError:
        return new_id()


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))


def build_blocks(library: Library) -> gr.Blocks:
    """The whole web UI, bound to one Library (the shared Assistant)."""
    store = library.conversations

    def conversation_choices(session: str, current: str) -> Any:
        """The list of this browser's conversations, `current` selected."""
        items = store.list(session)
        choices = [(f"{c.title[:70]} · {_when(c.updated)}", c.id) for c in items]
        ids = {c.id for c in items}
        return gr.update(choices=choices, value=current if current in ids else None)

    def restore(state: object) -> Any:
        """On page load: this browser's session (made on its first visit) and the
        conversation it had open."""
        session = _session(state)
        current = state.get("current") if isinstance(state, dict) else ""
        conversation = None
        if current:
            try:
                conversation = store.get(str(current))
            except RagError:
                conversation = None
        turns = _web_turns(conversation)
        cid = conversation.id if conversation is not None else ""
        try:
            listed = conversation_choices(session, cid)
        except OSError as exc:
            logger.warning("cannot list the conversations: %s", exc)
            listed = gr.skip()
        return ({"session": session, "current": cid}, cid, turns, render.chat_html(turns),
                listed)

    def keep(turns: list[dict[str, Any]] | None, cid: str, state: object) -> Any:
        """After an answer: the conversation is stored (a new one for its first answer)."""
        if not turns:
            return gr.skip()
        session = _session(state)
        try:
            conversation = store.keep(cid or None, session, [
                Turn(t["question"], t["answer"], t.get("engine") or "") for t in turns])
        except Exception as exc:  # noqa: BLE001 - the answer is shown; saving it failed
            logger.error("cannot save the conversation: %s", exc)
            _warn("The conversation could not be saved; the details are in the server log.")
            return gr.skip()
        return (conversation.id, {"session": session, "current": conversation.id},
                conversation_choices(session, conversation.id))

    def open_conversation(chosen: str | None, state: object) -> Any:
        session = _session(state)
        try:
            conversation = store.get(chosen) if chosen else None
            if conversation is None:
                raise _Refused("That conversation is gone.")
        except (_Refused, RagError) as exc:
            _warn(exc.message if isinstance(exc, _Refused) else _message(exc))
            return gr.skip()
        turns = _web_turns(conversation)
        return (render.chat_html(turns), turns, conversation.id,
                {"session": session, "current": conversation.id}, conversation.name, None)

    def rename_conversation(name: str, cid: str, state: object) -> Any:
        session = _session(state)
        try:
            if not cid:
                raise _Refused("Ask a question first, then name the conversation.")
            if store.rename(cid, name or "") is None:
                raise _Refused("That conversation is gone.")
        except (_Refused, RagError) as exc:
            _warn(exc.message if isinstance(exc, _Refused) else _message(exc))
            return gr.skip()
        gr.Info("Conversation renamed.")
        return conversation_choices(session, cid)

    def delete_conversation(chosen: str | None, cid: str, state: object) -> Any:
        session = _session(state)
        try:
            if not chosen:
                raise _Refused("Choose a conversation to delete first.")
            if not store.delete(chosen):
                raise _Refused("That conversation is gone.")
        except (_Refused, RagError) as exc:
            _warn(exc.message if isinstance(exc, _Refused) else _message(exc))
            return gr.skip()
        if chosen != cid:  # another conversation: the open one stays
            return (gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(),
                    conversation_choices(session, cid))
        return (render.chat_html([]), [], "", {"session": session, "current": ""}, "",
                conversation_choices(session, ""))

    def answer(question: str, turns: list[dict[str, Any]] | None, engine: str | None,
               top_k: float,
               sources: list[str] | None, date_from: str, date_to: str, as_of: str = ""
               ) -> Iterator[tuple[Any, str, str, list[dict[str, Any]]]]:
        """Answer `question` as a follow-up to the conversation; yields (answer JSON, chat HTML,
        question box, conversation) as the draft streams in, then with the checked answer.
        Raises _Refused for bad input and for failures (the chat is restored first). With no
        `engine`, the conversation keeps the engine of its last question."""
        turns = list(turns or [])
        engine = engine or (turns[-1].get("engine") if turns else None) or ""
        question = (question or "").strip()
        if not question:
            raise _Refused("Type a question first.")
        history = [(t["question"], t["answer"].text) for t in turns]
        try:
            # "as of": the question's "now" (nothing published after it is used)
            filters = with_as_of(make_filters(sources, date_from, date_to), as_of or None)
            stream = library.ask_stream(question, history, filters, engine or None,
                                        int(top_k) if top_k else None)
        except Exception as exc:  # noqa: BLE001 - shown as a short message
            raise _Refused(_message(exc)) from exc
        # the conversation (a State) changes only with the checked answer, and into a new list:
        # a stopped answer's thread runs on to its end, and must not touch the one the session
        # holds
        yield gr.skip(), render.chat_html(turns, question, ""), "", gr.skip()
        draft, shown, final, quick, status = "", 0.0, None, None, None
        watched = _LoadWatch(stream)
        try:
            for event in watched:
                if event.kind == "status":  # the model is loading: say so in the pending answer
                    status = event.text
                    yield gr.skip(), render.chat_html(turns, question, draft, quick, status), \
                        gr.skip(), gr.skip()
                elif event.kind == "quick":  # the extractive answer, while the model writes
                    quick = event.answer
                    yield gr.skip(), render.chat_html(turns, question, draft, quick), \
                        gr.skip(), gr.skip()
                elif event.kind == "token":
                    draft += event.text
                    if time.monotonic() - shown >= STREAM_EVERY:
                        shown = time.monotonic()
                        yield gr.skip(), render.chat_html(turns, question, draft, quick), \
                            gr.skip(), gr.skip()
                elif event.kind == "final":
                    final = event.answer
            if final is None:
                raise RagError("the engine ended without an answer")
        except Exception as exc:  # noqa: BLE001 - restore the chat, give the question back
            yield gr.skip(), render.chat_html(turns), question, gr.skip()
            raise _Refused(_message(exc)) from exc
        finally:
            watched.close()
        turns = [*turns, {"question": question, "answer": final, "engine": engine}]
        yield final.to_dict(), render.chat_html(turns), "", turns

    def ask(question: str, turns: list[dict[str, Any]] | None, engine: str | None = None,
            top_k: float = 0, sources: list[str] | None = None, date_from: str = "",
            date_to: str = "", as_of: str = ""
            ) -> Iterator[tuple[Any, str, str, list[dict[str, Any]]]]:
        """The public API (gradio_client's /ask): errors are raised, so callers see them; a
        follow-up without `engine` uses the conversation's."""
        try:
            yield from answer(question, turns, engine, top_k, sources, date_from, date_to,
                              as_of)
        except _Refused as exc:
            raise gr.Error(exc.message) from exc

    def ask_in_page(question: str, turns: list[dict[str, Any]] | None, engine: str,
                    top_k: float, sources: list[str] | None, date_from: str,
                    date_to: str, as_of: str = "", cid: str = "", state: object = None
                    ) -> Iterator[tuple[Any, ...]]:
        """The web page's Ask: a mistake or failure is one warning, never an error state. The
        Stop button shows while the answer streams in; the answered conversation is saved."""
        asked = None
        try:
            for shown in answer(question, turns, engine, top_k, sources, date_from, date_to,
                                as_of):
                yield *shown, gr.update(visible=True), gr.skip(), gr.skip(), gr.skip()
                if isinstance(shown[3], list):
                    asked = shown[3]
        except _Refused as exc:
            _warn(exc.message)
        saved = keep(asked, cid, state) if asked else gr.skip()
        yield (gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.update(visible=False),
               *(saved if isinstance(saved, tuple) else (gr.skip(),) * 3))

    def ask_example(sample: list[str] | None, *rest: Any) -> Iterator[tuple[Any, ...]]:
        """A "Try asking" question, asked at once."""
        yield from ask_in_page((sample or [""])[0], *rest)

    def stopped(turns: list[dict[str, Any]] | None) -> tuple[str, Any]:
        """After Stop: the conversation as it was before the stopped question."""
        return render.chat_html(list(turns or [])), gr.update(visible=False)

    def new_chat(state: object) -> tuple[Any, ...]:
        session = _session(state)
        return (render.chat_html([]), [], None, "", "", {"session": session, "current": ""},
                gr.update(value=None), "")

    def refresh(query: str = "") -> tuple[Any, ...]:
        """Everything that depends on the indexed articles."""
        try:
            infos = library.articles()
            examples = library.example_questions()
        except Exception as exc:  # noqa: BLE001
            raise _Refused(_message(exc)) from exc
        choices = [(f"{a.title[:80]} ({a.source or 'unknown outlet'}, {a.id})", a.id)
                   for a in infos]
        sources = sorted({a.source for a in infos if a.source})
        return (render.library_html(infos, query),
                gr.update(choices=choices, value=None),
                gr.update(choices=sources),
                gr.update(samples=[[q] for q in examples], visible=bool(examples)))

    def add_files(files: list[str] | None, query: str, replace: bool,
                  progress: gr.Progress = gr.Progress()) -> Any:  # noqa: B008
        """The outputs, or gr.skip() (every output as it was) after a warning."""
        try:
            return _add_files(files, query, replace, progress)
        except _Refused as exc:
            _warn(exc.message)
            return gr.skip()

    def _add_files(files: list[str] | None, query: str, replace: bool,
                   progress: gr.Progress) -> tuple[Any, ...]:
        if not files:
            raise _Refused("Choose one or more files first.")
        saved: list[Upload] = []
        try:
            for path in files:
                # the cached copy keeps the user's file name
                with open(path, "rb") as handle:
                    saved.append(library.save_upload(Path(path).name, handle))
            progress(0, desc="Indexing…")
            report = library.ingest_uploads(
                saved, progress=lambda done, total: progress((done, total), desc="Embedding",
                                                             unit="chunks"), replace=replace)
        except Exception as exc:  # noqa: BLE001
            for up in saved:
                up.path.unlink(missing_ok=True)
            raise _Refused(_message(exc)) from exc
        lines = _report_lines(report)
        if report.added or report.updated:
            gr.Info("Added to the library; you can ask about it now.")
        return (render.status_html(lines, error=bool(report.skipped)), None,
                *refresh(query))

    def delete(article_id: str | None, query: str) -> Any:
        """The outputs, or gr.skip() (every output as it was) after a warning."""
        try:
            if not article_id:
                raise _Refused("Choose an article to delete first.")
            try:
                deleted = library.delete(article_id)
            except Exception as exc:  # noqa: BLE001
                raise _Refused(_message(exc)) from exc
            if not deleted:
                raise _Refused(f"No article with id {html.escape(article_id)}.")
            return (render.status_html([f"Deleted article {article_id}."]), *refresh(query))
        except _Refused as exc:
            _warn(exc.message)
            return gr.skip()

    def load(query: str) -> Any:
        try:
            return refresh(query)
        except _Refused as exc:
            _warn(exc.message)
            return gr.skip()

    def add_url(url: str, query: str,
                progress: gr.Progress = gr.Progress()) -> Any:  # noqa: B008
        """A feed (added and synced) or an article page (indexed) from its address; or
        gr.skip() (every output as it was) after a warning."""
        url = (url or "").strip()
        try:
            if not url:
                raise _Refused("Type the address of a feed or an article page first.")
            try:
                progress(0, desc="Fetching…")
                report = library.add_link(url, progress=lambda done, total: progress(
                    (done, total), desc="Embedding", unit="chunks"))
            except Exception as exc:  # noqa: BLE001
                raise _Refused(_message(exc)) from exc
        except _Refused as exc:
            _warn(exc.message)
            return gr.skip()
        return (render.status_html(_report_lines(report), error=bool(report.skipped)), "",
                render.feeds_html(library.feeds()), *refresh(query))

    def sync_feeds(query: str, progress: gr.Progress = gr.Progress()  # noqa: B008
                   ) -> Any:
        try:
            progress(0, desc="Syncing feeds…")
            report = library.sync(progress=lambda done, total: progress(
                (done, total), desc="Embedding", unit="chunks"))
        except Exception as exc:  # noqa: BLE001
            _warn(_message(exc))
            return gr.skip()
        return (render.status_html(_report_lines(report), error=bool(report.skipped)),
                render.feeds_html(library.feeds()), *refresh(query))

    demo: gr.Blocks
    with gr.Blocks(title="newscite", analytics_enabled=False) as demo:
        turns = gr.State([])
        conversation_id = gr.State("")
        # this browser's session id and its open conversation, kept in localStorage
        browser = gr.BrowserState({"session": "", "current": ""},
                                  storage_key="newscite-chat", secret=store.browser_key())
        gr.HTML("<h2 style='margin:4px 0'>newscite</h2><div class='nc-meta'>Answers about the "
                "indexed news articles. Every sentence cites the exact passage it came from."
                "</div>", js_on_load=None)
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                with gr.Accordion("Conversations", open=False, elem_id="nc-conversations"):
                    with gr.Row(equal_height=True):
                        conversation_choice = gr.Dropdown(
                            label="Open a conversation", choices=[], scale=4,
                            elem_id="nc-conv-choice")
                        delete_conv = gr.Button("Delete", variant="stop", scale=1,
                                                elem_id="nc-conv-delete")
                    with gr.Row(equal_height=True):
                        conversation_name = gr.Textbox(
                            label="Name this conversation", scale=4, elem_id="nc-conv-name",
                            placeholder="its first question until named")
                        rename_conv = gr.Button("Save name", scale=1, elem_id="nc-conv-rename")
                chat = gr.HTML(render.chat_html([]), label="chat", elem_id="nc-chat",
                               js_on_load=CHAT_JS, min_height=240)
                with gr.Row(equal_height=True):
                    question = gr.Textbox(label="question", show_label=False,
                                          elem_id="nc-question", scale=8,
                                          placeholder="Ask about the articles…", lines=1,
                                          max_lines=4, autofocus=True)
                    send = gr.Button("Ask", variant="primary", elem_id="nc-send", scale=1)
                    stop = gr.Button("Stop", variant="stop", elem_id="nc-stop", scale=1,
                                     visible=False)
                    new = gr.Button("New chat", elem_id="nc-new", scale=1)
                examples = gr.Dataset(components=[question], samples=[], label="Try asking",
                                      elem_id="nc-examples", visible=False)
                with gr.Accordion("Answer JSON (what the API returns)", open=False):
                    answer_json = gr.JSON(label="answer", elem_id="nc-json", show_label=False)
            with gr.Tab("Library", id="library"):
                search = gr.Textbox(label="Search articles", elem_id="nc-search",
                                    placeholder="title, outlet, date or id")
                table = gr.HTML(elem_id="nc-library", js_on_load=None)
                upload = gr.File(label=f"Add articles ({extensions_text()}, up to "
                                       f"{size_text(library.max_upload_bytes)} each)",
                                 file_count="multiple", file_types=list(EXTENSIONS),
                                 elem_id="nc-upload")
                replace = gr.Checkbox(False, label="Replace articles uploaded earlier under "
                                      "the same file name", elem_id="nc-replace")
                add = gr.Button("Add to library", variant="primary", elem_id="nc-add")
                with gr.Row(equal_height=True):
                    link = gr.Textbox(label="Add feed or link", elem_id="nc-link", scale=5,
                                      placeholder="https://… an RSS or Atom feed, or an "
                                      "article page")
                    add_link = gr.Button("Add", elem_id="nc-add-link", scale=1)
                    sync_now = gr.Button("Sync feeds now", elem_id="nc-sync", scale=1)
                status = gr.HTML(elem_id="nc-status", js_on_load=None)
                feeds_table = gr.HTML(elem_id="nc-feeds", js_on_load=None)
                with gr.Row(equal_height=True):
                    victim = gr.Dropdown(label="Delete an article", choices=[], scale=4,
                                         elem_id="nc-delete-choice")
                    remove = gr.Button("Delete", variant="stop", scale=1, elem_id="nc-delete")
            with gr.Tab("Settings", id="settings"):
                engine = gr.Radio(library.engines(), value=library.default_engine,
                                  label="Answer engine", elem_id="nc-engine",
                                  info="auto = the local LLM when installed, else extractive; "
                                       "openai needs a server (serve --openai-url)")
                top_k = gr.Slider(1, MAX_TOP_K, value=library.default_top_k, step=1,
                                  label="Passages to retrieve (top_k)", elem_id="nc-topk")
                # any outlet name is accepted (uploads add outlets after the page was built)
                sources = gr.Dropdown(label="Only these outlets", choices=library.sources(),
                                      value=[], multiselect=True, allow_custom_value=True,
                                      elem_id="nc-sources")
                with gr.Row():
                    date_from = gr.Textbox("", label="Published on or after",
                                           placeholder="YYYY-MM-DD", elem_id="nc-date-from")
                    date_to = gr.Textbox("", label="Published on or before",
                                         placeholder="YYYY-MM-DD", elem_id="nc-date-to")
                as_of = gr.Textbox("", label="As of (the question's “now”)",
                                   placeholder="YYYY-MM-DD, empty for today",
                                   elem_id="nc-as-of", info="“latest” and “now” questions "
                                   "are answered from the newest articles up to this date")
            build_desk_tab(library, sources, date_from, date_to, as_of, _Refused, _warn,
                           _message)

        listing = [table, victim, sources, examples]
        asked = [question, turns, engine, top_k, sources, date_from, date_to, as_of]
        shown = [answer_json, chat, question, turns]
        kept = [conversation_id, browser, conversation_choice]
        asking = gr.on([send.click, question.submit], ask_in_page,
                       inputs=[*asked, conversation_id, browser], outputs=[*shown, stop, *kept],
                       concurrency_limit=8, concurrency_id="ask",
                       show_progress="minimal", api_visibility=PRIVATE,
                       # the page keeps a stopped event pending: "once" would ignore every
                       # later Ask
                       trigger_mode="multiple")
        asking_example = examples.click(ask_example,
                                        inputs=[examples, *asked[1:], conversation_id, browser],
                                        outputs=[*shown, stop, *kept], concurrency_limit=8,
                                        concurrency_id="ask", show_progress="minimal",
                                        api_visibility=PRIVATE, trigger_mode="multiple")
        # Stop (or Esc, see KEYS_JS) ends the stream; the stopped question leaves no turn
        stop.click(stopped, turns, [chat, stop], cancels=[asking, asking_example],
                   api_visibility=PRIVATE)
        # gradio_client's /ask: the same answer, but a mistake is an error the caller sees
        api_ask = gr.Button(visible=False, elem_id="nc-api-ask")
        # its engine starts empty (the Settings tab's starts at the default): a follow-up that
        # names none keeps the conversation's engine
        api_engine = gr.Radio(library.engines(), value=None, label="engine", visible=False)
        api_ask.click(ask, inputs=[question, turns, api_engine, *asked[3:]], outputs=shown,
                      api_name="ask", concurrency_limit=8, concurrency_id="ask")
        new.click(new_chat, browser, [chat, turns, answer_json, question, conversation_id,
                                      browser, conversation_choice, conversation_name],
                  api_visibility=PRIVATE)
        conversation_choice.input(open_conversation, [conversation_choice, browser],
                                  [chat, turns, conversation_id, browser, conversation_name,
                                   answer_json], api_visibility=PRIVATE)
        gr.on([rename_conv.click, conversation_name.submit], rename_conversation,
              [conversation_name, conversation_id, browser], conversation_choice,
              api_visibility=PRIVATE)
        delete_conv.click(delete_conversation, [conversation_choice, conversation_id, browser],
                          [chat, turns, conversation_id, browser, conversation_name,
                           conversation_choice], api_visibility=PRIVATE)
        demo.load(restore, browser, [browser, conversation_id, turns, chat,
                                     conversation_choice], api_visibility=PRIVATE)
        demo.load(load, search, listing, api_visibility=PRIVATE)
        search.change(lambda q: render.library_html(library.articles(), q), search, table,
                      api_visibility=PRIVATE)
        add.click(add_files, [upload, search, replace], [status, upload, *listing],
                  concurrency_limit=1, concurrency_id="write", api_visibility=PRIVATE)
        remove.click(delete, [victim, search], [status, *listing],
                     concurrency_limit=1, concurrency_id="write", api_visibility=PRIVATE)
        demo.load(lambda: render.feeds_html(library.feeds()), None, feeds_table,
                  api_visibility=PRIVATE)
        gr.on([add_link.click, link.submit], add_url, [link, search],
              [status, link, feeds_table, *listing], concurrency_limit=1,
              concurrency_id="write", api_visibility=PRIVATE)
        sync_now.click(sync_feeds, [search], [status, feeds_table, *listing],
                       concurrency_limit=1, concurrency_id="write", api_visibility=PRIVATE)
    return demo
