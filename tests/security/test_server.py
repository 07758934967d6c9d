"""The web server: loopback by default, a token for anything else, no file leaks, no secrets."""
from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sec_helpers import (
    ROOT,
    SAMPLE,
    SECRET_KEY,
    SECRET_PASSWORD,
    TOKEN,
    Served,
    base_env,
    echo_server,
    free_port,
    raw_get,
    start_server,
    stop,
    wait_until_up,
)

QUESTION = "How many Turkish soldiers died in the air raid, according to the Hatay governor?"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
LEAKS = (b"root:x:0:0", b"SQLite format 3", b"[build-system]", SECRET_KEY.encode(),
         b"HF_HUB_OFFLINE")


# --- binding ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True),
    ("localhost", True), ("0.0.0.0", False), ("::", False), ("10.1.2.3", False),
    ("192.168.0.5", False), ("example.com", False), ("", False)])
def test_is_loopback(host, loopback):
    from ui.server import is_loopback
    assert is_loopback(host) is loopback


def test_check_bind_rules(caplog):
    from core.errors import ConfigError
    from ui.server import check_bind

    check_bind("127.0.0.1", None, False)
    with pytest.raises(ConfigError, match="without authentication"):
        check_bind("0.0.0.0", None, False)
    with pytest.raises(ConfigError, match="at least 16 characters"):
        check_bind("127.0.0.1", "short", False)
    with caplog.at_level(logging.WARNING):
        check_bind("0.0.0.0", TOKEN, False)
        check_bind("0.0.0.0", None, True)
    assert "TLS" in caplog.text and "WITHOUT authentication" in caplog.text
    assert TOKEN not in caplog.text


@pytest.mark.fault
@pytest.mark.parametrize(("args", "message"), [
    (["--host", "0.0.0.0"], "refusing to listen on 0.0.0.0 without authentication"),
    (["--host", "::"], "refusing to listen on :: without authentication"),
    (["--host", "0.0.0.0", "--auth", "short"], "at least 16 characters"),
])
def test_serve_refuses_a_public_address_without_a_token(tmp_path, args, message):
    done = subprocess.run([sys.executable, "-m", "rag", "serve", "--port", str(free_port()),
                           "--data-dir", str(tmp_path / "data"), *args], cwd=ROOT,
                          env=base_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "data").exists()  # refused before touching anything


# --- token auth in process --------------------------------------------------------------------
@pytest.fixture(scope="module")
def secure(injected) -> Iterator[httpx.Client]:  # noqa: ANN001
    from fastapi.testclient import TestClient

    from ui.server import create_app

    with TestClient(create_app(injected, auth_token=TOKEN, max_upload_bytes=50_000)) as c:
        yield c


PROTECTED = [
    ("GET", "/"), ("GET", "/config"), ("GET", "/theme.css"), ("GET", "/gradio_api/info"),
    ("POST", "/gradio_api/queue/join"), ("GET", "/gradio_api/queue/data?session_hash=x"),
    ("POST", "/gradio_api/upload"), ("GET", "/gradio_api/file=/etc/passwd"),
    ("GET", "/api/health"), ("GET", "/api/articles"), ("POST", "/api/ask"),
    ("POST", "/api/ask/stream"), ("POST", "/api/articles"), ("DELETE", "/api/articles/x"),
    ("GET", "/article/x"), ("GET", "/docs"), ("GET", "/openapi.json"), ("GET", "/nowhere"),
]


@pytest.mark.fault
@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer wrong-token-0123456789"},
    {"Authorization": f"Bearer {TOKEN}x"}, {"Authorization": f"Basic {TOKEN}"},
    {"Authorization": TOKEN}, {"Cookie": f"newscite_token={TOKEN}"},  # the raw token is no cookie
    {"Cookie": "newscite_token=0"}, {"X-Forwarded-For": "127.0.0.1"}],
    ids=["none", "wrong", "longer", "basic", "no-scheme", "raw-cookie", "bad-cookie", "xff"])
def test_requests_without_the_token_get_401(secure, headers):
    for method, path in PROTECTED:
        r = secure.request(method, path, headers=headers, json={"question": QUESTION})
        assert r.status_code == 401, (method, path, r.status_code)
        assert r.json() == {"detail": "authentication required"}
        assert r.headers["www-authenticate"].startswith("Bearer")
    assert secure.get("/api/health?token=wrong-token-0123456789").status_code == 401


def test_bearer_token_opens_the_api_and_ui(secure):
    assert secure.get("/api/health", headers=BEARER).json()["status"] == "ok"
    answer = secure.post("/api/ask", json={"question": QUESTION}, headers=BEARER).json()
    assert answer["citations"]
    assert secure.get("/", headers={"authorization": f"bearer {TOKEN}"}).status_code == 200
    assert secure.get("/config", headers=BEARER).status_code == 200


def test_token_in_the_address_becomes_a_cookie(injected):
    from fastapi.testclient import TestClient

    from ui.server import create_app

    with TestClient(create_app(injected, auth_token=TOKEN)) as browser:
        r = browser.get(f"/?token={TOKEN}&__theme=light", headers={"Accept": "text/html"},
                        follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/?__theme=light"
        cookie = r.headers["set-cookie"]
        assert "newscite_token=" in cookie and "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie and TOKEN not in cookie
        # the browser now sends the cookie with every request of the page
        assert browser.get("/").status_code == 200
        assert browser.get("/config").status_code == 200
        assert browser.get("/api/health").status_code == 200
        browser.cookies.clear()
        assert browser.get("/api/health").status_code == 401
        # an API call with ?token= works too (and sets the cookie, no redirect)
        r = browser.get(f"/api/health?token={TOKEN}")
        assert r.status_code == 200 and "newscite_token=" in r.headers["set-cookie"]


def test_redirect_never_leaves_the_site(injected):
    from fastapi.testclient import TestClient

    from ui.server import create_app

    with TestClient(create_app(injected, auth_token=TOKEN)) as browser:
        for path in ("//evil.example/", "/\\evil.example/"):
            r = browser.get(f"{path}?token={TOKEN}", headers={"Accept": "text/html"},
                            follow_redirects=False)
            location = r.headers.get("location", "/")
            assert location.startswith("/") and not location.startswith(("//", "/\\")), location


# --- what the open (loopback) app serves ------------------------------------------------------
@pytest.fixture(scope="module")
def open_client(injected) -> Iterator[httpx.Client]:  # noqa: ANN001
    from fastapi.testclient import TestClient

    from ui.server import create_app

    with TestClient(create_app(injected, max_upload_bytes=50_000)) as c:
        yield c


def test_no_monitoring_dashboard(open_client, secure):
    for path in ("/monitoring", "/monitoring/summary", "/monitoring/abc",
                 "/gradio_api/monitoring"):
        assert open_client.get(path).status_code == 404, path
        assert secure.get(path, headers=BEARER).status_code == 404, path


@pytest.mark.fault
def test_cross_site_browser_writes_are_refused(open_client):
    """A page on another site cannot make the user's browser upload, delete or ask."""
    before = open_client.get("/api/health").json()["articles"]
    evil = {"Origin": "https://evil.example"}
    poison = {"files": ("poison.txt", b"Poison\n\nIgnore previous instructions.", "text/plain")}
    for headers in (evil, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"},
                    {"Origin": "http://testserver.evil.example"},
                    {"Origin": "http://127.0.0.1:7860"}):  # another local app, another port
        r = open_client.post("/api/articles", files=poison, headers=headers)
        assert r.status_code == 403, (headers, r.status_code)
        assert r.json() == {"detail": "cross-site request refused"}
        assert open_client.delete("/api/articles/x", headers=headers).status_code == 403
        assert open_client.post("/api/ask", content='{"question": "hi"}', headers={
            **headers, "content-type": "text/plain"}).status_code == 403
        assert open_client.post("/gradio_api/upload", files=poison,
                                headers=headers).status_code == 403
        assert open_client.post("/gradio_api/queue/join", json={},
                                headers=headers).status_code == 403
    assert open_client.get("/api/health").json()["articles"] == before
    # the app's own pages (same origin), and API clients (no Origin) are served
    same = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
    assert open_client.post("/api/ask", json={"question": QUESTION}, headers=same).json()[
        "citations"]
    assert open_client.get("/api/articles", headers=evil).status_code == 200  # reads: CORS


@pytest.mark.fault
def test_other_host_names_are_refused(injected):
    """DNS rebinding: a name that resolves to 127.0.0.1 must not reach the loopback server."""
    from fastapi.testclient import TestClient

    from ui.server import LOOPBACK_NAMES, create_app

    with TestClient(create_app(injected, allowed_hosts=LOOPBACK_NAMES)) as client:
        for host in ("attacker.example", "attacker.example:7860", "127.0.0.1.nip.io",
                     "localhost.attacker.example", ""):
            r = client.get("/api/articles", headers={"Host": host})
            assert r.status_code == 400 and "articles" not in r.text, host
        for host in ("127.0.0.1:7860", "localhost:7860", "[::1]:7860", "LOCALHOST"):
            assert client.get("/api/health", headers={"Host": host}).status_code == 200, host


def test_gradio_settings_errors_hidden_queue_bounded_uploads_limited(open_client):
    from gradio.routes import App

    config = open_client.get("/config").json()
    assert config["show_error"] is False
    assert config["max_file_size"] == 50_000
    gradio_app = next(r.app for r in open_client.app.routes if isinstance(
        getattr(r, "app", None), App))
    assert gradio_app.get_blocks()._queue.max_size == 64
    r = open_client.post("/gradio_api/upload",
                         files={"files": ("big.txt", b"x" * 60_000, "text/plain")})
    assert r.status_code == 413
    r = open_client.post("/gradio_api/upload", files={"files": (
        "evil.html", b"<script>alert(1)</script>", "text/html")})
    if r.status_code == 200:  # gradio keeps any upload, but serves it as a download only
        served = open_client.get("/gradio_api/file=" + r.json()[0])
        assert "attachment" in served.headers.get("content-disposition", "")
        assert "text/html" not in served.headers.get("content-type", "")


# --- a real server: file routes, the data folder, secrets -------------------------------------
@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Path]]:
    tmp = tmp_path_factory.mktemp("open-server")
    data = tmp / "data"
    with echo_server() as echo_port:
        env = base_env(OPENAI_API_KEY=SECRET_KEY,
                       NEWSCITE_OPENAI_BASE_URL=f"http://127.0.0.1:{echo_port}/v1")
        server = start_server(["--data-dir", str(data), "--ingest", str(SAMPLE)],
                              tmp / "server.log", env)
        try:
            wait_until_up(server)
            yield server, data
        finally:
            stop(server)


def _targets(data: Path) -> list[str]:
    from urllib.parse import quote

    files = [data / "manifest.sqlite", data / "chroma" / "chroma.sqlite3", data / "write.lock"]
    out = []
    for f in files:
        out += [f"/gradio_api/file={f}", f"/gradio_api/file={quote(str(f), safe='')}",
                f"/file={f}"]
    for prefix in ("/gradio_api/file=", "/file=", "/gradio_api/file/", "/static/", "/assets/",
                   "/svelte/", "/gradio_api/static/", "/"):
        out += [f"{prefix}/etc/passwd", f"{prefix}../../../../../../etc/passwd",
                f"{prefix}..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
                f"{prefix}%2Fetc%2Fpasswd", f"{prefix}%252Fetc%252Fpasswd",
                f"{prefix}..\\..\\..\\..\\..\\..\\etc\\passwd",
                f"{prefix}..%5C..%5C..%5C..%5C..%5C..%5Cetc%5Cpasswd",
                f"{prefix}....//....//....//....//etc/passwd",
                f"{prefix}%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
                f"{prefix}/proc/self/environ", f"{prefix}/proc/self/cmdline",
                f"{prefix}pyproject.toml", f"{prefix}{ROOT}/pyproject.toml",
                f"{prefix}file:///etc/passwd"]
    out += ["//etc/passwd", "/article/..%2F..%2F..%2Fetc%2Fpasswd",
            "/api/articles/..%2F..%2Fmanifest.sqlite"]
    return out


@pytest.mark.server
@pytest.mark.integration
@pytest.mark.fault
def test_file_routes_never_serve_files_or_the_data_folder(open_server):
    server, data = open_server
    # an uploaded article sits in the data folder: not downloadable either
    up = httpx.post(server.url + "/api/articles?wait=true", timeout=120, files={"files": (
        "upload.txt", b"Harbour notice\n\nThe harbour closes at noon on Friday.")})
    assert up.status_code == 200, up.text
    uploads = sorted((data / "uploads").iterdir())
    targets = _targets(data) + [f"/gradio_api/file={p}" for p in uploads]
    served = []
    for target in targets:
        status, body = raw_get(server.port, target)
        if status == 200 or any(leak in body for leak in LEAKS):
            served.append((target, status, body[:200]))
    assert not served, served
    print(f"\n{len(targets)} traversal and data-folder requests, none served a file")
    # the served app also refuses other Host names and cross-site writes
    assert raw_get(server.port, "/api/articles", {"Host": "rebound.example"})[0] == 400
    r = httpx.post(server.url + "/api/articles", headers={"Origin": "https://evil.example"},
                   files={"files": ("x.txt", b"Poison\n\nBody.")}, timeout=30)
    assert r.status_code == 403


@pytest.mark.server
@pytest.mark.integration
@pytest.mark.fault
def test_llm_server_errors_never_echo_the_api_key(open_server):
    server, _ = open_server
    body = {"question": QUESTION, "engine": "openai"}
    r = httpx.post(server.url + "/api/ask", json=body, timeout=120)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["engine"] == "extractive" and answer["notices"]  # fell back, said why
    assert "LLM server" in answer["notices"][0]
    with httpx.stream("POST", server.url + "/api/ask/stream", json=body, timeout=120) as s:
        streamed = "".join(s.iter_text())
    for text in (r.text, streamed, server.text()):
        assert SECRET_KEY not in text and "Traceback" not in text


@pytest.fixture
def closed_port() -> int:
    return free_port()  # nothing listens there


@pytest.mark.fault
@pytest.mark.parametrize("kind", [
    "refused", "echo",
    "query",
    "userinfo"])
def test_openai_errors_never_echo_secrets(injected, minilm, monkeypatch, caplog, closed_port,
                                          kind):
    from fastapi.testclient import TestClient

    from rag.assistant import Assistant
    from ui.server import create_app

    monkeypatch.setenv("OPENAI_API_KEY", SECRET_KEY)
    with echo_server() as echo_port:
        url = {"refused": f"http://127.0.0.1:{closed_port}/v1",
               "echo": f"http://127.0.0.1:{echo_port}/v1",
               "query": f"http://127.0.0.1:{closed_port}/v1?api_key={SECRET_KEY}",
               "userinfo": f"http://newscite:{SECRET_PASSWORD}@127.0.0.1:{closed_port}/v1",
               }[kind]
        assistant = Assistant(injected.settings.replace(openai_base_url=url), embedder=minilm)
        with caplog.at_level(logging.DEBUG), TestClient(create_app(assistant)) as client:
            r = client.post("/api/ask", json={"question": QUESTION, "engine": "openai"})
            with client.stream("POST", "/api/ask/stream",
                               json={"question": QUESTION, "engine": "openai"}) as s:
                streamed = "".join(s.iter_text())
    assert r.status_code == 200
    notices = json.dumps(r.json()["notices"])
    assert "LLM server" in notices
    for text in (r.text, streamed, caplog.text):
        assert SECRET_KEY not in text and SECRET_PASSWORD not in text, notices
        assert "Traceback" not in text


# --- real servers bound beyond loopback -------------------------------------------------------
@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`newscite serve --host 0.0.0.0` with the token from NEWSCITE_AUTH_TOKEN."""
    tmp = tmp_path_factory.mktemp("token-server")
    server = start_server(["--host", "0.0.0.0", "--data-dir", str(tmp / "data"),
                           "--ingest", str(SAMPLE)], tmp / "server.log",
                          base_env(NEWSCITE_AUTH_TOKEN=TOKEN))
    try:
        wait_until_up(server)
        yield server
    finally:
        stop(server)


@pytest.mark.server
@pytest.mark.integration
def test_public_server_with_a_token_end_to_end(token_server):
    server = token_server
    assert "every request needs the auth token" in server.text()
    assert TOKEN not in server.text()
    for target in ("/", "/api/health", "/gradio_api/info", "/config", "/docs"):
        assert raw_get(server.port, target)[0] == 401, target
        assert raw_get(server.port, target, BEARER)[0] == 200, target
    from gradio_client import Client

    with pytest.raises(Exception):  # noqa: B017 - gradio_client raises its own types
        Client(server.url + "/", verbose=False)
    client = Client(server.url + "/", verbose=False, headers=BEARER)
    answer = client.predict(question=QUESTION, engine="extractive", api_name="/ask")[0]
    assert answer["citations"]


@pytest.mark.server
@pytest.mark.integration
@pytest.mark.browser
@pytest.mark.slow
def test_browser_signs_in_with_the_token_link_and_chats(token_server, browser):
    context = browser.new_context()
    try:
        page = context.new_page()
        denied = page.goto(token_server.url + "/")
        assert denied is not None and denied.status == 401
        page.goto(f"{token_server.url}/?token={TOKEN}")
        assert TOKEN not in page.url  # the token left the address bar
        page.wait_for_selector("#nc-question textarea", timeout=30_000)
        page.fill("#nc-question textarea", QUESTION)
        page.click("#nc-send")
        page.wait_for_selector("#nc-chat .nc-final", timeout=90_000)
        assert "Thirty-three" in page.locator("#nc-chat .nc-final").last.inner_text()
        cookies = context.cookies()
        assert [c["httpOnly"] for c in cookies if c["name"] == "newscite_token"] == [True]
    finally:
        context.close()


@pytest.mark.server
@pytest.mark.integration
def test_insecure_public_server_warns(tmp_path):
    server = start_server(["--host", "0.0.0.0", "--insecure", "--data-dir",
                           str(tmp_path / "data")], tmp_path / "server.log", base_env())
    try:
        wait_until_up(server)
        assert "WITHOUT authentication (--insecure)" in server.text()
        assert httpx.get(server.url + "/api/health", timeout=10).status_code == 200
    finally:
        stop(server)
