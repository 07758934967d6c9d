"""Sentence splitting and chunking: exact offsets, order, coverage, stable ids."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from core.records import Article
from core.text import sentence_spans
from index.chunk import chunk_article, chunk_spans


def make(text: str) -> Article:
    return Article(id="a1", title="T", text=text, path="x.txt", key="x.txt")


def test_sentences_respect_abbreviations_and_initials():
    text = ("The U.K.-based monitor said Mr. Smith met Gen. Jones. "
            "Defense Secretary Mark T. Esper spoke on Feb. 27. Then it ended!")
    got = [text[s:e] for s, e in sentence_spans(text)]
    assert got == ["The U.K.-based monitor said Mr. Smith met Gen. Jones.",
                   "Defense Secretary Mark T. Esper spoke on Feb. 27.", "Then it ended!"]


def test_line_breaks_end_sentences():
    text = "syria, war, idlib\nSmoke rose over the town. Fighting went on.\n\nNext paragraph"
    got = [text[s:e] for s, e in sentence_spans(text)]
    assert got == ["syria, war, idlib", "Smoke rose over the town.", "Fighting went on.",
                   "Next paragraph"]


def test_chunks_have_exact_offsets_and_overlap():
    text = " ".join(f"Sentence number {i} says something about Idlib." for i in range(30))
    chunks = chunk_article(make(text), max_chars=200, overlap=1)
    assert len(chunks) > 3
    for c in chunks:
        assert text[c.start:c.end] == c.text
        assert len(c.text) <= 200
    for a, b in zip(chunks, chunks[1:]):
        assert b.start < a.end  # one sentence of overlap
        assert b.start > a.start


def test_long_sentence_split_on_words_and_spaceless_runs_hard_split():
    text = "word " * 500 + "x" * 100_000
    spans = chunk_spans(text, max_chars=300, overlap=0)
    assert all(e - s <= 300 for s, e in spans)
    assert spans[-1][1] == len(text)


def test_ids_are_deterministic_and_content_derived():
    a = chunk_article(make("One. Two. Three."), 100, 0)
    b = chunk_article(make("One. Two. Three."), 100, 0)
    assert [c.id for c in a] == [c.id for c in b]
    other = Article(id="a2", title="T", text="One. Two. Three.", path="y", key="y")
    assert chunk_article(other, 100, 0)[0].id != a[0].id


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=3000),
       st.integers(min_value=100, max_value=800), st.integers(min_value=0, max_value=3))
def test_chunking_properties(text, size, overlap):
    chunks = chunk_article(make(text), size, overlap)
    covered = 0
    for n, c in enumerate(chunks):
        assert c.position == n
        assert text[c.start:c.end] == c.text
        assert c.text == c.text.strip() and c.text
        assert len(c.text) <= size
        assert c.start >= (chunks[n - 1].start + 1 if n else 0)  # in order, always progressing
        covered = max(covered, c.end)
    # every non-space character lies in some chunk
    inside = [False] * len(text)
    for c in chunks:
        for i in range(c.start, c.end):
            inside[i] = True
    assert all(inside[i] or text[i].isspace() for i in range(len(text)))
    assert [c.id for c in chunks] == [c.id for c in chunk_article(make(text), size, overlap)]
