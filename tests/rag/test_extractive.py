"""The extractive engine picks the answering sentence, cites it, and refuses weak evidence."""
from __future__ import annotations

from core.records import REFUSAL, Hit
from rag.cite import finalize
from rag.extractive import ExtractiveEngine, answer_type

P1 = ("The province's governor, Ali Veli, said at least 33 soldiers died in the air strike. "
      "Rescue teams worked through the night.")
P2 = ("A monitoring group said 33 soldiers were killed in the strike on the convoy. "
      "The group did not say who carried it out.")
P3 = "The city council approved a budget of 4 million dollars for new parks on Monday."


def hits() -> list[Hit]:
    return [Hit(chunk_id=f"c{i}", article_id=f"a{i}", title="t", text=t, start=0, end=len(t),
                score=1.0 - i / 10) for i, t in enumerate([P1, P2, P3])]


def test_answer_types():
    assert answer_type("How many soldiers died?") == "number"
    assert answer_type("Who is the governor?") == "name"
    assert answer_type("When did it happen?") == "date"


def test_answers_with_best_sentence_and_cites_both_outlets():
    engine = ExtractiveEngine()
    draft = "".join(engine.draft("How many soldiers died in the air strike?", hits()))
    assert "33" in draft and "[1]" in draft and "[2]" in draft
    out = finalize(draft, hits())
    assert not out.refused and {c.article_id for c in out.citations} == {"a0", "a1"}


def test_refuses_when_passages_do_not_cover_the_question():
    draft = "".join(ExtractiveEngine().draft("What was the name of the pilot's squadron?", hits()))
    assert draft == REFUSAL


def test_refuses_when_answer_type_missing():
    draft = "".join(ExtractiveEngine().draft("How many parks did the council approve?",
                                             hits()[2:]))
    # the budget sentence has a number (4) so this is answerable in type; a name question is not
    assert "[1]" in draft
    assert "".join(ExtractiveEngine().draft("Who approved the parks budget?", hits()[2:])) == REFUSAL


def _plain_scores(question: str, hits_: list[Hit]) -> list[tuple[int, int, int, float]]:
    """score_sentences as written with `tx.terms` on every sentence (the reference)."""
    import math
    from collections import Counter

    from core import text as tx
    from core.text import sentence_spans
    from rag.extractive import _typed

    q_list = tx.terms(question)
    q_terms, q_pairs = set(q_list), set(zip(q_list, q_list[1:]))
    sentences = [(i, s, e, h.text[s:e]) for i, h in enumerate(hits_)
                 for s, e in sentence_spans(h.text)]
    df = Counter(t for *_, sent in sentences for t in set(tx.terms(sent)) & q_terms)
    weight = {t: math.log((len(sentences) + 1) / (df.get(t, 0) + 0.5)) for t in q_terms}
    total = sum(weight.values()) or 1.0
    kind = answer_type(question)
    out = []
    for i, s, e, sent in sentences:
        s_list = tx.terms(sent)
        coverage = sum(weight[t] for t in q_terms & set(s_list)) / total if q_terms else 0.0
        pairs = len(q_pairs & set(zip(s_list, s_list[1:]))) / len(q_pairs) if q_pairs else 0.0
        typed = _typed(kind, sent, question)
        out.append((i, s, e, coverage + 0.25 * pairs + (0.15 if typed and kind else 0.0)
                    + 0.1 / (1 + i)))
    return sorted(out, key=lambda x: x[3], reverse=True)


def test_sentence_scores_equal_the_plain_term_analysis(seeds_dir) -> None:  # noqa: ANN001
    """Sentence terms come from the reranker's (cached, possibly stored) analysis: the scores
    are those of analysing every sentence afresh."""
    from core.records import Article
    from index.chunk import chunk_article
    from index.keyword import sentence_terms
    from index.load import load_paths
    from rag import fusion
    from rag.extractive import score_sentences

    articles = [a for a in load_paths([seeds_dir]) if isinstance(a, Article)]
    passages = [c.text for a in articles for c in chunk_article(a)]
    assert len(passages) > 6
    passages += [P1, P2, P3, "", "U.S. troops. 7 died.\n\nCafé."]
    hits_ = [Hit(chunk_id=f"c{i}", article_id=f"a{i}", title="t", text=t, start=0, end=len(t),
                 score=1.0) for i, t in enumerate(passages)]
    for stored in (False, True):
        fusion._CACHE.clear()
        if stored:
            for t in passages:
                fusion.remember(t, sentence_terms(t))
        for question in ("How many Turkish soldiers were killed in the air raid?",
                         "Who is the governor of Hatay?", "What did the U.S. say?", "Why?"):
            for start in range(0, len(hits_), 6):
                got = {(c.hit_index, c.start, c.end): c.score
                       for c in score_sentences(question, hits_[start:start + 6])}
                want = {w[:3]: w[3] for w in _plain_scores(question, hits_[start:start + 6])}
                assert got.keys() == want.keys()
                assert all(abs(got[k] - want[k]) < 1e-12 for k in want)
