"""The assistant applies the `misnumbered` setting to engine drafts (a fake engine, real index)."""
from __future__ import annotations

from collections.abc import Iterator, Sequence

from core.records import Hit
from core.settings import Settings
from core.text import loose_sentence_spans as split_sentences
from rag.assistant import Assistant
from rag.cite import check


class MisnumberingEngine:
    """Quotes a sentence of passage 1 but cites passage 2, as small models sometimes do."""

    name = "misnumbering"

    def draft(self, question: str, hits: Sequence[Hit]) -> Iterator[str]:
        first, second = hits[0], hits[1]
        for s, e in split_sentences(first.text):
            sentence = first.text[s:e].strip()
            if not check(sentence, second).ok:
                yield sentence + " [2]"
                return
        raise AssertionError("every sentence of passage 1 is also in passage 2")


def ask(tmp_path, seeds_dir, embedder, misnumbered: str):
    assistant = Assistant(Settings(data_dir=tmp_path / misnumbered, engine="extractive",
                                   misnumbered=misnumbered, quick_answer=False), embedder=embedder)
    assistant.ingest(seeds_dir)
    assistant._engines["misnumbering"] = MisnumberingEngine()
    try:
        return assistant.ask("How many Turkish soldiers were killed in the air strike?",
                             engine="misnumbering")
    finally:
        assistant.close()


def test_repair_is_the_default_and_cites_the_supporting_passage(tmp_path, seeds_dir,
                                                                hash_embedder):
    assert Settings().misnumbered == "repair"
    answer = ask(tmp_path, seeds_dir, hash_embedder, "repair")
    assert not answer.refused and answer.sentences[0].supported
    # the sentence's one citation (what each outlet says may cite more passages)
    (number,) = answer.sentences[0].citations
    citation = answer.citations[number - 1]
    first = answer.passages[0]
    assert citation.article_id == first.article_id
    assert first.start <= citation.start < citation.end <= first.end


def test_drop_keeps_the_strict_rule(tmp_path, seeds_dir, hash_embedder):
    answer = ask(tmp_path, seeds_dir, hash_embedder, "drop")
    assert answer.refused and answer.citations == ()
