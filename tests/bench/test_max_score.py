"""MaxScore pruning returns exactly the top k that scoring every matching doc returns."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from index.keyword import _Filter, _max_score, _score_all

N_DOCS = 400


def top(candidates: np.ndarray, scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    order = np.argsort(-scores, kind="stable")[:k]
    return [(int(candidates[i]), float(scores[i])) for i in order]


def same(got: list[tuple[int, float]], want: list[tuple[int, float]]) -> None:
    """Equal up to float32 summation order: scores within 1e-5, ids equal unless tied."""
    assert len(got) == len(want)
    for (doc, score), (want_doc, want_score) in zip(got, want):
        assert abs(score - want_score) <= 1e-5 * max(1.0, want_score)
        if doc != want_doc:  # only a tie may come out in another order
            tied = [d for d, s in want if abs(s - score) <= 1e-5 * max(1.0, score)]
            assert doc in tied or abs(want[-1][1] - score) <= 1e-5 * max(1.0, score)


def no_filter(candidates: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = scores > 0
    return candidates[keep], scores[keep]


def even_docs(candidates: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = (scores > 0) & (candidates % 2 == 0)
    return candidates[keep], scores[keep]


@st.composite
def postings(draw: st.DrawFn) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for _ in range(draw(st.integers(1, 5))):
        # rare terms (a few docs) and common ones (most docs), as in news text
        size = draw(st.sampled_from([1, 3, 10, 40, 200, 390]))
        rng = np.random.default_rng(draw(st.integers(0, 10**6)))
        docs = np.sort(rng.choice(N_DOCS, size=size, replace=False)).astype(np.int32)
        weights = rng.uniform(0.05, 3.0, size).astype(np.float32)
        out.append((docs, weights))
    return out


@settings(max_examples=400, deadline=None)
@given(postings(), st.sampled_from([1, 5, 30]), st.booleans())
def test_pruned_top_k_equals_full_scoring(p: list, k: int, filtered: bool) -> None:
    # no filter: the real (inactive) filter object, which also lets scoring skip the tail
    keep = even_docs if filtered else _Filter(None, (), (), 0, 0)  # type: ignore[arg-type]
    want = top(*keep(*_score_all(p, N_DOCS)), k)
    got = top(*_max_score(list(p), k, N_DOCS, keep), k)  # type: ignore[arg-type]
    same(got, want)


def test_a_rare_term_spares_the_common_ones() -> None:
    rare = (np.array([7, 9], dtype=np.int32), np.array([3.0, 2.5], dtype=np.float32))
    common = (np.arange(N_DOCS, dtype=np.int32), np.full(N_DOCS, 0.1, dtype=np.float32))
    candidates, scores = _max_score([common, rare], 2, N_DOCS, no_filter)
    assert list(candidates) == [7, 9]  # 398 other docs never scored
    assert np.allclose(scores, [3.1, 2.6])
