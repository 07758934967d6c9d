"""Fetch one web page or feed safely: http(s) only, public addresses only, bounded time, size and redirects."""
from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from core.errors import FetchError
from core.settings import Settings

logger = logging.getLogger(__name__)

__all__ = ["FetchPolicy", "Fetcher", "Page", "address_problem", "normalise_url"]

MAX_URL_CHARS = 2048
USER_AGENT = "newscite/0.1 (news reader; fetches pages its user added)"
# media types a page or feed may have; anything else (PDF, images, archives...) is refused
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/rdf+xml",
                        "application/xml", "text/xml"})
TEXT_TYPES = frozenset({"text/plain"})
ACCEPTED_TYPES = HTML_TYPES | FEED_TYPES | TEXT_TYPES
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_READ_BLOCK = 1 << 16

# (host, port) -> the addresses it resolves to; the default asks the system resolver
Resolver = Callable[[str, int], list[str]]


@dataclass(frozen=True)
class FetchPolicy:
    """Limits of one fetch: seconds for the whole fetch (redirects included), bytes kept of a
    body, redirects followed, seconds between two requests to one host, and whether private,
    loopback and link-local addresses may be fetched."""

    timeout: float = 20.0
    max_bytes: int = 5_000_000
    max_redirects: int = 5
    host_delay: float = 1.0
    allow_private: bool = False

    def __post_init__(self) -> None:
        if self.timeout <= 0 or self.max_bytes <= 0:
            raise ValueError("timeout and max_bytes must be positive")
        if self.max_redirects < 0 or self.host_delay < 0:
            raise ValueError("max_redirects and host_delay cannot be negative")

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchPolicy:
        return cls(timeout=settings.fetch_timeout, max_bytes=settings.fetch_max_bytes,
                   max_redirects=settings.fetch_max_redirects,
                   host_delay=settings.fetch_host_delay,
                   allow_private=settings.fetch_allow_private)


@dataclass(frozen=True)
class Page:
    """A fetched page or feed (`status` 200), or the news that it has not changed (304)."""

    url: str  # as asked for (normalised)
    final_url: str  # after redirects
    status: int
    media_type: str = ""  # "text/html", lower case, without parameters; "" when not sent
    charset: str | None = None
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    truncated: bool = False  # the body was longer than the policy's max_bytes and was cut

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    def text(self) -> str:
        """The body decoded with its declared charset (UTF-8 when none or unknown)."""
        try:
            return self.body.decode(self.charset or "utf-8", errors="replace")
        except LookupError:
            return self.body.decode("utf-8", errors="replace")


def normalise_url(url: str) -> str:
    """`url` checked and tidied (scheme and host lower case, no fragment); FetchError when it
    is not an http(s) address with a host, carries credentials, or is absurdly long."""
    if not isinstance(url, str):
        raise TypeError("url must be a string")
    url = url.strip()
    if len(url) > MAX_URL_CHARS:
        raise FetchError(f"the address is longer than {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number
    except ValueError:
        raise FetchError(f"{url[:100]} is not a valid web address") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = f"{scheme}:" if scheme else "no scheme"
        raise FetchError(f"{url[:100]}: only http:// and https:// addresses can be fetched "
                         f"({shown})")
    if not parts.hostname:
        raise FetchError(f"{url[:100]} has no host name")
    if parts.username is not None or parts.password is not None:
        raise FetchError(f"{parts.hostname}: addresses with a user name or password are "
                         "not fetched")
    host = parts.hostname.lower()
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != (443 if scheme == "https" else 80):
        netloc += f":{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def address_problem(address: str) -> str | None:
    """Why `address` (an IP) may not be fetched without allow_private, or None when it is a
    public address. IPv4 addresses written as IPv6 (::ffff:10.0.0.1) are judged as IPv4."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            ip = mapped
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved or not ip.is_global:
        return "not a public address"
    return None


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"cannot resolve {host}: "
                         f"{getattr(exc, 'strerror', None) or exc}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class HostThrottle:
    """At most one request per `delay` seconds to each host (thread-safe)."""

    def __init__(self, delay: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.delay = delay
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, host: str) -> float:
        """Wait for `host`'s turn; the seconds waited."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next.get(host, now))
            self._next[host] = start + self.delay
        waited = start - now
        if waited > 0:
            self._sleep(waited)
        return waited


def _media_type(value: str) -> tuple[str, str | None]:
    kind, _, params = value.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, val = param.strip().partition("=")
        if name.lower() == "charset" and val:
            charset = val.strip().strip("\"'").lower()
    return kind.strip().lower(), charset


class Fetcher:
    """Fetches pages under a `FetchPolicy`; one per sync or ingest, closed after it.

    Every hop (the first request and each redirect) resolves its host, refuses it unless every
    address is public (or the policy allows private ones), and then connects to the address it
    checked: a name that resolves differently the second time cannot slip past the check."""

    def __init__(self, policy: FetchPolicy | None = None, *,
                 resolver: Resolver | None = None, throttle: HostThrottle | None = None) -> None:
        self.policy = policy or FetchPolicy()
        self.resolver = resolver or system_resolver
        self.throttle = throttle or HostThrottle(self.policy.host_delay)
        self._client = httpx.Client(timeout=httpx.Timeout(self.policy.timeout),
                                    follow_redirects=False, trust_env=False)

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def _address(self, host: str, port: int) -> str:
        addresses = self.resolver(host, port)
        if not addresses:
            raise FetchError(f"cannot resolve {host}: no addresses")
        if not self.policy.allow_private:
            for address in addresses:
                problem = address_problem(address)
                if problem:
                    what = f"is {problem}" if host.strip("[]") == address else \
                        f"resolves to {address}, {problem}"
                    raise FetchError(f"{host} {what}: refused (--allow-private fetches it)")
        return addresses[0]

    def get(self, url: str, *, etag: str | None = None,
            last_modified: str | None = None) -> Page:
        """GET `url` (a conditional GET with the validators given); FetchError on anything
        that is not a usable page: refused address, HTTP error, timeout, redirect loop,
        content type other than HTML, XML or text. A body over the cap is cut (`truncated`)."""
        asked = current = normalise_url(url)
        deadline = time.monotonic() + self.policy.timeout
        seen = {current}
        for _ in range(self.policy.max_redirects + 1):
            try:
                response = self._send(current, etag, last_modified, deadline)
            except httpx.TimeoutException:
                raise FetchError(f"{current}: timed out after {self.policy.timeout:g} s") from None
            except httpx.HTTPError as exc:
                raise FetchError(f"{current}: cannot connect ({_short(exc)})") from None
            try:
                if response.status_code in _REDIRECTS:
                    location = response.headers.get("location")
                    if not location:
                        raise FetchError(f"{current}: redirect without a Location")
                    current = normalise_url(urljoin(current, location))
                    if current in seen:
                        raise FetchError(f"{asked}: redirect loop at {current}")
                    seen.add(current)
                    continue
                return self._page(asked, current, response, deadline)
            finally:
                response.close()
        raise FetchError(f"{asked}: more than {self.policy.max_redirects} redirects")

    def _send(self, url: str, etag: str | None, last_modified: str | None,
              deadline: float) -> httpx.Response:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = self._address(host, port)
        self.throttle.wait(host)
        if time.monotonic() > deadline:
            raise httpx.TimeoutException("no time left")
        shown_ip = f"[{address}]" if ":" in address else address
        target = urlunsplit((parts.scheme, f"{shown_ip}:{port}", parts.path or "/",
                             parts.query, ""))
        headers = {"Host": parts.netloc, "User-Agent": USER_AGENT,
                   "Accept": "text/html,application/xhtml+xml,application/rss+xml,"
                             "application/atom+xml,application/xml;q=0.9,text/*;q=0.8",
                   "Accept-Encoding": "identity"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
        request = self._client.build_request("GET", target, headers=headers,
                                             extensions=extensions)
        logger.debug("GET %s (%s)", url, address)
        return self._client.send(request, stream=True)

    def _page(self, asked: str, url: str, response: httpx.Response, deadline: float) -> Page:
        status = response.status_code
        etag = response.headers.get("etag")
        modified = response.headers.get("last-modified")
        if status == 304:
            return Page(asked, url, 304, etag=etag, last_modified=modified)
        if status >= 400 or status < 200 or status == 204:
            reason = response.reason_phrase or ""
            raise FetchError(f"{url}: HTTP {status}{' ' + reason if reason else ''}")
        media, charset = _media_type(response.headers.get("content-type", ""))
        if media and media not in ACCEPTED_TYPES:
            raise FetchError(f"{url}: content type {media[:80]} is not HTML, XML or text; "
                             "not fetched")
        body, truncated = self._read(url, response, deadline)
        return Page(asked, url, status, media, charset, body, etag, modified, truncated)

    def _read(self, url: str, response: httpx.Response, deadline: float) -> tuple[bytes, bool]:
        """At most max_bytes of the body (streamed: never more in memory), within the time."""
        cap = self.policy.max_bytes
        parts: list[bytes] = []
        size = 0
        try:
            for block in response.iter_bytes(_READ_BLOCK):
                if time.monotonic() > deadline:
                    raise FetchError(f"{url}: timed out after {self.policy.timeout:g} s")
                if size + len(block) > cap:
                    parts.append(block[:cap - size])
                    logger.info("%s: body over %d bytes; cut", url, cap)
                    return b"".join(parts), True
                parts.append(block)
                size += len(block)
        except httpx.TimeoutException:
            raise FetchError(f"{url}: timed out after {self.policy.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise FetchError(f"{url}: the connection failed ({_short(exc)})") from None
        return b"".join(parts), False


def _short(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:160]
