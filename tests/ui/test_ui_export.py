"""Copy and Export in the web chat: the downloaded file and the clipboard hold the Markdown of
the answer (or of the whole conversation) that the REST API gives (real Chromium, real server)."""
from __future__ import annotations

import re

import httpx
import pytest
from ui_helpers import QUESTION

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.slow]

FOLLOW_UP = "Who is the governor of Hatay?"


def _ask(page, question: str) -> None:  # noqa: ANN001
    before = page.locator("#nc-chat .nc-final").count()
    page.fill("#nc-question textarea", question)
    page.click("#nc-send")
    page.wait_for_function(
        f"document.querySelectorAll('#nc-chat .nc-final').length > {before}", timeout=60_000)


def test_export_and_copy_answers_and_the_conversation(live_server, browser, tmp_path):
    context = browser.new_context(viewport={"width": 1200, "height": 1000},
                                  accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    try:
        page = context.new_page()
        page.goto(live_server.url + "/")
        page.wait_for_selector("#nc-examples", timeout=30_000)
        _ask(page, QUESTION)
        answer = page.locator("#nc-chat .nc-final").last
        with page.expect_download() as download:
            answer.locator("a.nc-export").click()
        assert download.value.suggested_filename == \
            "newscite-how-many-turkish-soldiers-were-killed.md"
        path = tmp_path / "answer.md"
        download.value.save_as(path)
        text = path.read_text(encoding="utf-8")
        assert text.startswith(f"# {QUESTION}\n")
        # the same Markdown as the REST API's for this question
        rest = httpx.post(live_server.url + "/api/ask?format=markdown",
                          json={"question": QUESTION, "engine": "extractive"}, timeout=60)
        assert text == rest.text
        refs = set(re.findall(r"\[\^(\d+)\](?!:)", text))
        notes = re.findall(r"^\[\^(\d+)\]: ", text, re.MULTILINE)
        assert refs and sorted(refs) == sorted(notes)
        assert "33" in text

        answer.locator("button.nc-copy").click()
        page.wait_for_function("document.querySelector('#nc-chat .nc-final button.nc-copy')"
                               ".textContent === 'Copied'")
        assert page.evaluate("navigator.clipboard.readText()") == text

        _ask(page, FOLLOW_UP)
        with page.expect_download() as download:
            page.locator("#nc-chat .nc-actions-all a.nc-export").click()
        whole = download.value.path().read_text(encoding="utf-8")
        assert whole.startswith("# newscite conversation\n")
        assert f"## {QUESTION}" in whole and f"## {FOLLOW_UP}" in whole
        assert "Dogan" in whole
        notes = [int(n) for n in re.findall(r"^\[\^(\d+)\]: ", whole, re.MULTILINE)]
        assert notes == list(range(1, len(notes) + 1)) and len(notes) > len(refs)
        page.locator("#nc-chat .nc-actions-all button.nc-copy").click()
        page.wait_for_function("document.querySelector('#nc-chat .nc-actions-all "
                               "button.nc-copy').textContent === 'Copied'")
        assert page.evaluate("navigator.clipboard.readText()") == whole
    finally:
        context.close()
