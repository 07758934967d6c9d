"""Conversations are kept: a reload keeps the open one; the list opens, renames and deletes."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect
from ui_helpers import QUESTION

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def _open(page, server) -> None:  # noqa: ANN001
    page.goto(server.url + "/")
    page.wait_for_selector("#nc-question textarea", timeout=30_000)
    page.wait_for_selector("#nc-examples", timeout=30_000)


def _ask(page, question: str) -> None:  # noqa: ANN001
    before = page.locator("#nc-chat .nc-final").count()
    page.fill("#nc-question textarea", question)
    page.click("#nc-send")
    page.wait_for_function(
        f"document.querySelectorAll('#nc-chat .nc-final').length > {before}", timeout=60_000)


def _choose(page, text: str) -> None:  # noqa: ANN001
    page.click("#nc-conv-choice input")
    page.get_by_role("option", name=text).first.click()


def test_reload_keeps_the_conversation_and_the_list_reopens_and_deletes(live_server, page):
    _open(page, live_server)
    _ask(page, QUESTION)
    # saved once answered (the event after the answer)
    page.wait_for_function("() => Object.keys(localStorage).some(k => k.includes('newscite'))",
                           timeout=10_000)
    page.wait_for_timeout(500)
    page.reload()
    _open(page, live_server)
    expect(page.locator("#nc-chat .nc-q")).to_have_text([QUESTION], timeout=15_000)
    expect(page.locator("#nc-chat .nc-final")).to_have_count(1)

    page.click("#nc-conversations button.label-wrap, #nc-conversations > button")
    page.fill("#nc-conv-name textarea, #nc-conv-name input", "Strike toll")
    page.click("#nc-conv-rename")
    page.click("#nc-new")
    expect(page.locator("#nc-chat .nc-empty")).to_be_visible()
    _ask(page, "Who is the governor of Hatay?")
    page.wait_for_timeout(800)

    _choose(page, "Strike toll")
    expect(page.locator("#nc-chat .nc-q")).to_have_text([QUESTION], timeout=10_000)
    page.reload()  # the reopened one is the open one now
    _open(page, live_server)
    expect(page.locator("#nc-chat .nc-q")).to_have_text([QUESTION], timeout=15_000)

    page.click("#nc-conversations button.label-wrap, #nc-conversations > button")
    _choose(page, "Strike toll")
    page.click("#nc-conv-delete")
    expect(page.locator("#nc-chat .nc-empty")).to_be_visible(timeout=10_000)
    page.click("#nc-conv-choice input")
    expect(page.get_by_role("option", name="Strike toll")).to_have_count(0)
    expect(page.get_by_role("option", name="Who is the governor")).to_have_count(1)
    assert page.dialogs == []


def test_new_answers_scroll_into_view(live_server, browser):  # noqa: ANN001
    context = browser.new_context(viewport={"width": 900, "height": 520})
    page = context.new_page()
    try:
        _open(page, live_server)
        for question in (QUESTION, "Who is the governor of Hatay?", QUESTION):
            _ask(page, question)
            page.wait_for_timeout(300)
            top = page.locator("#nc-chat .nc-final").last.evaluate(
                "el => el.getBoundingClientRect().top")
            assert 0 <= top < 520, top
    finally:
        context.close()
