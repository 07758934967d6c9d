"""index.fetch: address checks, and real fetches from a news site on 127.0.0.1 that misbehaves."""
from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from news_site import LIBRARY, NewsSite, Route, article_html, serve

import index.fetch as fetch
from core.errors import FetchError
from index.fetch import Fetcher, FetchPolicy, HostThrottle, address_problem, normalise_url


@pytest.fixture
def site() -> Iterator[NewsSite]:
    yield from serve(NewsSite())


def fetcher(**policy: object) -> Fetcher:
    args: dict[str, object] = {"allow_private": True, "host_delay": 0.0, "timeout": 2.0,
                               **policy}
    return Fetcher(FetchPolicy(**args))  # type: ignore[arg-type]


# --- addresses ------------------------------------------------------------------------------
@pytest.mark.parametrize("url, expected", [
    ("https://Example.ORG/a?b=1#top", "https://example.org/a?b=1"),
    ("http://example.org", "http://example.org/"),
    ("http://example.org:80/x", "http://example.org/x"),
    ("https://example.org:8443/x", "https://example.org:8443/x"),
    ("  http://[::1]:8080/  ", "http://[::1]:8080/"),
])
def test_normalise_url(url: str, expected: str) -> None:
    assert normalise_url(url) == expected


@pytest.mark.parametrize("url, message", [
    ("ftp://example.org/file", "only http:// and https://"),
    ("file:///etc/passwd", "only http:// and https://"),
    ("javascript:alert(1)", "only http:// and https://"),
    ("example.org/news", "only http:// and https://"),
    ("http:///nohost", "no host name"),
    ("http://user:secret@example.org/", "user name or password"),
    ("http://example.org:notaport/", "not a valid web address"),
    ("http://example.org/" + "a" * 3000, "longer than"),
])
def test_bad_addresses_are_refused(url: str, message: str) -> None:
    with pytest.raises(FetchError, match=message):
        normalise_url(url)


@pytest.mark.parametrize("address, problem", [
    ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"),
    ("10.1.2.3", "private"), ("172.16.0.9", "private"), ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
    ("fd00::5", "private"), ("0.0.0.0", "unspecified"), ("224.0.0.1", "multicast"),
    ("100.64.0.1", "not a public"), ("::ffff:10.0.0.1", "private"),
    ("::ffff:127.0.0.1", "loopback"), ("2002:0a00:0001::1", "private"),  # 6to4 of 10.0.0.1
])
def test_non_public_addresses_are_named(address: str, problem: str) -> None:
    found = address_problem(address)
    assert found is not None and problem in found


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert address_problem(address) is None


def test_every_resolved_address_is_checked() -> None:
    def resolver(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "10.0.0.7"]  # one public, one private: refused

    with Fetcher(FetchPolicy(host_delay=0), resolver=resolver) as web, \
            pytest.raises(FetchError, match=r"news\.example resolves to 10\.0\.0\.7, a private "
                                            r"address: refused \(--allow-private"):
        web.get("http://news.example/story")


def test_a_private_address_is_refused_without_allow_private(site: NewsSite) -> None:
    site.page("/story", article_html(*LIBRARY))
    with Fetcher(FetchPolicy(host_delay=0)) as web, \
            pytest.raises(FetchError, match="127.0.0.1 is a loopback address: refused"):
        web.get(site.url("/story"))
    assert site.log == []  # refused before any connection


def test_a_redirect_is_checked_again(site: NewsSite, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first hop passes the check; its redirect points at a name resolving to an address
    the check refuses, which is never connected to."""
    monkeypatch.setattr(fetch, "address_problem",
                        lambda a: None if a == "127.0.0.1" else "a private address")

    def resolver(host: str, port: int) -> list[str]:
        return {"outside.test": ["127.0.0.1"], "inside.test": ["127.0.0.2"]}[host]

    site.routes["/go"] = Route(status=302, location=f"http://inside.test:{site.port}/secret")
    with Fetcher(FetchPolicy(host_delay=0), resolver=resolver) as web:
        with pytest.raises(FetchError, match="inside.test resolves to 127.0.0.2"):
            web.get(f"http://outside.test:{site.port}/go")
    assert site.log == [("/go", 302)]


def test_host_throttle_spaces_requests_per_host() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    throttle = HostThrottle(1.5, clock=lambda: now[0], sleep=sleep)
    assert throttle.wait("a.example") == 0
    assert throttle.wait("b.example") == 0  # another host does not wait
    assert throttle.wait("a.example") == pytest.approx(1.5)
    now[0] += 10
    assert throttle.wait("a.example") == 0
    assert slept == [pytest.approx(1.5)]


# --- real fetches ---------------------------------------------------------------------------
def test_a_page_and_its_conditional_get(site: NewsSite) -> None:
    site.page("/story", article_html(*LIBRARY))
    with fetcher() as web:
        page = web.get(site.url("/story"))
        assert page.status == 200 and page.media_type == "text/html"
        assert page.charset == "utf-8" and b"Odile Marchetti" in page.body
        again = web.get(site.url("/story"), etag=page.etag, last_modified=page.last_modified)
    assert again.not_modified and again.body == b""
    assert site.hits("/story") == [200, 304]


def test_a_server_error_is_a_clear_error(site: NewsSite) -> None:
    site.page("/broken", "oops", "text/plain", status=500)
    with fetcher() as web, pytest.raises(FetchError, match=r"/broken: HTTP 500 Internal Server "
                                                           r"Error"):
        web.get(site.url("/broken"))


def test_a_slow_server_times_out(site: NewsSite) -> None:
    site.page("/slow", article_html(*LIBRARY), delay=3.0)
    started = time.monotonic()
    with fetcher(timeout=0.5) as web, pytest.raises(FetchError, match=r"timed out after 0.5 s"):
        web.get(site.url("/slow"))
    assert time.monotonic() - started < 2.5


def test_a_redirect_loop_is_bounded(site: NewsSite) -> None:
    site.routes["/a"] = Route(status=302, location="/b")
    site.routes["/b"] = Route(status=301, location=site.url("/a"))
    with fetcher() as web, pytest.raises(FetchError, match="redirect loop at .*/a"):
        web.get(site.url("/a"))
    assert len(site.log) == 2


def test_too_many_redirects(site: NewsSite) -> None:
    for n in range(8):
        site.routes[f"/r{n}"] = Route(status=307, location=f"/r{n + 1}")
    site.page("/r8", article_html(*LIBRARY))
    with fetcher(max_redirects=3) as web, pytest.raises(FetchError, match="more than 3 redirects"):
        web.get(site.url("/r0"))
    with fetcher(max_redirects=8) as web:
        page = web.get(site.url("/r0"))
    assert page.final_url == site.url("/r8") and page.url == site.url("/r0")


def test_an_oversized_page_is_cut_without_reading_it_all(site: NewsSite) -> None:
    block = ("<p>" + "The council met again and talked about the bridge. " * 20 + "</p>").encode()
    site.page("/endless", block, endless=True)
    started = time.monotonic()
    with fetcher(max_bytes=100_000) as web:
        page = web.get(site.url("/endless"))
    assert page.truncated and len(page.body) == 100_000
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("kind", ["application/pdf", "image/png", "application/zip",
                                  "application/octet-stream"])
def test_other_content_types_are_refused(site: NewsSite, kind: str) -> None:
    site.page("/file", b"%PDF-1.7 not really", kind)
    with fetcher() as web, pytest.raises(FetchError, match=f"content type {kind} is not HTML, "
                                                           "XML or text"):
        web.get(site.url("/file"))


def test_a_closed_port_is_a_clear_error() -> None:
    with fetcher(timeout=1.0) as web, pytest.raises(FetchError, match="cannot connect"):
        web.get("http://127.0.0.1:9/nothing")
