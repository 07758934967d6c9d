"""Answers as Markdown (ui.markdown): footnotes match the [n] markers, article and model text
cannot turn into Markdown syntax; the same renderer behind the CLI, REST and the web chat."""
from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from ui_helpers import QUESTION

from core.records import REFUSAL, Answer, Citation, Hit, Sentence
from ui import markdown, render

PASSAGE = "Intro. At least 33 soldiers were killed in the strike. Then more."
QUOTE = "At least 33 soldiers were killed in the strike."
TRICKY = ("# Breaking *news*: [click](https://evil.example) ![x](https://evil.example/b.png) "
          "<img src=x onerror=alert(1)> `code` _under_ ~~gone~~ | a | b | [^9] &amp; $x$\n"
          "- not a list\n1. not a list either\n    not code\n> not a quote")


def _citation(number: int, quote: str = QUOTE, title: str = "Strike toll",
              url: str | None = "https://example.org/a b<c>") -> Citation:
    return Citation(number=number, article_id=f"a{number}", title=title,
                    chunk_id=f"a{number}-c0", quote=quote, start=7, end=7 + len(quote),
                    source="Wire", published="2020-02-28", url=url, score=1.0)


def _answer(text: str, citations: tuple[Citation, ...], *, refused: bool = False,
            sentences: tuple[Sentence, ...] = (), question: str = "How many died?") -> Answer:
    hits = tuple(Hit(chunk_id=c.chunk_id, article_id=c.article_id, title=c.title, text=PASSAGE,
                     start=0, end=len(PASSAGE), score=0.5) for c in citations)
    return Answer(question=question, text=text, citations=citations, passages=hits,
                  refused=refused, sentences=sentences)


def _plain(md: str) -> tuple[str, str]:
    """Markdown rendered by a CommonMark parser: (its HTML, its text without tags)."""
    markdown_it = pytest.importorskip("markdown_it")
    html = markdown_it.MarkdownIt("commonmark").enable("table").enable("strikethrough") \
        .render(md)
    text = re.sub(r"<[^>]+>", "", html)
    import html as html_lib
    return html, html_lib.unescape(text)


def test_footnotes_are_numbered_like_the_markers():
    answer = _answer("Thirty-three died. [1] NATO met. [2] Both sides spoke. [1][2] See [7].",
                     (_citation(1), _citation(2, "NATO met on Friday.", "NATO meets")))
    md = markdown.answer_markdown(answer)
    refs = re.findall(r"\[\^(\d+)\](?!:)", md)
    notes = re.findall(r"^\[\^(\d+)\]: ", md, re.MULTILINE)
    assert refs == ["1", "2", "1", "2"] and notes == ["1", "2"]
    assert "\\[7\\]" in md  # no such citation: stays text
    assert md.startswith("# How many died?\n")
    one, two = md.split("\n[^1]: ", 1)[1].split("\n[^2]: ")
    assert one.startswith("*Strike toll*. Wire, 2020-02-28. <https://example.org/a%20b%3Cc%3E>")
    assert one.rstrip().endswith(f"“{QUOTE}”")
    assert two.startswith("*NATO meets*") and "NATO met on Friday." in two


def test_a_conversation_numbers_footnotes_through_all_its_answers():
    first = _answer("A. [1] B. [2]", (_citation(1), _citation(2, "Second quote.")))
    second = _answer("C. [1]", (_citation(1, "Third quote."),), question="And then?")
    md = markdown.conversation_markdown([first, second])
    assert re.findall(r"^\[\^(\d+)\]: ", md, re.MULTILINE) == ["1", "2", "3"]
    assert "C. [^3]" in md and "## How many died?" in md and "## And then?" in md
    assert md.startswith("# newscite conversation\n")


def test_special_characters_in_quotes_titles_and_answers_are_escaped():
    cite = _citation(1, quote=TRICKY.replace("\n", " "), title="*Bold* [title](x) <b>",
                     url="javascript:alert(1)")
    answer = _answer(TRICKY + " [1]", (cite,), question="# What <script>?")
    md = markdown.answer_markdown(answer)
    assert "javascript" not in md
    html, text = _plain(md)
    # the only markup is the one the renderer makes: a heading, paragraphs, the title's
    # emphasis; never a link, image, code, list, quote, table or raw HTML
    assert re.findall(r"<(\w+)", html) and set(re.findall(r"<(\w+)", html)) <= \
        {"h1", "p", "em", "br"}, html
    for piece in ("# Breaking *news*: [click](https://evil.example)", "<img src=x",
                  "`code` _under_ ~~gone~~ | a | b | [^9] &amp; $x$", "- not a list",
                  "1. not a list either", "not code", "> not a quote", "What <script>?",
                  "*Bold* [title](x) <b>"):
        assert piece in text, piece


def test_refusals_say_so_and_keep_the_text():
    md = markdown.answer_markdown(_answer(REFUSAL, (), refused=True))
    assert f"**{markdown.REFUSED}**" in md and REFUSAL in md and "[^" not in md


def test_unsupported_sentences_are_marked():
    text = "Supported. [1] Invented claim."
    answer = _answer(text, (_citation(1),), sentences=(
        Sentence("Supported. [1]", 0, 14, (1,), True),
        Sentence("Invented claim.", 15, len(text), (), False)))
    assert "Supported. [^1] Invented claim. *(unverified)*" in markdown.answer_markdown(answer)


def test_the_chat_offers_the_same_markdown_per_answer_and_for_the_conversation():
    answer = _answer("A. [1]", (_citation(1),))
    html = render.chat_html([{"question": answer.question, "answer": answer}] * 2)
    links = re.findall(r'href="data:text/markdown;charset=utf-8;base64,([^"]+)"', html)
    texts = [base64.b64decode(x).decode() for x in links]
    assert texts == [markdown.conversation_markdown([answer, answer]),
                     markdown.answer_markdown(answer), markdown.answer_markdown(answer)]
    assert html.count('class="nc-copy"') == 3
    assert 'download="newscite-how-many-died.md"' in html
    # while an answer streams in, no conversation export (it is redrawn many times a second)
    assert "nc-actions-all" not in render.chat_html([{"question": "q", "answer": answer}],
                                                    "next?", "draft")


# --- the REST API and the CLI use it ---------------------------------------------------------
@pytest.mark.integration
def test_rest_ask_answers_markdown_on_request(client):
    r = client.post("/api/ask?format=markdown", json={"question": QUESTION})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/markdown")
    answer = Answer.from_dict(client.post("/api/ask", json={"question": QUESTION}).json())
    assert r.text == markdown.answer_markdown(answer)
    assert re.search(r"^\[\^1\]: \*.+\*.*“.+”$", r.text, re.MULTILINE)
    assert client.post("/api/ask?format=yaml", json={"question": QUESTION}).status_code == 422


@pytest.mark.integration
def test_cli_ask_prints_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from ui.cli import main

    sample = Path(__file__).resolve().parents[2] / "eval" / "corpus" / "sample"
    data = str(tmp_path / "data")
    assert main(["ingest", str(sample), "--data-dir", data, "--quiet"]) == 0
    capsys.readouterr()
    args = ["ask", QUESTION, "--data-dir", data, "--engine", "extractive"]
    assert main([*args, "--format", "markdown"]) == 0
    md = capsys.readouterr().out
    assert md.startswith(f"# {QUESTION}\n") and "[^1]" in md
    assert re.search(r"^\[\^1\]: ", md, re.MULTILINE)
    # the other formats are still there
    assert main([*args, "--json"]) == 0
    assert '"citations"' in capsys.readouterr().out
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "[1]" in out and "[^1]" not in out
