"""Hybrid retrieval with the real model and Chroma: exact names, date filters, follow-ups."""
from __future__ import annotations

import pytest

from core.records import Filters

pytestmark = pytest.mark.integration


def rank(hits, needle: str) -> int:
    return next((i for i, h in enumerate(hits, 1) if needle in h.text), 99)


def test_exact_name_question_found_by_hybrid_not_dense(assistant, sample_dir, seeds_dir):
    assistant.ingest([seeds_dir, sample_dir])
    question = "Who is Turkey's interior minister?"
    needle = "Soylu"
    dense = assistant.retrieve(question, k=10, mode="dense", rerank=False, collapse=False)
    hybrid = assistant.retrieve(question, k=10)
    assert rank(hybrid, needle) == 1
    assert rank(dense, needle) > 3
    answer = assistant.ask(question)
    assert "Soylu" in answer.text and answer.citations


def test_date_filter_and_as_of(assistant, sample_dir):
    assistant.ingest([sample_dir])
    dates = {a.published for a in assistant.articles() if a.published}
    assert len(dates) > 3
    window = Filters(date_from="2020-03-01", date_to="2020-03-31")
    hits = assistant.retrieve("Turkish soldiers killed in Idlib", k=10, filters=window)
    assert hits and all(h.published and "2020-03-01" <= h.published <= "2020-03-31" for h in hits)
    early = assistant.retrieve("What was the toll as of February 27, 2020?", k=10)
    assert early and all(h.published and h.published <= "2020-02-27" for h in early)
    source = next(a.source for a in assistant.articles() if a.source)
    only = assistant.retrieve("Idlib", k=10, filters=Filters(sources=(source,)))
    assert only and all(h.source == source for h in only)


def test_follow_up_retrieves_earlier_subject(assistant, seeds_dir):
    assistant.ingest([seeds_dir])
    first = assistant.ask("Who announced that at least 33 Turkish soldiers were killed?")
    assert "Dogan" in first.text
    follow = assistant.ask("Which province is he the governor of?",
                           history=[(first.question, first.text)])
    assert "Dogan" in follow.standalone_question
    assert "Hatay" in follow.text and follow.citations


def test_sentence_similarity_signal_uses_the_index_model_and_its_cache(assistant, seeds_dir):
    import dataclasses

    assistant.ingest([seeds_dir])
    retriever = assistant.retriever
    question = "Which province is Rahmi Dogan the governor of?"
    assistant.retrieve(question, k=5)
    assert len(retriever.sentences) == 0  # off by default: no sentence is embedded
    weights = dataclasses.replace(retriever.weights, semantic=0.3)
    hits = assistant.retrieve(question, k=5, weights=weights)
    best = max(hits, key=lambda h: h.scores["semantic"])
    assert "Rahmi Dogan" in best.text  # the sentence naming him, inside a longer passage
    assert all(0.0 <= h.scores["semantic"] < best.scores["semantic"]
               for h in hits if "Rahmi Dogan" not in h.text)
    cached = len(retriever.sentences)
    assert cached >= assistant.settings.top_k  # the sentences of every candidate, one batch
    assert assistant.retrieve(question, k=5, weights=weights) == hits
    assert len(retriever.sentences) == cached  # the second time costs no embedding


def test_dense_hits_come_from_the_manifest_and_only_committed_chunks(assistant, seeds_dir):
    """Chroma answers ids and distances only; texts and metadata come from the manifest, and a
    chunk Chroma holds but the manifest does not know is not returned."""
    assistant.ingest([seeds_dir])
    question = "How many Turkish soldiers were killed in the air strike?"
    before = assistant.retrieve(question, k=5, mode="dense", rerank=False, collapse=False)
    collection = assistant.store.collection
    got = collection.get(ids=[h.chunk_id for h in before], include=["documents", "metadatas"])
    stored = {cid: (doc, meta) for cid, doc, meta in
              zip(got["ids"], got["documents"], got["metadatas"])}
    for hit in before:
        doc, meta = stored[hit.chunk_id]
        assert hit.text == doc
        assert (hit.article_id, hit.title, hit.start, hit.end, hit.position) == (
            meta["article_id"], meta["title"], meta["start"], meta["end"], meta["position"])
        assert (hit.source or "", hit.published or "") == (meta.get("source") or "",
                                                           meta.get("published") or "")
    # A crash between the manifest's commit and Chroma's delete leaves Chroma holding chunks
    # the manifest no longer knows. (A stray chunk added to Chroma is not a reliable stand-in:
    # HNSW may never return a just-added node, and on one machine it did not within 30 s.)
    removed = before[0].article_id
    assert assistant.manifest.remove_article(removed)
    vector = assistant.retriever.dense.embed_query(question)
    assert before[0].chunk_id in collection.query(query_embeddings=[vector], n_results=5,
                                                  include=["distances"])["ids"][0]
    after = assistant.retrieve(question, k=5, mode="dense", rerank=False, collapse=False)
    assert after and all(h.article_id != removed for h in after)
    kept = [h.chunk_id for h in before if h.article_id != removed]
    assert [h.chunk_id for h in after][:len(kept)] == kept


def test_hybrid_runs_bm25_beside_the_dense_search_with_the_same_result(assistant, sample_dir,
                                                                      monkeypatch):
    """The keyword search of a hybrid query runs on the retriever's pool thread, and the
    fused candidates (with and without filters) equal those of running it inline."""
    import threading
    from concurrent.futures import Future

    assistant.ingest([sample_dir])
    retriever = assistant.retriever
    searcher = retriever.keyword
    threads: list[str] = []
    search = searcher.search

    def spy(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return search(*args, **kwargs)

    monkeypatch.setattr(searcher, "search", spy)
    source = next(a.source for a in assistant.articles() if a.source)
    cases = [("Turkish soldiers killed in Idlib", None),
             ("What did the governor say?", Filters(sources=(source,))),
             ("Idlib", Filters(date_from="2020-03-01", date_to="2020-03-31"))]
    pooled = [retriever.candidates(q, 20, f) for q, f in cases]
    assert threads and all(name.startswith("newscite-bm25") for name in threads)

    class Inline:
        def submit(self, fn, *args):
            done: Future = Future()
            done.set_result(fn(*args))
            return done

    monkeypatch.setattr(retriever, "_pool", Inline())
    threads.clear()
    inline = [retriever.candidates(q, 20, f) for q, f in cases]
    assert threads == [threading.current_thread().name] * len(cases)
    assert all(pooled) and pooled == inline
    # keyword-only and dense-only modes do not use the pool
    assert retriever.candidates("Idlib", 5, mode="keyword")
    assert retriever.candidates("Idlib", 5, mode="dense")


def test_close_stops_the_keyword_threads_and_a_later_search_reopens(assistant, sample_dir):
    import threading

    def bm25_threads() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name.startswith("newscite-bm25")]

    assistant.ingest([sample_dir])
    before = set(bm25_threads())
    first = assistant.retrieve("Turkish soldiers killed in Idlib")
    pool = set(bm25_threads()) - before
    assert first and pool  # the hybrid search started the retriever's keyword thread
    assistant.close()
    assert not any(t.is_alive() for t in pool)
    assert assistant.retrieve("Turkish soldiers killed in Idlib") == first
