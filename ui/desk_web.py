"""The web chat's Desk tab: Compare outlets and Timeline, each entry cited."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gradio as gr

from core.records import with_as_of
from ui.desk_render import compare_html, timeline_html
from ui.service import make_filters

if TYPE_CHECKING:
    from ui.service import Library

PRIVATE = "private"


def build_desk_tab(library: Library, sources: Any, date_from: Any, date_to: Any,
                   as_of: Any, refused: type[Exception], warn: Any, message: Any) -> None:
    """The "Desk" tab, inside the page's gr.Tabs; it reads the Settings tab's filters and
    "as of" date. A mistake (no question, a bad date) is one warning (`warn`), the output left
    as it was."""

    def run(kind: str, text: str, outlets: list[str] | None, start: str, end: str,
            now: str) -> Any:
        text = (text or "").strip()
        try:
            if not text:
                raise refused("Type a question first." if kind == "compare"
                              else "Type a topic first.")
            try:
                filters = with_as_of(make_filters(outlets, start, end), now or None)
                if kind == "compare":
                    return compare_html(library.compare(text, filters))
                return timeline_html(library.timeline(text, filters))
            except refused:
                raise
            except Exception as exc:
                raise refused(message(exc)) from exc
        except refused as exc:
            warn(getattr(exc, "message", str(exc)))
            return gr.skip()

    def compare(text: str, outlets: list[str] | None, start: str, end: str, now: str) -> Any:
        return run("compare", text, outlets, start, end, now)

    def timeline(text: str, outlets: list[str] | None, start: str, end: str, now: str) -> Any:
        return run("timeline", text, outlets, start, end, now)

    with gr.Tab("Desk", id="desk"):
        gr.HTML("<div class='nc-meta'>Compare outlets: which outlet gives which value, each "
                "cited. Timeline: dated events about a topic in the order they happened. "
                "Both use the Settings tab's outlets, dates and “as of”.</div>",
                js_on_load=None)
        with gr.Row(equal_height=True):
            c_question = gr.Textbox(label="Compare outlets on a question", scale=8,
                                    elem_id="nc-compare-q",
                                    placeholder="How many soldiers were killed?")
            c_go = gr.Button("Compare outlets", variant="primary", scale=1,
                             elem_id="nc-compare")
        c_out = gr.HTML(elem_id="nc-compare-out", js_on_load=None)
        with gr.Row(equal_height=True):
            t_topic = gr.Textbox(label="Timeline of a topic", scale=8, elem_id="nc-timeline-q",
                                 placeholder="the ceasefire")
            t_go = gr.Button("Timeline", variant="primary", scale=1, elem_id="nc-timeline")
        t_out = gr.HTML(elem_id="nc-timeline-out", js_on_load=None)
    filters = [sources, date_from, date_to, as_of]
    gr.on([c_go.click, c_question.submit], compare, [c_question, *filters], c_out,
          concurrency_limit=4, concurrency_id="desk", api_visibility=PRIVATE)
    gr.on([t_go.click, t_topic.submit], timeline, [t_topic, *filters], t_out,
          concurrency_limit=4, concurrency_id="desk", api_visibility=PRIVATE)
