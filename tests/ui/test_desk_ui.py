"""The news desk at the edges: the CLI (compare, timeline, agreement lines), REST, HTML."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ui_helpers import QUESTION

from core.records import Answer, Citation, Claim, Sentence
from ui import render
from ui.desk_render import compare_html, timeline_html
from ui.markdown import answer_markdown


def _answer() -> Answer:
    quote = "At least 33 soldiers <b>died</b>."
    return Answer(question="How many?", text=f"{quote} [1]",
                  citations=(Citation(1, "a1", "T", "c1", quote, 0, len(quote), "RFE/RL",
                                      "2020-02-28"),),
                  sentences=(Sentence(quote, 0, len(quote) + 4, (1,), True, "supported"),),
                  outlets=(Claim("33", ("RFE/RL", "Levant <Ledger>"), (1,), "2020-02-28",
                                 "2020-02-28", ("Copy Co",)),))


def test_agreement_under_the_answer_is_escaped_and_linked() -> None:
    html = render.answer_html(_answer(), "a0")
    assert "What each outlet says" in html and "Levant &lt;Ledger&gt;" in html
    assert 'href="#a0-1"' in html and "also in 1 outlet" in html
    assert "<Ledger>" not in html
    md = answer_markdown(_answer())
    assert "**What each outlet says:**" in md and "[^1]" in md
    assert ".nc-outlets" in render.CSS and "var(--nc-border)" in render.CSS


def test_desk_links_are_the_article_page_links() -> None:
    from ui.desk_render import article_href
    assert article_href("a/1", 3, 9) == render.article_href("a/1", 3, 9)


def test_empty_desk_views_say_so() -> None:
    from rag.desk.compare import Comparison
    from rag.desk.timeline import Timeline
    assert "No outlet" in compare_html(Comparison("q", (), (), ()))
    assert "No dated event" in timeline_html(Timeline("t", ()))


@pytest.mark.integration
def test_cli_compare_timeline_and_agreement(tmp_path: Path, sample_dir: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from ui.cli import main

    data = str(tmp_path / "data")
    assert main(["ingest", str(sample_dir), "--data-dir", data, "--quiet"]) == 0
    capsys.readouterr()
    assert main(["compare", "How many Turkish soldiers died in the February 27 attack?",
                 "--data-dir", data]) == 0
    out = capsys.readouterr().out
    assert "Northern Dispatch (2020-03-09): 34 [" in out and "By value:" in out
    assert main(["timeline", "joint Turkish and Russian patrols along the M4", "--json",
                 "--data-dir", data]) == 0
    events = json.loads(capsys.readouterr().out)["events"]
    assert "2020-03-15" in [e["date"] for e in events]
    assert all(e["citations"] for e in events)
    latest = "What is the latest death toll of Turkish soldiers from the February 27 air strike?"
    assert main(["ask", latest, "--data-dir", data]) == 0
    out = capsys.readouterr().out
    assert out.startswith("As of March 9, 2020 (Northern Dispatch): ")
    assert "What each outlet says:" in out


@pytest.mark.integration
def test_rest_compare_and_timeline(client: Any) -> None:
    r = client.post("/api/compare", json={"question": QUESTION})
    assert r.status_code == 200, r.text
    table = r.json()
    assert table["rows"] and table["citations"]
    for c in table["citations"]:
        article = client.get(f"/api/articles/{c['article_id']}").json()
        assert article["text"][c["start"]:c["end"]] == c["quote"]
    r = client.post("/api/timeline", json={"question": "Turkish soldiers killed in Idlib",
                                           "as_of": "2020-03-01"})
    assert r.status_code == 200 and "events" in r.json()
    assert client.post("/api/compare", json={"question": "  "}).status_code == 400
    assert client.post("/api/timeline", json={"question": "x",
                                              "as_of": "yesterday"}).status_code == 400
    answer = client.post("/api/ask", json={"question": QUESTION}).json()
    assert "outlets" in answer
    assert json.loads(json.dumps(Answer.from_dict(answer).to_dict())) == answer


@pytest.mark.integration
def test_web_desk_tab(seeded_assistant: Any) -> None:
    from ui.service import Library
    from ui.web import build_blocks

    demo = build_blocks(Library(seeded_assistant))
    fns = {getattr(f.fn, "__name__", ""): f.fn for f in demo.fns.values()}
    html = fns["compare"](QUESTION, [], "", "", "2020-03-01")
    assert "<table>" in html and "nc-cite" in html and "33" in html
    assert "nc-desk" in fns["timeline"]("Turkish soldiers killed in Idlib", [], "", "", "")
    # a mistake is one warning and the output stays as it was
    with pytest.warns(UserWarning):
        assert fns["compare"]("  ", [], "", "", "") == {"__type__": "update"}
    with pytest.warns(UserWarning):
        assert fns["timeline"]("x", [], "", "", "yesterday") == {"__type__": "update"}
