"""Time the citation check per answer: the overlap check against rag.verify (extractive and
generated-style drafts over the sample corpus's chunks).

    python -m eval.support_timing [--answers N] [--out JSON]
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from core.records import Article, Hit
from eval.dataset import ROOT
from index.chunk import chunk_spans, sentence_spans
from index.load import load_paths
from rag import cite

SAMPLE = ROOT / "eval" / "corpus" / "sample"


def sample_hits() -> list[list[Hit]]:
    """Per article, its chunks as hits (700 characters, one sentence overlap: the defaults)."""
    out = []
    for article in load_paths([SAMPLE]):
        if not isinstance(article, Article):
            continue
        hits = [Hit(chunk_id=f"{article.id}-{s}", article_id=article.id, title=article.title,
                    text=article.text[s:e], start=s, end=e, score=1.0)
                for s, e in chunk_spans(article.text, 700, 1)]
        if len(hits) >= 2:
            out.append(hits)
    return out


def _reworded(sentence: str, rng: random.Random) -> str:
    """A generated-style sentence: same facts, not a verbatim quote (moved clause, attribution
    added, a word dropped)."""
    words = sentence.rstrip(".").split()
    if len(words) > 8:
        cut = rng.randrange(3, len(words) - 3)
        words = words[cut:] + ["-"] + words[:cut]
    drop = rng.randrange(len(words))
    words = words[:drop] + words[drop + 1:]
    return "According to the report, " + " ".join(words) + "."


def drafts(groups: Sequence[list[Hit]], n: int, generated: bool,
           seed: int = 7) -> list[tuple[str, list[Hit]]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        hits = rng.choice(groups)[:5]
        parts = []
        for k in range(3):  # three sentences, citing passages 1 and 2
            h = hits[min(k, 1)]
            spans = sentence_spans(h.text)
            s, e = rng.choice(spans)
            text = h.text[s:e]
            parts.append(f"{_reworded(text, rng) if generated else text} [{min(k, 1) + 1}]")
        out.append((" ".join(parts), hits))
    return out


def _time(items: Sequence[tuple[str, list[Hit]]], similarity, use_verify: bool) -> list[float]:
    original = cite.check
    if not use_verify:
        cite.check = cite.overlap_check  # type: ignore[assignment]
    try:
        took = []
        for draft, hits in items:
            t = time.perf_counter()
            cite.finalize(draft, hits, similarity)
            took.append(1000 * (time.perf_counter() - t))
        return took
    finally:
        cite.check = original  # type: ignore[assignment]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.support_timing", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--answers", type=int, default=60)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    from rag.support import minilm_similarity

    similarity = minilm_similarity()
    similarity("warm up", ["the model"])  # load the session outside the timings
    groups = sample_hits()
    result = {}
    from rag import support

    runs = (("extractive", False, None, support.SEMANTIC_MARGIN),
            ("generated", True, similarity, support.SEMANTIC_MARGIN),
            # every sentence close to the threshold, so every check embeds
            ("generated, every check embeds", True, similarity, 1.0))
    for kind, generated, sim, margin in runs:
        support.SEMANTIC_MARGIN = margin
        items = drafts(groups, args.answers, generated)
        _time(items[:5], sim, True)  # warm caches (model file, stemmer)
        old = _time(items, sim, False)
        new = _time(items, sim, True)
        added = [b - a for a, b in zip(old, new)]
        result[kind] = {"answers": len(items), "sentences_per_answer": 3,
                        "median_ms_overlap_check": round(statistics.median(old), 2),
                        "median_ms_verify": round(statistics.median(new), 2),
                        "median_added_ms": round(statistics.median(added), 2),
                        "p90_added_ms": round(sorted(added)[int(0.9 * len(added))], 2)}
        print(kind, result[kind])
    support.SEMANTIC_MARGIN = runs[0][3]
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
