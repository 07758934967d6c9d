"""A small news site on 127.0.0.1 for the fetch and feed tests: invented articles, an RSS feed,
ETag / Last-Modified answers, and misbehaving routes (errors, slow, redirect loops, huge pages)."""
from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape


@dataclass
class Route:
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    location: str | None = None  # a redirect's target
    delay: float = 0.0  # seconds before answering
    endless: bool = False  # stream the body again and again until the client hangs up
    etag: str | None = None
    last_modified: str | None = None


@dataclass
class NewsSite:
    """Routes by path; every request is logged as (path, status)."""

    routes: dict[str, Route] = field(default_factory=dict)
    log: list[tuple[str, int]] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def page(self, path: str, body: str | bytes, content_type: str = "text/html; charset=utf-8",
             **extra: object) -> None:
        """Serve `body` at `path` with a content-derived ETag and a Last-Modified."""
        data = body.encode() if isinstance(body, str) else body
        route = Route(data, content_type, **extra)  # type: ignore[arg-type]
        if route.status == 200 and not route.endless:
            route.etag = route.etag or '"' + hashlib.sha1(data).hexdigest()[:16] + '"'
            route.last_modified = route.last_modified or formatdate(time.time(), usegmt=True)
        self.routes[path] = route

    def hits(self, path: str) -> list[int]:
        return [status for p, status in self.log if p == path]


def _handler(site: NewsSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
            site.log.append((self.path, status))
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802
            route = site.routes.get(self.path)
            if route is None:
                self._send(404, {"Content-Type": "text/plain"}, b"not found")
                return
            if route.delay:
                time.sleep(route.delay)
            if route.location is not None:
                self._send(route.status, {"Location": route.location})
                return
            if route.etag and self.headers.get("If-None-Match") == route.etag or (
                    route.last_modified and not route.etag
                    and self.headers.get("If-Modified-Since") == route.last_modified):
                self._send(304, {"ETag": route.etag or ""})
                return
            headers = {"Content-Type": route.content_type}
            if route.etag:
                headers["ETag"] = route.etag
            if route.last_modified:
                headers["Last-Modified"] = route.last_modified
            if route.endless:
                site.log.append((self.path, route.status))
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Connection", "close")
                self.end_headers()
                sent = 0
                try:
                    while sent < 200_000_000:  # a client that never stops reading: stop anyway
                        self.wfile.write(route.body)
                        sent += len(route.body)
                except OSError:
                    pass
                self.close_connection = True
                return
            self._send(route.status, headers, route.body)

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up (a timeout test) resets its connection: expected


def serve(site: NewsSite) -> Iterator[NewsSite]:
    """Run `site` on a free loopback port for the duration of the generator."""
    server = _QuietServer(("127.0.0.1", 0), _handler(site))
    site.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


def article_html(title: str, paragraphs: list[str], published: str, site: str = "Fenwick Gazette",
                 author: str | None = None) -> str:
    byline = f'<p class="byline">By {escape(author)}</p>' if author else ""
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)} | '
            f'{escape(site)}</title><meta property="og:title" content="{escape(title)}">'
            f'<meta property="og:site_name" content="{escape(site)}">'
            f'<meta property="article:published_time" content="{published}T08:00:00Z"></head>'
            f'<body><nav><a href="/">Home</a> | <a href="/local">Local</a> | <a href="/sport">'
            f'Sport</a></nav><main><article><h1>{escape(title)}</h1>{byline}{body}</article>'
            f'</main><footer><p>Fenwick Gazette, 12 Mill Lane. Contact the newsroom.</p>'
            f'</footer></body></html>')


def rss(site: NewsSite, items: list[tuple[str, str, str]], title: str = "Fenwick Gazette") -> str:
    """An RSS 2.0 feed of (path, title, date) items."""
    entries = "".join(
        f"<item><title>{escape(t)}</title><link>{escape(site.url(path))}</link>"
        f"<guid>{escape(site.url(path))}</guid><pubDate>{date}</pubDate></item>"
        for path, t, date in items)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{escape(title)}</title><link>{escape(site.url('/'))}</link>"
            f"<description>Local news</description>{entries}</channel></rss>")


# Invented local news, written for these tests.
LIBRARY = ("Library extends opening hours",
           ["The Fenwick public library will stay open until 9 p.m. on weekdays from "
            "October 1, the town council announced on Monday.",
            "Head librarian Odile Marchetti said evening visits had doubled since the reading "
            "room was renovated last spring.",
            "The longer hours will cost about 46,000 dollars a year, paid from the culture "
            "budget."], "2024-09-16")
FERRY = ("Ferry timetable cut for the winter",
         ["The Fenwick to Dunmore ferry will run six crossings a day instead of ten from "
          "November 4, the operator Lakeline said.",
          "Lakeline blamed a shortage of licensed deckhands and said the summer timetable would "
          "return in April.",
          "Commuters who rely on the 7:15 a.m. crossing will keep it, the company added."],
         "2024-09-18")
MARKET = ("Farmers market moves to the old rail yard",
          ["The Saturday farmers market in Fenwick will move to the old rail yard on Station "
           "Road from October 5, organisers said.",
           "The new site has room for 80 stalls, up from 52 on the church square, and a "
           "covered hall for wet days.",
           "Market manager Priya Lindgren said parking for 150 cars had been arranged next "
           "to the yard."], "2024-09-20")
