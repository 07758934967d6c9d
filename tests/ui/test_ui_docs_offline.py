"""/docs works offline: Swagger UI's files come from the server itself, never a CDN."""
from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

pytestmark = [pytest.mark.server]


def _assets(html: str) -> list[str]:
    return re.findall(r'<(?:script[^>]*\ssrc|link[^>]*\shref)="([^"]+)"', html)


@pytest.mark.parametrize(("path", "count"), [("/docs", 3), ("/redoc", 2)])
def test_docs_reference_only_files_served_by_the_server(live_server, path, count):
    r = httpx.get(live_server.url + path, timeout=30)
    assert r.status_code == 200 and "/openapi.json" in r.text
    assets = _assets(r.text)
    assert len(assets) == count, r.text  # script, icon (and Swagger's style sheet)
    for ref in assets:
        assert not urlsplit(ref).scheme and not ref.startswith("//"), ref  # not absolute
        asset = httpx.get(urljoin(live_server.url + path, ref), timeout=30)
        assert asset.status_code == 200 and len(asset.content) > 1000, ref
    assert "https://" not in r.text and "http://" not in r.text  # no fonts, no CDN
    assert httpx.get(live_server.url + "/docs/assets/..%2F__init__.py",
                     timeout=30).status_code == 404


@pytest.mark.browser
@pytest.mark.parametrize(("path", "shown"), [
    ("/docs", ".opblock-summary-path:has-text('/api/ask')"),
    ("/redoc", "h2:has-text('Answer a question with verified citations')")])
def test_docs_render_with_the_internet_cut_off(live_server, page, path, shown):
    outside: list[str] = []

    def only_here(route) -> None:  # noqa: ANN001
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_here)
    page.goto(live_server.url + path)
    page.wait_for_selector(shown, timeout=30_000)
    page.wait_for_timeout(1000)  # images, fonts, workers
    assert outside == []
