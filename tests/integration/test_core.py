"""The core slice end to end with the real model and a real Chroma (embedded and server)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.errors import InputError, ModelMismatchError

pytestmark = pytest.mark.integration

BOILERPLATE = ["SHARE", "Editor's Note", "Copyright (c)", "syria, war, idlib", "Smoke billows",
               "This is a developing story"]


def chroma_docs(assistant) -> dict[str, str]:  # noqa: ANN001
    got = assistant.store.collection.get(include=["documents"])
    return dict(zip(got["ids"], got["documents"]))


def test_ingest_seeds_clean_chunks_exact_offsets(assistant, seeds_dir):
    report = assistant.ingest([seeds_dir])
    assert len(report.added) == 2 and not report.skipped
    docs = chroma_docs(assistant)
    assert len(docs) == report.chunks_embedded > 10
    for text in docs.values():
        assert not any(b in text for b in BOILERPLATE), text[:80]
    for info in assistant.articles():
        article = assistant.article(info.id)
        for ref in assistant.manifest.chunk_refs(info.id):
            assert docs[ref.id] == article.text[ref.start:ref.end]
    titles = {a.title for a in assistant.articles()}
    assert "Russia and Turkey's Conflict in Syria Escalates Amid New Troop Deaths" in titles
    assert assistant.manifest.keyword_ids() == set(docs)


def test_seed_questions_answered_with_verified_citations(assistant, seeds_dir):
    assistant.ingest([seeds_dir])
    answer = assistant.ask("How many Turkish soldiers were killed in the air strike?")
    assert not answer.refused and "33" in answer.text
    assert any("33" in c.quote for c in answer.citations)
    for c in answer.citations:
        assert assistant.article(c.article_id).text[c.start:c.end] == c.quote
        assert Path(assistant.article(c.article_id).path).parent == seeds_dir
    assert [c.number for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    # every citation is marked in the text or in what each outlet says (Answer.outlets)
    in_outlets = {n for claim in answer.outlets for n in claim.citations}
    for n in range(1, len(answer.citations) + 1):
        assert f"[{n}]" in answer.text or n in in_outlets

    governor = assistant.ask("Who is the governor of Hatay?")
    assert "Rahmi Dogan" in governor.text and governor.citations
    assert any("Rahmi Dogan" in c.quote for c in governor.citations)

    refused = assistant.ask("What was the name of the pilot who carried out the strike?")
    assert refused.refused and not refused.citations and refused.passages


def test_reingest_is_noop_and_edit_replaces_chunks(assistant, sample_dir, tmp_path):
    folder = tmp_path / "articles"
    shutil.copytree(sample_dir, folder)
    first = assistant.ingest([folder])
    count = assistant.store.count()
    again = assistant.ingest([folder])
    assert again.chunks_embedded == 0 and len(again.unchanged) == len(first.added)
    assert assistant.store.count() == count

    target = folder / "town-budget-vote.txt"
    old_id = next(a.id for a in assistant.articles() if a.path == str(target))
    old_chunks = {r.id for r in assistant.manifest.chunk_refs(old_id)}
    target.write_text(target.read_text() + "\n\nThe mayor resigned on Friday, citing health.\n")
    edited = assistant.ingest([folder])
    assert len(edited.updated) == 1 and edited.removed == (old_id,)
    ids = set(chroma_docs(assistant))
    assert not ids & old_chunks
    assert ids == assistant.manifest.all_chunk_ids() == assistant.manifest.keyword_ids()
    answer = assistant.ask("Why did the mayor resign?")
    assert "health" in answer.text and answer.citations

    # the same text under another path is stored once
    shutil.copy(target, tmp_path / "copy.txt")
    dup = assistant.ingest([tmp_path / "copy.txt"])
    assert dup.unchanged and not dup.added and assistant.store.count() == len(ids)


def test_delete_removes_from_both_indexes(assistant, seeds_dir):
    assistant.ingest([seeds_dir])
    victim = assistant.articles()[0].id
    assert assistant.delete(victim)
    assert not assistant.delete(victim)
    docs = chroma_docs(assistant)
    assert all(not cid.startswith(victim) for cid in docs)
    assert set(docs) == assistant.manifest.keyword_ids()
    hits = assistant.retrieve("Turkish soldiers killed", k=10)
    assert all(h.article_id != victim for h in hits)


def test_bad_questions(assistant, seeds_dir):
    assistant.ingest([seeds_dir])
    with pytest.raises(InputError):
        assistant.ask("   ")
    long = "How many Turkish soldiers were killed in the air strike? " + "filler " * 3000
    answer = assistant.ask(long)
    assert answer.notices and len(answer.question) <= assistant.settings.max_question_chars
    assert not answer.refused and "33" in answer.text and answer.citations


def test_model_mismatch_is_refused_with_advice(settings, seeds_dir, minilm):
    from index.embed import HashEmbedder
    from rag.assistant import Assistant

    Assistant(settings, embedder=minilm).ingest([seeds_dir])
    other = Assistant(settings, embedder=HashEmbedder())
    with pytest.raises(ModelMismatchError, match="built with"):
        other.ingest([seeds_dir])
