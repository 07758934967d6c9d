"""The served app from outside: gradio_client's /ask (streamed), REST over real HTTP, the log,
and Gradio's own upload route held to the app's upload limits."""
from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from ui_helpers import QUESTION, parse_sse

pytestmark = [pytest.mark.server, pytest.mark.integration]


def test_start_is_logged_with_the_url(live_server):
    assert f"{live_server.url}/" in live_server.log.read_text()


def test_gradio_client_ask_streams_then_answers(live_server):
    from gradio_client import Client

    client = Client(live_server.url + "/", verbose=False)
    job = client.submit(question=QUESTION, engine="extractive", api_name="/ask")
    answer, chat, box = job.result(timeout=60)
    assert answer["question"] == QUESTION and answer["citations"] and box == ""
    assert 'class="nc-cite"' in chat and "<mark>" in chat
    outputs = job.outputs()
    # the draft is shown while it streams, the checked answer replaces it
    assert any("nc-streaming" in str(out[1]) for out in outputs[:-1])
    assert "nc-streaming" not in outputs[-1][1]
    # the same client is one conversation: a follow-up sees the history
    follow = client.predict(question="Who announced it?", api_name="/ask")[0]
    assert follow["standalone_question"] != "Who announced it?"


@pytest.mark.fault
def test_gradio_client_errors_are_short_messages(live_server):
    from gradio_client import Client

    client = Client(live_server.url + "/", verbose=False)
    with pytest.raises(Exception, match="date_from must be a date"):
        client.predict(question=QUESTION, date_from="yesterday", api_name="/ask")
    with pytest.raises(Exception, match="Type a question first"):
        client.predict(question="  ", api_name="/ask")


def test_sse_over_real_http(live_server):
    with httpx.stream("POST", live_server.url + "/api/ask/stream", json={"question": QUESTION},
                      timeout=60) as r:
        assert r.status_code == 200
        kinds = [k for k, _ in parse_sse("".join(r.iter_text()))]
    assert kinds[0] == "token" and "citation" in kinds and kinds[-1] == "final"


@pytest.mark.llm
@pytest.mark.slow
def test_sse_with_the_local_engine_opens_with_the_quick_answer(live_server):
    """The real packaged model behind the real server: the checked extractive answer arrives
    first, the model's draft after it, and the final event decides."""
    from rag.llm import is_local_available

    if not is_local_available():
        pytest.skip("the local engine's packages are not installed")
    with httpx.stream("POST", live_server.url + "/api/ask/stream",
                      json={"question": QUESTION, "engine": "local"}, timeout=180) as r:
        assert r.status_code == 200
        events = parse_sse("".join(r.iter_text()))
    kinds = [k for k, _ in events]
    assert kinds[0] == "quick" and kinds[-1] == "final", kinds
    quick, final = events[0][1], events[-1][1]
    assert quick["quick"] and quick["engine"] == "extractive" and quick["citations"]
    assert quick["timings"]["total"] < final["timings"]["total"]
    if final["engine"] == "local":  # the model's answer kept at least one verified sentence
        assert "token" in kinds and not final["quick"] and final["citations"]
    else:  # else the quick answer stays, saying why
        assert final["quick"] and final["text"] == quick["text"] and final["notices"]


@pytest.mark.llm
@pytest.mark.slow
def test_web_chat_shows_the_quick_answer_while_the_model_writes(live_server):
    from gradio_client import Client

    from rag.llm import is_local_available

    if not is_local_available():
        pytest.skip("the local engine's packages are not installed")
    client = Client(live_server.url + "/", verbose=False)
    job = client.submit(question=QUESTION, engine="local", api_name="/ask")
    answer, chat, _ = job.result(timeout=180)
    shown = [str(out[1]) for out in job.outputs()[:-1]]
    # a checked, cited quick answer is on screen before the final one replaces it
    first_quick = next(i for i, html in enumerate(shown) if "nc-quick" in html)
    assert 'class="nc-cite"' in shown[first_quick] and "nc-final" not in shown[first_quick]
    assert "nc-quick" not in chat and "nc-final" in chat
    assert answer["engine"] in ("local", "extractive") and answer["citations"]


def test_binds_localhost_only(live_server):
    assert live_server.url.startswith("http://127.0.0.1:")
    r = httpx.get(live_server.url + "/gradio_api/info", timeout=10)
    assert r.status_code == 200 and "/ask" in r.text


# --- Gradio's own upload route takes the app's upload limits ----------------------------------
NOTICE = b"Harbour notice\n\nThe harbour closes at noon on Friday for dredging work.\n"


def _stored(client) -> set[str]:  # noqa: ANN001
    """Every file in the in-process Gradio app's upload folder."""
    from gradio.routes import App

    gradio_app = next(r.app for r in client.app.routes if isinstance(getattr(r, "app", None), App))
    folder = Path(gradio_app.uploaded_file_dir)
    return {str(p) for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


@pytest.mark.fault
@pytest.mark.parametrize(("name", "status"), [
    ("payload.exe", 415), ("beacon.svg", 415), ("story.txt.php", 415), ("noextension", 415),
    ("../../story.sh", 415), ("story.TXT", 200), ("story.md", 200), ("feed.jsonl", 200)])
def test_gradio_upload_route_takes_only_article_types(live_server, name, status):
    r = httpx.post(live_server.url + "/gradio_api/upload", timeout=30,
                   files={"files": (name, NOTICE, "application/octet-stream")})
    assert r.status_code == status, r.text
    if status == 415:
        assert "unsupported file type" in r.json()["detail"] and "Traceback" not in r.text


@pytest.mark.fault
def test_gradio_upload_route_refuses_big_files_and_mixed_batches(live_server):
    from ui.service import DEFAULT_MAX_UPLOAD_BYTES
    from ui.uploads import MAX_FILES_PER_UPLOAD

    url = live_server.url + "/gradio_api/upload"
    big = b"word " * (DEFAULT_MAX_UPLOAD_BYTES // 5 + 1)
    r = httpx.post(url, files={"files": ("big.txt", big, "text/plain")}, timeout=60)
    assert r.status_code == 413 and "upload limit" in r.json()["detail"], r.text
    mixed = [("files", ("a.txt", NOTICE, "text/plain")), ("files", ("b.exe", NOTICE, "x/y"))]
    assert httpx.post(url, files=mixed, timeout=30).status_code == 415
    many = [("files", (f"n{i}.txt", NOTICE, "text/plain")) for i in range(MAX_FILES_PER_UPLOAD + 1)]
    r = httpx.post(url, files=many, timeout=60)
    assert r.status_code == 413 and "files in one upload" in r.json()["detail"], r.text
    ok = [("files", (f"n{i}.txt", NOTICE, "text/plain")) for i in range(3)]
    r = httpx.post(url, files=ok, timeout=30)
    assert r.status_code == 200 and len(r.json()) == 3, r.text


@pytest.mark.fault
def test_refused_uploads_are_never_stored(client):
    """The in-process app (50 KB limit): Gradio's upload folder gains nothing from a refusal."""
    before = _stored(client)
    refused = [
        {"files": ("payload.exe", NOTICE, "application/octet-stream")},
        {"files": ("big.txt", b"x" * 60_000, "text/plain")},
        [("files", ("fine.txt", NOTICE, "text/plain")), ("files", ("evil.svg", b"<svg/>", "x"))],
    ]
    for files in refused:
        r = client.post("/gradio_api/upload", files=files)
        assert r.status_code in (413, 415), r.text
        assert _stored(client) == before
    # the check can see a stored file: an allowed upload adds one (new bytes: Gradio stores
    # uploads by content hash in a folder shared by every run on this machine)
    fresh = NOTICE + f"\nrun {uuid.uuid4().hex}".encode()
    assert client.post("/gradio_api/upload", files={"files": ("fine.txt", fresh)}).status_code \
        == 200
    assert len(_stored(client) - before) == 1
