"""Asking faster in the web chat: "Try asking" chips ask when clicked, Enter asks and
Shift+Enter starts a new line, Stop or Esc stops an answer being streamed (real Chromium,
real server processes)."""
from __future__ import annotations

import time

import pytest
from ui_helpers import QUESTION, SILENT_LLM_TIMEOUT

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.slow]


def _open(page, server) -> None:  # noqa: ANN001
    page.goto(server.url + "/")
    page.wait_for_selector("#nc-question textarea", timeout=30_000)
    page.wait_for_selector("#nc-examples button", timeout=30_000)  # the load event has run


def _answers(page) -> int:  # noqa: ANN001
    return page.locator("#nc-chat .nc-final").count()


def test_chips_ask_and_enter_asks_but_shift_enter_breaks_the_line(live_server, page):
    _open(page, live_server)
    chip = page.locator("#nc-examples button", has_text=QUESTION)
    chip.click()
    page.wait_for_function("document.querySelectorAll('#nc-chat .nc-final').length === 1",
                           timeout=60_000)
    assert page.locator("#nc-chat .nc-q").last.inner_text() == QUESTION
    assert "33" in page.locator("#nc-chat .nc-final").last.inner_text()

    box = page.locator("#nc-question textarea")
    box.click()
    box.type("Who is the governor")
    box.press("Shift+Enter")
    box.type("of Hatay?")
    assert box.input_value() == "Who is the governor\nof Hatay?"
    page.wait_for_timeout(500)
    assert _answers(page) == 1  # Shift+Enter did not ask
    box.press("Enter")
    page.wait_for_function("document.querySelectorAll('#nc-chat .nc-final').length === 2",
                           timeout=60_000)
    assert page.locator("#nc-chat .nc-q").last.inner_text() == "Who is the governor\nof Hatay?"
    assert "Dogan" in page.locator("#nc-chat .nc-final").last.inner_text()
    assert box.input_value() == ""


def test_stop_and_esc_stop_a_streaming_answer(openai_server, page, artifacts):
    """The server's default engine waits on an LLM server that never answers: without Stop,
    an answer (the extractive fallback) would come after its timeout."""
    _open(page, openai_server)
    stop = page.locator("#nc-stop")
    for how in ("button", "Escape"):
        page.fill("#nc-question textarea", QUESTION)
        page.click("#nc-send")
        page.wait_for_selector("#nc-chat .nc-streaming", timeout=30_000)
        stop.wait_for(state="visible", timeout=10_000)
        page.screenshot(path=str(artifacts / f"chat-stop-{how}.png"))
        if how == "button":
            stop.click()
        else:
            page.keyboard.press("Escape")
        page.wait_for_selector("#nc-chat .nc-streaming", state="detached", timeout=10_000)
        stop.wait_for(state="hidden", timeout=10_000)
        assert page.locator("#nc-chat .nc-q").count() == 0  # the stopped question is gone
    started = time.monotonic()
    page.wait_for_timeout((2 * SILENT_LLM_TIMEOUT + 3) * 1000)  # past the fallback's time
    assert _answers(page) == 0 and time.monotonic() - started >= 2 * SILENT_LLM_TIMEOUT

    # the chat still answers (with the extractive engine)
    page.get_by_role("tab", name="Settings").click()
    page.locator("#nc-engine").get_by_text("extractive", exact=True).click()
    page.get_by_role("tab", name="Chat").click()
    page.fill("#nc-question textarea", QUESTION)
    page.keyboard.press("Enter")
    page.wait_for_selector("#nc-chat .nc-final", timeout=60_000)
    page.wait_for_timeout(1000)
    # only this question: the stopped ones left nothing in the conversation
    assert page.locator("#nc-chat .nc-q").all_inner_texts() == [QUESTION]
    assert "33" in page.locator("#nc-chat .nc-final").inner_text()
    stop.wait_for(state="hidden", timeout=10_000)
