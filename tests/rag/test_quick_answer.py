"""The quick answer: with a generating engine, the extractive answer comes first, and stays
when the generated one is refused, unverifiable or fails (fake engines, real index)."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

import pytest

from core.errors import EngineError
from core.records import REFUSAL, Hit
from core.settings import Settings
from core.text import loose_sentence_spans as split_sentences
from rag.assistant import QUICK_NOTICE, Assistant

QUESTION = "How many Turkish soldiers were killed in the air strike?"


class Writer:
    """A generating engine that writes `kind` of draft: a quote of passage 1, a refusal, a
    sentence no passage supports, or a failure."""

    def __init__(self, kind: str) -> None:
        self.name = f"writer-{kind}"
        self.kind = kind

    def draft(self, question: str, hits: Sequence[Hit]) -> Iterator[str]:
        if self.kind == "fails":
            raise EngineError("the server went away")
        if self.kind == "refuses":
            yield REFUSAL
            return
        if self.kind == "invents":
            yield "The ministry of tourism opened three new museums in Lisbon. [1]"
            return
        s, e = split_sentences(hits[0].text)[0]
        yield "In short, "
        yield hits[0].text[s:e].strip() + " [1]"


@pytest.fixture(scope="module")
def assistant(tmp_path_factory, seeds_dir):
    from index.embed import HashEmbedder
    assistant = Assistant(Settings(data_dir=tmp_path_factory.mktemp("quick"),
                                   engine="extractive"), embedder=HashEmbedder())
    assistant.ingest(seeds_dir)
    for kind in ("quotes", "refuses", "invents", "fails"):
        writer = Writer(kind)
        assistant._engines[writer.name] = writer
    yield assistant
    assistant.close()


def events(assistant: Assistant, engine: str, question: str = QUESTION) -> list:
    return list(assistant.ask_stream(question, engine=engine))


def test_the_quick_answer_comes_first_then_the_generated_answer_replaces_it(assistant):
    stream = events(assistant, "writer-quotes")
    kinds = [e.kind for e in stream]
    assert kinds[0] == "quick" and kinds[-1] == "final" and "token" in kinds
    quick, final = stream[0].answer, stream[-1].answer
    assert quick.quick and quick.engine == "extractive" and not quick.refused
    assert quick.citations and QUICK_NOTICE in quick.notices
    assert not final.quick and final.engine == "writer-quotes" and final.citations
    assert QUICK_NOTICE not in final.notices
    assert final.timings["quick"] < final.timings["total"]


@pytest.mark.parametrize(("kind", "why"), [("invents", "kept no verified sentence"),
                                           ("fails", "failed")])
def test_the_quick_answer_stays_when_the_generated_one_is_not_usable(assistant, kind, why):
    stream = events(assistant, f"writer-{kind}")
    quick, final = stream[0].answer, stream[-1].answer
    assert stream[0].kind == "quick" and stream[-1].kind == "final"
    assert final.quick and final.engine == "extractive" and not final.refused
    assert final.text == quick.text and final.citations == quick.citations
    assert any(why in notice for notice in final.notices)
    assert QUICK_NOTICE not in final.notices


def test_the_model_s_refusal_stands_unless_told_to_keep_the_quick_answer(assistant):
    stream = events(assistant, "writer-refuses")
    assert stream[0].kind == "quick" and not stream[0].answer.refused
    final = stream[-1].answer
    assert final.refused and not final.quick and final.engine == "writer-refuses"
    assistant.settings = replace(assistant.settings, keep_quick_on_refusal=True)
    try:
        final = events(assistant, "writer-refuses")[-1].answer
    finally:
        assistant.settings = replace(assistant.settings, keep_quick_on_refusal=False)
    assert final.quick and not final.refused
    assert any("refused" in notice for notice in final.notices)


def test_a_refused_quick_answer_does_not_replace_the_generated_one(assistant):
    stream = events(assistant, "writer-refuses", "Who won the 1987 Tour de France cycling race?")
    quick, final = stream[0].answer, stream[-1].answer
    assert quick.refused
    assert final.refused and not final.quick and final.engine == "writer-refuses"


def test_no_quick_answer_for_the_extractive_engine_or_when_turned_off(tmp_path, seeds_dir,
                                                                      hash_embedder,
                                                                      assistant):
    assert [e.kind for e in events(assistant, "extractive")] == ["token", "final"]
    off = Assistant(Settings(data_dir=tmp_path, engine="extractive", quick_answer=False),
                    embedder=hash_embedder)
    off.ingest(seeds_dir)
    off._engines["writer-refuses"] = Writer("refuses")
    try:
        stream = events(off, "writer-refuses")
    finally:
        off.close()
    assert "quick" not in [e.kind for e in stream]
    assert stream[-1].answer.refused and not stream[-1].answer.quick
