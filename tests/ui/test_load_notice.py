"""The local model's load is announced: a stderr line in the CLI, a status in the web chat."""
from __future__ import annotations

import time
from collections.abc import Iterator

from rag.llm.model import LOAD_MESSAGES, on_load_progress, report_load
from ui import cli, render
from ui.web import _LoadWatch, _Status


def _slow_load(seconds: float, assemble: bool = False) -> None:
    """What the local engine reports while it loads, taking `seconds` per stage."""
    if assemble:
        report_load("assembling")
        time.sleep(seconds)
        report_load(None)
    report_load("loading")
    time.sleep(seconds)
    report_load(None)


def test_cli_says_when_the_model_loads_slowly(capsys) -> None:
    with cli._load_notice(quiet=False, after=0.1):
        _slow_load(0.4, assemble=True)
    err = capsys.readouterr().err.splitlines()
    assert err == ["assembling the model…", "loading the local model…"]


def test_cli_says_nothing_for_a_quick_load_or_when_quiet(capsys) -> None:
    with cli._load_notice(quiet=False, after=0.5):
        _slow_load(0.05)
    with cli._load_notice(quiet=True, after=0.01):
        _slow_load(0.2)
    time.sleep(0.1)
    assert capsys.readouterr().err == ""


def test_cli_ask_has_quiet() -> None:
    args = cli.build_parser().parse_args(["ask", "q", "--quiet"])
    assert args.quiet is True


def test_a_listener_joining_midway_hears_the_stage_under_way() -> None:
    heard: list[str | None] = []
    report_load("loading")
    try:
        remove = on_load_progress(heard.append)
    finally:
        report_load(None)
    remove()
    report_load("loading")
    report_load(None)
    assert heard == ["loading", None]


def _stream() -> Iterator[object]:
    class Event:
        def __init__(self, kind: str) -> None:
            self.kind = kind
    yield Event("quick")
    _slow_load(0.5)
    yield Event("final")


def test_web_chat_shows_the_load_in_the_pending_answer() -> None:
    kinds, statuses = [], []
    for event in _LoadWatch(_stream(), after=0.1, every=0.05):
        kinds.append(event.kind)
        if isinstance(event, _Status):
            statuses.append(event.text)
    assert kinds[0] == "quick" and kinds[-1] == "final"
    assert statuses == [LOAD_MESSAGES["loading"], None]
    html = render.chat_html([], "Who won?", "", None, status=LOAD_MESSAGES["loading"])
    assert 'class="nc-status-line" role="status">loading the local model…</div>' in html
    assert "nc-status-line" not in render.chat_html([], "Who won?", "")


def test_web_chat_stream_errors_and_close_pass_through() -> None:
    def failing() -> Iterator[object]:
        raise ValueError("boom")
        yield  # pragma: no cover

    try:
        list(_LoadWatch(failing(), every=0.01))
    except ValueError as exc:
        assert str(exc) == "boom"
    else:
        raise AssertionError("the error was lost")
    closed = []

    def endless() -> Iterator[object]:
        try:
            while True:
                time.sleep(0.01)
                yield _Status("x")
        finally:
            closed.append(True)

    watch = _LoadWatch(endless(), every=0.01)
    next(iter(watch))
    watch.close()
    for _ in range(100):
        if closed:
            break
        time.sleep(0.02)
    assert closed == [True]
