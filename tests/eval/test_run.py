"""The runner end to end with the deterministic hash embedder (fast; quality is not checked
here, the smoke evaluation does that with the real model), and the baseline's span mapping."""
from __future__ import annotations

from eval.dataset import GOLD_DIR, GoldSpan, Support, Turn, load_articles, load_dataset
from eval.report import build_summary, head_to_head, markdown, unit_records
from eval.run import evaluate, score_unit
from eval.systems import get_config


def test_score_unit_for_retrieval_only_and_answers():
    from core.records import Hit
    from eval.citations import CitedSentence
    from eval.systems import Reply

    turn = Turn("Who?", ("Ann",), (Support("a.txt", "Ann said"),))
    located = [[GoldSpan("a1", 10, 18)]]
    hit = Hit(chunk_id="c", article_id="a1", title="t", text="x" * 30, start=0, end=30,
              score=1.0)
    only = score_unit("factoid", turn, located, None, [hit])
    assert only["recall@1"] == 1.0 and "crag" not in only
    reply = Reply(text="Ann [1]", refused=False, sentences=(CitedSentence("Ann", ()),),
                  citations=(), standalone="Who?", engine="x", timings={})
    both = score_unit("factoid", turn, located, reply, [hit])
    assert both["answer_contained"] == 1.0 and both["citation_recall"] == 0.0
    unanswerable = score_unit("unanswerable", Turn("Why?", (), ()), [], reply, [hit])
    assert "recall@1" not in unanswerable and unanswerable["crag"] == -1.0


def test_evaluate_with_hash_embedder(seeds_dir, hash_embedder):
    dataset = load_dataset(GOLD_DIR / "seeds.jsonl").limit(5)
    run = evaluate(get_config("extractive"), dataset, [seeds_dir], embedder=hash_embedder)
    assert len(run.units) == dataset.units() and run.answers
    assert {u.type for u in run.units} == {"factoid", "multi", "unanswerable", "conversation"}
    conv = [u for u in run.units if u.type == "conversation"]
    assert [u.turn for u in conv] == list(range(1, len(conv) + 1))
    for unit in run.units:
        assert unit.answer is not None and unit.refused is not None
        assert "crag" in unit.metrics and "total" in unit.timings
        assert unit.retrieved and unit.error is None
    summary = build_summary([run])
    table = head_to_head(summary)
    assert "| extractive | seeds |" in table
    assert table in markdown(summary, unit_records([run]), [])


def test_stock_retriever_hits_are_exact_article_spans(sample_dir, hash_embedder):
    dataset = load_dataset(GOLD_DIR / "sample.jsonl").limit(3)
    run = evaluate(get_config("stock-llamaindex-retriever"), dataset, [sample_dir],
                   embedder=hash_embedder)
    assert not run.answers
    texts = {a.id: a.text for a in load_articles([sample_dir])}
    for unit in run.units:
        assert unit.answer is None and "crag" not in unit.metrics
        assert unit.retrieved, unit.item_id
        for r in unit.retrieved:
            assert r.article_id in texts
            assert 0 <= r.start < r.end <= len(texts[r.article_id])
