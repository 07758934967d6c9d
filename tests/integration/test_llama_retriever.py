"""newscite's hybrid retriever inside llama-index query and chat engines (real model and Chroma).

The LLM is llama-index's MockLLM, which echoes its prompt: the retriever is what is under test,
and the echo shows exactly what reached the LLM.
"""
from __future__ import annotations

import pytest

from core.records import Filters
from rag.retrieve import as_llama_retriever

pytestmark = pytest.mark.integration

QUESTION = "Who is Turkey's interior minister?"


def check_nodes(assistant, nodes, k: int) -> None:  # noqa: ANN001
    """Every node is a stored chunk: exact offsets into its article, the article's metadata."""
    assert 0 < len(nodes) <= k + 2  # collapse may add two other outlets' copies
    for n in nodes:
        node, meta = n.node, n.node.metadata
        article = assistant.article(meta["article_id"])
        assert article is not None and meta["title"] == article.title
        assert article.text[node.start_char_idx:node.end_char_idx] == node.get_content()
        assert meta["source"] == (article.source or "")
        assert meta["published"] == (article.published or "")
        assert node.node_id.startswith(article.id + "-")  # newscite's deterministic chunk id


@pytest.fixture
def indexed(assistant, seeds_dir, sample_dir):  # noqa: ANN001, ANN201
    assistant.ingest([seeds_dir, sample_dir])
    return assistant


def test_query_engine_gets_newscite_passages(indexed):  # noqa: ANN001
    from llama_index.core.llms import MockLLM
    from llama_index.core.query_engine import RetrieverQueryEngine

    retriever = as_llama_retriever(indexed.retriever, k=4)
    engine = RetrieverQueryEngine.from_args(retriever, llm=MockLLM())
    response = engine.query(QUESTION)
    nodes = response.source_nodes
    check_nodes(indexed, nodes, 4)
    expected = indexed.retrieve(QUESTION, k=4)
    assert [n.node.node_id for n in nodes] == [h.chunk_id for h in expected]
    assert [n.score for n in nodes] == pytest.approx([h.score for h in expected])
    assert "Soylu" in nodes[0].node.get_content()
    prompt = str(response)  # MockLLM answers with its prompt
    assert nodes[0].node.get_content() in prompt and f"title: {expected[0].title}" in prompt
    # ids and URLs are metadata for the caller, not evidence for the LLM
    assert expected[0].article_id not in prompt
    assert not any(h.url and h.url in prompt for h in expected)


def test_chat_engine_and_filters(indexed):  # noqa: ANN001
    from llama_index.core.chat_engine import ContextChatEngine
    from llama_index.core.llms import MockLLM

    source = next(a.source for a in indexed.articles() if a.source)
    only = as_llama_retriever(indexed.retriever, k=5, filters=Filters(sources=(source,)))
    chat = ContextChatEngine.from_defaults(retriever=only, llm=MockLLM())
    reply = chat.chat("How many Turkish soldiers were killed in Idlib?")
    check_nodes(indexed, reply.source_nodes, 5)
    assert all(n.node.metadata["source"] == source for n in reply.source_nodes)

    window = Filters(date_from="2020-03-01", date_to="2020-03-31")
    nodes = as_llama_retriever(indexed.retriever, k=6, filters=window).retrieve(
        "Turkish soldiers killed in Idlib")
    check_nodes(indexed, nodes, 6)
    assert all("2020-03-01" <= n.node.metadata["published"] <= "2020-03-31" for n in nodes)
    early = as_llama_retriever(indexed.retriever, k=6).retrieve(
        "What was the toll as of February 27, 2020?")  # the question's own date limit holds
    assert early and all(n.node.metadata["published"] <= "2020-02-27" for n in early)
