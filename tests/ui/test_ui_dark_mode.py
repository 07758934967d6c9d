"""Every custom element of the web chat is readable in the light and the dark colour scheme
(real Chromium with the OS preference set, against a real server process)."""
from __future__ import annotations

import pytest
from ui_helpers import QUESTION, contrast

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.slow]

MIN_CONTRAST = 4.5  # WCAG AA for body text


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_answer_sources_and_library_are_readable(live_server, browser, artifacts, scheme):
    context = browser.new_context(viewport={"width": 1200, "height": 1000},
                                  color_scheme=scheme)
    try:
        page = context.new_page()
        page.goto(live_server.url + "/")
        page.wait_for_selector("#nc-question textarea", timeout=30_000)
        assert page.evaluate("document.body.classList.contains('dark')") == (scheme == "dark")
        page.fill("#nc-question textarea", QUESTION)
        page.click("#nc-send")
        page.wait_for_selector("#nc-chat .nc-final .nc-card", timeout=60_000)
        page.screenshot(path=str(artifacts / f"chat-{scheme}.png"), full_page=True)
        answer = page.locator("#nc-chat .nc-final").last
        checked = {
            "question": page.locator("#nc-chat .nc-q").last,
            "answer text": answer.locator(".nc-text"),
            "source title": answer.locator(".nc-sources .nc-card-head").first,
            "source passage": answer.locator(".nc-sources .nc-passage").first,
            "cited span": answer.locator(".nc-sources mark").first,
            "source meta": answer.locator(".nc-sources .nc-card-meta").first,
            "answer meta": answer.locator(":scope > .nc-meta"),
            "citation marker": answer.locator("a.nc-cite").first,
        }
        ratios = {name: contrast(loc) for name, loc in checked.items()}
        page.get_by_role("tab", name="Library").click()
        page.wait_for_selector("#nc-library table.nc-lib td", timeout=30_000)
        ratios["library title"] = contrast(page.locator("#nc-library td").first)
        ratios["library id"] = contrast(page.locator("#nc-library td.nc-id a").first)
        low = {name: round(r, 2) for name, r in ratios.items() if r < MIN_CONTRAST}
        assert not low, f"{scheme}: contrast below {MIN_CONTRAST}: {low}"
    finally:
        context.close()
