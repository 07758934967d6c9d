"""The web chat in a real Chromium against `python -m rag serve` (a real server process)."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect
from ui_helpers import DOCS, QUESTION

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.slow]

STORY = ("Vostrelle Glass Museum reopens in Marrow Bay after the flood\n\n"
         "The Vostrelle Glass Museum in Marrow Bay reopened on Tuesday after last winter's flood, "
         "and its director, Imelda Quarrin, said 6,420 visitors came in the first week.\n\n"
         "The museum's blue chandelier, restored by a team of nine glassblowers, hangs again in "
         "the main hall.\n")
PAYLOAD = ('<img src=x onerror=alert(1)> <script>window.__xss=1</script> '
           '![x](https://attacker.example/beacon.png)')
EVIL_TXT = (f"Lantern night {PAYLOAD} in Qelmira\n\n"
            f"The Qelmira harbour lantern festival drew 4,812 visitors on Saturday {PAYLOAD}, "
            "organisers said.\n\n"
            "Harbour master Odile Venhart counted 212 lantern boats ![x](https://attacker.example/"
            "beacon.png) on the water at midnight, and a band played <b onmouseover=alert(1)>until "
            "dawn</b> [click](javascript:alert(1)).\n")
EVIL_MD = ("---\n"
           'title: "Qelmira ferry <img src=x onerror=alert(1)> timetable"\n'
           'source: "Evil <script>window.__xss=1</script> Gazette"\n'
           "published: 2021-05-12\n"
           'url: "javascript:alert(1)"\n'
           "---\n\n"
           "The Qelmira ferry timetable changed on Monday: boats now leave every 35 minutes "
           f"{PAYLOAD}.\n")


def _open(page, server) -> None:  # noqa: ANN001
    page.goto(server.url + "/")
    page.wait_for_selector("#nc-question textarea", timeout=30_000)
    page.wait_for_selector("#nc-examples", timeout=30_000)  # the load event has run


def _ask(page, question: str) -> None:  # noqa: ANN001
    """Ask and wait for the checked answer of this turn."""
    before = page.locator("#nc-chat .nc-final").count()
    page.fill("#nc-question textarea", question)
    page.click("#nc-send")
    page.wait_for_function(
        f"document.querySelectorAll('#nc-chat .nc-final').length > {before}", timeout=60_000)


def _upload(page, path: Path) -> None:  # noqa: ANN001
    page.get_by_role("tab", name="Library").click()
    page.set_input_files("#nc-upload input[type=file]", str(path))
    # uploaded once the file row links to the server's copy
    page.wait_for_selector(f"#nc-upload td.filename[aria-label='{path.name}']", timeout=20_000)
    page.wait_for_selector("#nc-upload a.download-link", timeout=20_000)
    page.click("#nc-add")
    page.wait_for_selector("#nc-status :text('1 added')", timeout=60_000)
    page.get_by_role("tab", name="Chat").click()


def _last_answer(page):  # noqa: ANN001, ANN202
    return page.locator("#nc-chat .nc-final").last


def test_chat_cites_highlights_follows_up_and_answers_uploads(live_server, page, artifacts,
                                                            tmp_path):
    _open(page, live_server)
    examples = page.locator("#nc-examples").inner_text()
    assert "Turkish soldiers" in examples  # drawn from the indexed seed articles

    _ask(page, QUESTION)
    answer = _last_answer(page)
    markers = answer.locator("a.nc-cite")
    assert markers.count() >= 1
    # the markers jump to their source cards; some cited span says 33
    found = False
    for i in range(markers.count()):
        marker = markers.nth(i)
        target = marker.get_attribute("href")
        marker.click()
        page.wait_for_function(f"location.hash === '{target}'")
        card = page.locator(f"{target}")
        assert card.is_visible()
        mark = card.locator("mark").inner_text()
        assert mark.strip()
        if "33" in mark:
            found = True
            break
    assert found, answer.inner_text()
    page.screenshot(path=str(artifacts / "chat-answer.png"), full_page=True)
    # the README screenshot: written when missing, refreshed on request only (it is tracked)
    if os.environ.get("NEWSCITE_UPDATE_SCREENSHOT") or not (DOCS / "screenshot-chat.png").exists():
        DOCS.mkdir(exist_ok=True)
        shutil.copyfile(artifacts / "chat-answer.png", DOCS / "screenshot-chat.png")

    # "Show in article" opens the whole article with the same span marked
    link = card.locator("a.nc-open")
    with page.context.expect_page() as opened:
        link.click()
    article = opened.value
    article.wait_for_load_state()
    assert article.locator("mark#hl").inner_text() == mark
    assert article.url.endswith("#hl")
    article.close()

    # a follow-up uses the conversation; New chat starts over
    _ask(page, "Who is the governor of Hatay?")
    assert page.locator("#nc-chat .nc-final").count() == 2
    assert "Dogan" in _last_answer(page).inner_text()
    page.click("#nc-new")
    page.wait_for_function("document.querySelectorAll('#nc-chat .nc-final').length === 0")

    # an uploaded article is answerable and cited
    story = tmp_path / "vostrelle-museum.txt"
    story.write_text(STORY, encoding="utf-8")
    _upload(page, story)
    assert "Vostrelle" in page.locator("#nc-library").inner_text()
    _ask(page, "How many visitors came to the Vostrelle Glass Museum in the first week?")
    answer = _last_answer(page)
    page.screenshot(path=str(artifacts / "chat-upload.png"), full_page=True)
    cards = answer.locator(".nc-sources .nc-card")
    assert cards.count() >= 1
    assert "Vostrelle" in cards.first.inner_text()
    assert "6,420" in answer.locator(".nc-sources mark").first.inner_text()


def test_article_and_question_cannot_inject_html(live_server, page, artifacts, tmp_path):
    _open(page, live_server)
    for name, text in (("qelmira-lanterns.txt", EVIL_TXT), ("qelmira-ferry.md", EVIL_MD)):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        _upload(page, path)
    page.get_by_role("tab", name="Library").click()
    # shown as text; waits, since the status still reads "1 added" from the first upload
    expect(page.locator("#nc-library")).to_contain_text("Qelmira ferry <img src=x",
                                                        timeout=60_000)
    page.get_by_role("tab", name="Chat").click()

    _ask(page, "How many visitors did the Qelmira lantern festival draw?")
    _ask(page, f"When do the Qelmira ferry boats leave? {PAYLOAD}")
    answer = _last_answer(page)
    page.screenshot(path=str(artifacts / "chat-xss.png"), full_page=True)
    chat = page.locator("#nc-chat").inner_text()
    assert "<script>window.__xss=1</script>" in chat  # the payload is visible, as text
    assert "4,812" in chat
    assert answer.locator(".nc-card").count() >= 1

    # open every "Show in article" page too
    for href in page.locator("#nc-chat a.nc-open").evaluate_all("els => els.map(e => e.href)"):
        other = page.context.new_page()
        other.goto(href)
        assert other.evaluate("window.__xss") is None
        assert other.locator("img").count() == 0
        other.close()

    # the delete list shows the title as text too; deleting works from the Library tab
    page.get_by_role("tab", name="Library").click()
    page.click("#nc-delete-choice input")
    option = page.get_by_role("option", name=re.compile("Qelmira ferry"))
    assert "<img src=x onerror=alert(1)>" in option.inner_text()
    option.click()
    page.click("#nc-delete")
    page.wait_for_selector("#nc-status :text('Deleted article')", timeout=30_000)
    assert "Qelmira ferry" not in page.locator("#nc-library").inner_text()

    page.wait_for_timeout(500)
    assert page.dialogs == []
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator("img[src='x'], img[src*='attacker']").count() == 0
    assert page.locator("#nc-chat img, #nc-library img").count() == 0
    assert page.locator("a[href^='javascript' i]").count() == 0
    assert page.locator("#nc-chat script, #nc-chat b").count() == 0
    assert not [u for u in page.requests if "attacker.example" in u]
