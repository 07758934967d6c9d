"""Does a passage support a claim? Learned combination of alignment features, numpy only."""
from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rag.support_features import LEXICAL, SEMANTIC, Analysis, analyse, windows

logger = logging.getLogger(__name__)

MODEL_PATH = Path(__file__).with_name("data") / "support_model.json"
MODEL_FORMAT = 1
SEMANTIC_MARGIN = 0.1  # lexical probabilities this close to the threshold get embeddings
State = Literal["supported", "partial", "unsupported"]
Similarity = Callable[[str, Sequence[str]], list[float]]  # claim, candidates -> cosine sims


@dataclass(frozen=True)
class Support:
    """How far a passage supports a claim.

    `score` is the calibrated probability of support; `span` the (start, end) offsets in the
    passage of the best supporting sentence or run of up to three sentences; `unsupported` the
    claim's names, numbers and content words that this span does not state."""

    state: State
    score: float
    span: tuple[int, int]
    unsupported: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.state == "supported"


@dataclass(frozen=True)
class Combiner:
    """Logistic regression over standardised features, with its two decision thresholds."""

    name: str
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    supported: float  # probability at or above which a claim is "supported"
    partial: float  # ... and "partial" at or above this one

    def probability(self, values: dict[str, float]) -> float:
        x = np.array([values[f] for f in self.features], dtype=np.float64)
        z = float(((x - self.mean) / self.scale) @ self.coef + self.intercept)
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def state(self, probability: float) -> State:
        if probability >= self.supported:
            return "supported"
        return "partial" if probability >= self.partial else "unsupported"


def _combiner(name: str, data: dict[str, Any]) -> Combiner:
    features = tuple(data["features"])
    unknown = set(features) - set(LEXICAL) - set(SEMANTIC)
    if unknown:
        raise ValueError(f"support model {name!r} uses unknown features: {sorted(unknown)}")
    mean, scale, coef = (np.asarray(data[k], dtype=np.float64) for k in ("mean", "scale", "coef"))
    if any(a.shape != (len(features),) for a in (mean, scale, coef)):
        raise ValueError(f"support model {name!r}: weights do not match its feature list")
    return Combiner(name, features, mean, scale, coef, float(data["intercept"]),
                    float(data["thresholds"]["supported"]), float(data["thresholds"]["partial"]))


@lru_cache(maxsize=4)
def load_model(path: Path = MODEL_PATH) -> dict[str, Combiner]:
    """{"lexical": ..., "semantic": ...} from the versioned weights file."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if data.get("format") != MODEL_FORMAT:
        raise ValueError(f"{path}: support model format {data.get('format')!r}, "
                         f"this code reads {MODEL_FORMAT}")
    return {name: _combiner(name, spec) for name, spec in data["models"].items()}


def semantic_values(claim: str, analysis: Analysis, passage: str,
                    similarity: Similarity) -> dict[str, float]:
    """Cosine of the claim with the best window and the best of the top candidates."""
    cands = list(analysis.candidates)
    singles = [w for w in cands if w.sentences == 1 and w != analysis.window]
    texts = [passage[w.start:w.end] for w in [analysis.window, *singles[:1]]]
    sims = similarity(claim, texts)
    return {"cosine_window": sims[0], "cosine_best": max(sims),
            "cosine_margin": sims[0] - (max(sims[1:]) if len(sims) > 1 else sims[0])}


def _cap(state: State, values: dict[str, float]) -> State:
    """Mismatches that shared wording cannot make right, whatever the learned score.

    Refuted: a number the passage never states, a name or number the passage never states
    (the first check's rule), or a number with another unit. At most "partial", because a
    paraphrase can look the same: in the sentence that states the rest of the claim, a claim
    name missing while another name stands there (a swapped person or place), two names in
    the opposite order (a swapped subject and object; a passive reverses them too) or a
    negation on one side only; or a claim that joins facts the passage states apart."""
    if values["number_missing_passage"] or values["claims_missing"] or values["unit_mismatch"]:
        return "unsupported"
    if state == "supported" and (values["swap_name"] or values["swap_order"]
                                 or values["negation_flip"] or values["split_relation"]):
        return "partial"
    return state


def _norm(text: str) -> str:
    return " ".join(text.split()).rstrip(".").strip()


def _verbatim(claim: str, passage: str) -> bool:
    norm = _norm(claim)
    return len(norm) > 12 and norm in " ".join(passage.split())


def _quoted(claim: str, passage: str) -> tuple[int, int] | None:
    """The smallest window of passage sentences that contains the claim verbatim."""
    norm = _norm(claim)
    if len(norm) <= 12 or norm not in " ".join(passage.split()):
        return None
    found = [w for w in windows(passage) if norm in " ".join(passage[w.start:w.end].split())]
    if not found:
        return None
    best = min(found, key=lambda w: (w.end - w.start, w.start))
    return (best.start, best.end)


def verify(claim: str, passage: str, similarity: Similarity | None = None,
           model: dict[str, Combiner] | None = None, strict: bool = True) -> Support:
    """Check `claim` against `passage`.

    With `similarity` (claim, texts -> cosines; `minilm_similarity()` gives the packaged model)
    the combiner also weighs how close in meaning the claim is to its best window; without it
    a lexical combiner decides (cheap: no model is loaded). A claim quoted verbatim is never
    embedded. With `strict` (the default) the hard mismatches of `_cap` override the learned
    score; the score is then lowered to stay below the threshold of the state given."""
    if not claim.strip() or not passage.strip():
        return Support("unsupported", 0.0, (0, 0), ())
    models = model or load_model()
    analysis = analyse(claim, passage)
    values = dict(analysis.values)
    combiner = models["lexical"]
    p = combiner.probability(values)
    # Embeddings decide close cases only: they cost tens of ms a passage on a busy 2-core
    # CPU and move the probability little (eval/reports/support). None for a verbatim quote,
    # a refuted number or name, or a lexical score far from the "supported" threshold.
    if similarity is not None and "semantic" in models and not _verbatim(claim, passage) \
            and _cap("supported", values) != "unsupported" \
            and abs(p - combiner.supported) < SEMANTIC_MARGIN:
        values.update(semantic_values(claim, analysis, passage, similarity))
        combiner = models["semantic"]
        p = combiner.probability(values)
    state = combiner.state(p)
    span = (analysis.window.start, analysis.window.end)
    quoted = _quoted(claim, passage)
    if quoted is not None:
        # a verbatim quote is supported by definition; its span is the sentences holding it
        return Support("supported", round(max(p, combiner.supported), 4), quoted, ())
    if strict:
        capped = _cap(state, values)
        if capped != state:
            state = capped
            p = min(p, (combiner.supported if state == "partial" else combiner.partial) - 1e-4)
    return Support(state, round(max(p, 0.0), 4), span, analysis.missing)


_SIMILARITY: list[Similarity] = []
_LOCK = threading.Lock()


def minilm_similarity(cache_dir: Path | None = None) -> Similarity:
    """Cosine similarity with the packaged MiniLM on ONNX Runtime (PyTorch as fallback),
    created once per process."""
    with _LOCK:
        if not _SIMILARITY:
            from index.embed import MiniLMEmbedder
            from index.onnx_embed import OnnxMiniLM

            folder = cache_dir or Path.home() / ".cache" / "newscite"
            embedder = OnnxMiniLM(folder, fallback=MiniLMEmbedder())

            def similarity(claim: str, texts: Sequence[str]) -> list[float]:
                vectors = embedder.embed([claim, *texts])
                return [float(v) for v in vectors[1:] @ vectors[0]]

            _SIMILARITY.append(similarity)
        return _SIMILARITY[0]
