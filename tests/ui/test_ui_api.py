"""The REST API over a real Assistant (seed articles, extractive engine, real embeddings)."""
from __future__ import annotations

import json
from typing import Any

import pytest
from ui_helpers import QUESTION, UPLOAD_LIMIT, parse_sse

from core.records import Answer

pytestmark = pytest.mark.integration

STORY = ("Lantern boats crowd Qelmira harbour\n\n"
         "The Qelmira harbour lantern festival drew 4,812 visitors on Saturday, organisers said. "
         "Harbour master Odile Venhart counted 212 lantern boats on the water at midnight.\n")


def _check_citations(client: Any, answer: dict[str, Any]) -> None:
    for c in answer["citations"]:
        article = client.get(f"/api/articles/{c['article_id']}").json()
        assert article["text"][c["start"]:c["end"]] == c["quote"]


def test_health(client):
    assert client.get("/api/health").json() == {"status": "ok", "articles": 2,
                                                "engine": "extractive"}


def test_ask_returns_the_answer_serialisation(client):
    r = client.post("/api/ask", json={"question": QUESTION})
    assert r.status_code == 200
    data = r.json()
    answer = Answer.from_dict(data)
    assert json.loads(json.dumps(answer.to_dict())) == data  # the one serialiser, round trip
    assert data["engine"] == "extractive" and data["citations"] and "[1]" in data["text"]
    assert any("33" in c["quote"] for c in data["citations"])
    _check_citations(client, data)


@pytest.mark.parametrize("history", [
    [["How many Turkish soldiers were killed?", "At least 33 soldiers were killed. [1]"]],
    [{"question": "How many Turkish soldiers were killed?",
      "answer": "At least 33 soldiers were killed. [1]"}],
])
def test_ask_follow_up_with_history(client, history):
    r = client.post("/api/ask", json={"question": "Who announced it?", "history": history})
    assert r.status_code == 200, r.text
    assert r.json()["standalone_question"]


def test_ask_with_filters_and_top_k(client):
    r = client.post("/api/ask", json={"question": QUESTION, "top_k": 2,
                                      "filters": {"sources": ["No Such Outlet"]}})
    assert r.status_code == 200
    assert r.json()["passages"] == [] and r.json()["refused"]
    few = client.post("/api/ask", json={"question": QUESTION, "top_k": 1}).json()["passages"]
    many = client.post("/api/ask", json={"question": QUESTION, "top_k": 10}).json()["passages"]
    # top_k unique passages, plus at most two near-duplicates from other outlets
    assert 0 < len(few) <= 3 and len(few) < len(many)


@pytest.mark.fault
@pytest.mark.parametrize("body,status", [
    ({"question": ""}, 400),
    ({"question": "   \n "}, 400),
    ({"question": QUESTION, "filters": {"date_from": "yesterday"}}, 400),
    ({"question": QUESTION, "history": [{"question": "q"}]}, 422),
    ({}, 422),
    ({"question": 42}, 422),
    ({"question": QUESTION, "engine": "gpt-99"}, 422),
    ({"question": QUESTION, "top_k": 0}, 422),
    ({"question": "x" * 20_001}, 422),
])
def test_ask_bad_requests(client, body, status):
    for path in ("/api/ask", "/api/ask/stream"):
        r = client.post(path, json=body)
        assert r.status_code == status, (path, r.text)
        assert "detail" in r.json() and "Traceback" not in r.text


@pytest.mark.fault
def test_malformed_json_is_422(client):
    r = client.post("/api/ask", content=b'{"question": "x"', headers={"Content-Type":
                                                                     "application/json"})
    assert r.status_code == 422


def test_stream_events(client):
    with client.stream("POST", "/api/ask/stream", json={"question": QUESTION}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = parse_sse("".join(r.iter_text()))
    kinds = [k for k, _ in events]
    assert kinds[0] == "token" and kinds[-1] == "final" and "error" not in kinds
    assert kinds.index("final") > max(i for i, k in enumerate(kinds) if k == "citation")
    final = events[-1][1]
    draft = "".join(d["text"] for k, d in events if k == "token")
    assert draft.strip()
    citations = [d for k, d in events if k == "citation"]
    assert [c["number"] for c in citations] == [c["number"] for c in final["citations"]]
    in_outlets = {n for claim in final["outlets"] for n in claim["citations"]}
    for c in citations:
        if c["answer_start"] is None:  # cited only by what each outlet says
            assert c["number"] in in_outlets
        else:
            sentence = final["text"][c["answer_start"]:c["answer_end"]]
            assert f"[{c['number']}]" in sentence
        assert {k: v for k, v in c.items() if not k.startswith("answer_")} in final["citations"]
    plain = client.post("/api/ask", json={"question": QUESTION}).json()
    assert set(final) == set(plain)
    strip = lambda d: {k: v for k, v in d.items() if k != "timings"}  # noqa: E731
    assert strip(final) == strip(plain)


def test_articles_list_and_get(client):
    items = client.get("/api/articles").json()
    assert len(items) == 2
    assert set(items[0]) == {"id", "title", "source", "published", "url", "chunks"}
    one = client.get(f"/api/articles/{items[0]['id']}").json()
    assert one["id"] == items[0]["id"] and len(one["text"]) > 1000
    r = client.get("/api/articles/nope")
    assert r.status_code == 404 and r.json()["detail"]


def test_upload_ask_delete(client, tmp_path):
    path = tmp_path / "../../qelmira festival.txt"  # the server keeps only a safe file name
    (tmp_path / "qelmira festival.txt").write_text(STORY, encoding="utf-8")
    with open(tmp_path / "qelmira festival.txt", "rb") as f:
        r = client.post("/api/articles?wait=true",
                            files=[("files", (path.name, f, "text/plain"))])
    assert r.status_code == 200, r.text
    report = r.json()
    assert len(report["added"]) == 1 and report["skipped"] == []
    new_id = report["added"][0]
    try:
        assert client.get("/api/health").json()["articles"] == 3
        answer = client.post("/api/ask", json={
            "question": "How many visitors did the Qelmira harbour lantern festival draw?"}).json()
        assert any(c["article_id"] == new_id for c in answer["citations"]), answer["text"]
        assert "4,812" in answer["text"]
        # the same file again: unchanged
        with open(tmp_path / "qelmira festival.txt", "rb") as f:
            again = client.post("/api/articles?wait=true",
                                files={"files": ("qelmira festival.txt", f)})
        assert again.json()["unchanged"] == [new_id]
    finally:
        assert client.delete(f"/api/articles/{new_id}").status_code == 200
    assert client.delete(f"/api/articles/{new_id}").status_code == 404
    assert client.get(f"/api/articles/{new_id}").status_code == 404
    assert client.get("/api/health").json()["articles"] == 2


@pytest.mark.fault
def test_upload_limits(client):
    big = b"Big story\n\n" + b"word " * (UPLOAD_LIMIT // 5 + 10)
    r = client.post("/api/articles", files={"files": ("big.txt", big)})
    assert r.status_code == 413 and "limit" in r.json()["detail"]
    for name in ("evil.exe", "paper.pdf", "noext", "x.txt.sh"):
        r = client.post("/api/articles", files={"files": (name, b"hello")})
        assert r.status_code == 415, name
    assert client.post("/api/articles").status_code == 422
    assert client.get("/api/health").json()["articles"] == 2


@pytest.mark.fault
def test_upload_of_unreadable_file_is_reported_as_skipped(client):
    r = client.post("/api/articles?wait=true", files={"files": ("empty.txt", b"   \n")})
    assert r.status_code == 200
    assert r.json()["skipped"] == [{"path": "empty.txt", "reason": "empty file"}]


def test_article_page_highlights_span(client):
    answer = client.post("/api/ask", json={"question": QUESTION}).json()
    c = answer["citations"][0]
    r = client.get(f"/article/{c['article_id']}", params={"start": c["start"], "end": c["end"]})
    assert r.status_code == 200
    assert "default-src 'none'" in r.headers["content-security-policy"]
    from html import escape
    assert f'<mark id="hl">{escape(c["quote"])}</mark>' in r.text
    assert client.get("/article/nope").status_code == 404


def test_openapi_and_web_ui_are_served(client):
    spec = client.get("/openapi.json").json()
    assert {"/api/ask", "/api/ask/stream", "/api/articles", "/api/articles/{article_id}",
            "/api/health"} <= set(spec["paths"])
    assert client.get("/docs").status_code == 200
    assert client.get("/").status_code == 200


def test_ask_takes_as_of_and_rejects_a_bad_date(client):
    later = client.post("/api/ask", json={"question": QUESTION, "as_of": "2100-01-01"})
    assert later.status_code == 200 and later.json()["passages"]
    bad = client.post("/api/ask", json={"question": QUESTION, "as_of": "yesterday"})
    assert bad.status_code == 400 and "as_of" in bad.json()["detail"]


def test_cli_ask_takes_as_of():
    from ui.cli import build_parser

    args = build_parser().parse_args(["ask", "q", "--as-of", "2024-04-12"])
    assert args.as_of == "2024-04-12"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["ask", "q", "--as-of", "last week"])


def test_upload_docs_and_form_list_the_accepted_formats(client):
    from index.formats import EXTENSIONS, extensions_text

    spec = client.get("/openapi.json").json()
    assert extensions_text() in json.dumps(spec)  # the REST docs of POST /api/articles
    config = client.get("/config").json()  # the web chat's upload field
    uploads = [c["props"] for c in config["components"] if c["props"].get("elem_id") == "nc-upload"]
    assert uploads and uploads[0]["file_types"] == list(EXTENSIONS)
    assert extensions_text() in uploads[0]["label"]


def test_verify_endpoint_gives_the_support_check(client):
    passage = ("Rahmi Dogan, governor of Turkey's Hatay Province, said 33 Turkish soldiers were "
               "killed in an air strike in Idlib on February 27.")
    same = client.post("/api/verify", json={"claim": "33 Turkish soldiers were killed in an "
                                                       "air strike in Idlib.", "passage": passage})
    assert same.status_code == 200 and same.json()["state"] == "supported"
    start, end = same.json()["span"]
    assert 0 <= start < end <= len(passage)
    wrong = client.post("/api/verify", json={"claim": "33 Turkish soldiers were killed in an "
                                                        "air strike in Hatay.", "passage": passage})
    assert wrong.status_code == 200 and wrong.json()["state"] != "supported"
    assert client.post("/api/verify", json={"claim": "x"}).status_code == 422
