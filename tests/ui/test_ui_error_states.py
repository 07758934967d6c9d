"""Harmless mistakes in the web page (no file, a rejected file type, a bad date, an empty
question, nothing chosen to delete) show one message and leave no component in Gradio's error
state; the delete list still opens and deletes (real Chromium, real server process)."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Error as PlaywrightError
from ui_helpers import QUESTION

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.slow]

COMPONENTS = ("#nc-chat", "#nc-question", "#nc-library", "#nc-upload", "#nc-status",
              "#nc-delete-choice", "#nc-sources", "#nc-examples", "#nc-json")
STORY = ("Harbour swans of Tollmere counted\n\n"
         "Volunteers in Tollmere counted 58 swans on the harbour on Sunday, the town's "
         "wildlife warden, Brannoc Yfeld, said.\n")


def _toast(page, text: str) -> None:  # noqa: ANN001
    """Wait for a message containing `text`, then close every message."""
    page.wait_for_selector(f"[data-testid=toast-text]:has-text('{text}')", timeout=20_000)
    for close in page.locator("[data-testid=toast-close]").all():
        try:  # best effort: a message may be leaving already
            close.click(timeout=2_000)
        except PlaywrightError:
            pass


def _errors(page) -> dict[str, int]:  # noqa: ANN001
    return {sel: n for sel in COMPONENTS if (n := page.locator(f"{sel} .error").count())}


def test_mistakes_warn_once_and_leave_no_error_state(live_server, page, artifacts, tmp_path):
    page.goto(live_server.url + "/")
    page.wait_for_selector("#nc-examples", timeout=30_000)

    page.click("#nc-send")  # an empty question
    _toast(page, "Type a question first")
    assert _errors(page) == {}

    page.get_by_role("tab", name="Settings").click()
    page.fill("#nc-date-from input, #nc-date-from textarea", "yesterday")
    page.get_by_role("tab", name="Chat").click()
    page.fill("#nc-question textarea", QUESTION)
    page.click("#nc-send")
    _toast(page, "date_from must be a date")
    assert _errors(page) == {}
    # the question is still there, to ask again once the date is fixed
    assert page.input_value("#nc-question textarea") == QUESTION
    page.get_by_role("tab", name="Settings").click()
    page.fill("#nc-date-from input, #nc-date-from textarea", "")

    page.get_by_role("tab", name="Library").click()
    page.click("#nc-add")  # no file chosen
    _toast(page, "Choose one or more files first")
    bad = tmp_path / "payload.exe"
    bad.write_bytes(b"MZ not an article")
    page.set_input_files("#nc-upload input[type=file]", str(bad))
    _toast(page, "Invalid file type")
    page.click("#nc-delete")  # nothing chosen
    _toast(page, "Choose an article to delete first")
    page.screenshot(path=str(artifacts / "mistakes.png"), full_page=True)
    assert _errors(page) == {}

    # the page still works: an upload, then the delete list opens and deletes it
    story = tmp_path / "tollmere-swans.txt"
    story.write_text(STORY, encoding="utf-8")
    page.set_input_files("#nc-upload input[type=file]", str(story))
    page.wait_for_selector("#nc-upload a.download-link", timeout=20_000)
    page.click("#nc-add")
    page.wait_for_selector("#nc-status :text('1 added')", timeout=60_000)
    page.click("#nc-delete-choice input", timeout=5_000)
    page.get_by_role("option", name=re.compile("Harbour swans of Tollmere")).click()
    page.click("#nc-delete")
    page.wait_for_selector("#nc-status :text('Deleted article')", timeout=30_000)
    assert "Tollmere" not in page.locator("#nc-library").inner_text()

    page.get_by_role("tab", name="Chat").click()
    page.click("#nc-send")  # the question left in the box is answered now
    page.wait_for_selector("#nc-chat .nc-final", timeout=60_000)
    assert _errors(page) == {}
