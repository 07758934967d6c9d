"""The served app from outside: gradio_client's /ask (streamed), REST over real HTTP, the log."""
from __future__ import annotations

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


def test_binds_localhost_only(live_server):
    assert live_server.url.startswith("http://127.0.0.1:")
    r = httpx.get(live_server.url + "/gradio_api/info", timeout=10)
    assert r.status_code == 200 and "/ask" in r.text
