"""HTML building escapes model and article text and links only real citations."""
from __future__ import annotations

import re
from dataclasses import replace
from types import SimpleNamespace

import pytest

from core.records import Answer, Citation, Hit, Sentence
from ui import render

EVIL = ("<img src=x onerror=alert(1)> <script>window.__xss=1</script> "
        "![x](https://attacker.example/b.png)")
PASSAGE = "Intro sentence. At least 33 soldiers were killed in the strike. Closing sentence."
QUOTE = "At least 33 soldiers were killed in the strike."


def _answer(text: str, *, supported: bool = True, refused: bool = False,
            url: str | None = "https://example.org/a", title: str = "Strike toll",
            notices: tuple[str, ...] = ()) -> Answer:
    start = PASSAGE.index(QUOTE)
    hit = Hit(chunk_id="a1-c0", article_id="a1", title=title, text=PASSAGE, start=100,
              end=100 + len(PASSAGE), score=0.9, source="Wire <b>", published="2020-02-28",
              url=url)
    other = Hit(chunk_id="a2-c0", article_id="a2", title="Other " + EVIL, text="Uncited " + EVIL,
                start=0, end=30, score=0.5)
    cite = Citation(number=1, article_id="a1", title=title, chunk_id="a1-c0", quote=QUOTE,
                    start=100 + start, end=100 + start + len(QUOTE), source="Wire <b>",
                    published="2020-02-28", url=url, score=1.0)
    return Answer(question="q", text=text, citations=(cite,), passages=(hit, other),
                  refused=refused, engine="extractive",
                  sentences=(Sentence(text, 0, len(text), (1,), supported),),
                  notices=notices, timings={"total": 0.25})


def test_model_and_article_text_is_escaped():
    html = render.answer_html(_answer(f"{EVIL} [1]", title=EVIL, notices=(EVIL,)), "c1")
    assert "<img" not in html and "<script" not in html and "<b>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;script&gt;" in html


def test_markers_link_to_source_cards_in_order():
    html = render.answer_html(_answer("33 soldiers were killed. [1] See also [7]."), "c3")
    assert re.search(r'<a class="nc-cite" href="#c3-1"[^>]*>\[1\]</a>', html)
    assert "[7]" in html and 'href="#c3-7"' not in html  # no such citation: not a link
    assert 'id="c3-1"' in html


def test_cited_span_is_highlighted_in_its_passage():
    html = render.sources_html(_answer("x [1]"), "c1")
    assert f"<mark>{QUOTE}</mark>" in html
    assert "Intro sentence." in html  # the rest of the passage is shown around it
    assert "/article/a1?start=" in html and "#hl" in html


def test_uncited_passages_are_collapsed():
    html = render.sources_html(_answer("x [1]"), "c1")
    assert re.search(r"<details[^>]*><summary>1 more retrieved passage \(not cited\)", html)
    assert "Uncited &lt;img" in html


def test_unsupported_and_refused_are_marked():
    html = render.answer_html(_answer("Made up. [1]", supported=False), "c1")
    assert 'class="nc-unsupported"' in html and "unverified" in html
    html = render.answer_html(_answer("The articles do not say.", refused=True), "c1")
    assert "nc-refused" in html


def test_partly_supported_sentences_say_which_words_the_passage_lacks():
    text = "At least 33 soldiers were killed. [1] Officials in <Ankara> said so."
    first = Sentence("At least 33 soldiers were killed.", 0, 37, (1,), True, "supported")
    partial = Sentence("Officials in <Ankara> said so.", 38, len(text), (), False, "partial",
                       ("<Ankara>",))
    answer = replace(_answer(text), sentences=(first, partial))
    html = render.answer_html(answer, "c1")
    assert "partly supported" in html and "unverified" not in html
    assert "not in the passage: &lt;Ankara&gt;" in html and "<Ankara>" not in html
    # the answer survives the one serialisation with its words
    assert Answer.from_dict(answer.to_dict()).sentences[1].unsupported == ("<Ankara>",)


@pytest.mark.parametrize("url,ok", [
    ("https://example.org/a?b=1", True), ("http://x.test/", True),
    ("javascript:alert(1)", False), ("JaVaScRiPt:alert(1)", False), ("data:text/html,hi", False),
    ("//evil.test/x", False), ("https://", False), ("https://a b", False), (None, False),
])
def test_only_http_links_are_rendered(url, ok):
    html = render.sources_html(_answer("x [1]", url=url), "c1")
    assert ("original article" in html) is ok
    assert "javascript:" not in html.lower() and "data:text" not in html


def test_url_is_attribute_escaped():
    html = render.sources_html(_answer("x [1]", url='https://e.test/"onmouseover="x'), "c1")
    assert 'href="https://e.test/&quot;onmouseover=&quot;x"' in html


def test_chat_html_shows_draft_escaped():
    html = render.chat_html([], pending=EVIL, draft=EVIL)
    assert "<img" not in html and "nc-draft" in html


def test_article_page_marks_span_and_escapes():
    article = SimpleNamespace(title=EVIL, text=f"{EVIL} then 33 died.", source="S",
                              published=None, url="javascript:alert(1)")
    start = article.text.index("33")
    html = render.article_page(article, start, start + 2)
    assert '<mark id="hl">33</mark>' in html
    assert "<img" not in html and "<script>window" not in html and "javascript:" not in html
    # offsets out of range: no mark, no crash
    assert "<mark" not in render.article_page(article, 5, 10_000)


def test_library_table_filters_and_escapes():
    infos = [SimpleNamespace(id="a1", title=EVIL, source="Wire", published="2020-02-28",
                             chunks=3),
             SimpleNamespace(id="a2", title="Budget vote", source="Town", published=None,
                             chunks=1)]
    html = render.library_html(infos, "budget")
    assert "Budget vote" in html and "1 of 2 articles" in html
    html = render.library_html(infos)
    assert "<img" not in html and "&lt;img" in html


def test_every_custom_background_sets_its_text_colour_from_the_palette():
    """A rule giving an element a background also gives it a text colour (else it inherits
    the scheme's text colour, near-white in dark mode), and both come from the palette."""
    assert set(render.PALETTE_LIGHT) == set(render.PALETTE_DARK)
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", render.CSS.split("\n", 2)[2]):
        if re.search(r"(^|;)\s*background:", body):
            assert re.search(r"(^|;)\s*color:var\(--nc-", body), selector
        assert "#" not in body, f"{selector}: a fixed colour instead of the palette"
