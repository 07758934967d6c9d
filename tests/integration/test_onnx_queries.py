"""Embeddings through ONNX Runtime: the packaged model's own vectors, exported once, batched
for ingest, a PyTorch fallback that says why, and serving and ingest processes that never
import torch."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from index import onnx_embed
from index.onnx_embed import OnnxMiniLM, export, onnx_embedder, onnx_path

ROOT = Path(__file__).resolve().parents[2]
TEXTS = [
    "How many Turkish soldiers were killed in the air strike?",
    "Who is the governor of Hatay?",
    "x",
    "Ankara, 28 February. " + "The talks went on late into the night and resumed at dawn. " * 60,
]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("onnx-cache")
    # an earlier release's graph of the same weights, which the export replaces, and another
    # release's, which it keeps
    onnx_path(cache, 1).write_bytes(b"format 1")
    (cache / "minilm-l6-v2-f1-0.0.1-123.onnx").write_bytes(b"other weights")
    return cache


def test_vectors_match_pytorch(minilm, cache_dir: Path) -> None:  # noqa: ANN001
    onnx = OnnxMiniLM(cache_dir, fallback=minilm)
    for text in TEXTS:  # one at a time, as questions are embedded
        assert np.abs(onnx.embed([text]) - minilm.embed([text])).max() < 1e-5
    # a padded batch (the long text is cut at 256 tokens by both)
    got, want = onnx.embed(TEXTS), minilm.embed(TEXTS)
    assert got.shape == (len(TEXTS), 384) and got.dtype == np.float32
    assert np.abs(got - want).max() < 1e-5
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert onnx.active == "onnx" and onnx.embed([]).shape == (0, 384)
    # several batches, each padded to its own longest text, rows in the caller's order
    small = OnnxMiniLM(cache_dir, fallback=minilm, batch_size=3)
    many = TEXTS[::-1] + TEXTS
    assert np.abs(small.embed(many) - minilm.embed(many)).max() < 1e-5
    with pytest.raises(ValueError, match="batch_size"):
        OnnxMiniLM(cache_dir, fallback=minilm, batch_size=0)


def test_export_happens_once(cache_dir: Path) -> None:
    path = export(cache_dir)
    assert path == onnx_path(cache_dir) and path.stat().st_size > 50_000_000
    before = path.stat().st_mtime_ns
    assert export(cache_dir) == path and path.stat().st_mtime_ns == before
    assert not list(cache_dir.glob("*.tmp"))
    assert not onnx_path(cache_dir, 1).exists()
    assert (cache_dir / "minilm-l6-v2-f1-0.0.1-123.onnx").exists()


def test_the_graph_is_traced_with_plain_attention(cache_dir: Path) -> None:
    """PyTorch's fused attention traces to a per-layer NaN guard (IsNaN, Where) and a longer
    chain of shape ops, which ONNX Runtime ran about 20% slower (index/onnx_embed.py)."""
    import onnx

    graph = onnx.load(str(export(cache_dir)), load_external_data=False).graph
    ops = [node.op_type for node in graph.node]
    assert ops.count("Softmax") == 6  # one attention per layer
    assert "IsNaN" not in ops and len(ops) < 600


def test_falls_back_to_pytorch_and_says_why(minilm, tmp_path: Path,  # noqa: ANN001
                                            monkeypatch: pytest.MonkeyPatch,
                                            caplog: pytest.LogCaptureFixture) -> None:
    def broken(_cache: Path) -> Path:
        raise ImportError("No module named 'onnx'")

    monkeypatch.setattr(onnx_embed, "export", broken)
    onnx = OnnxMiniLM(tmp_path, fallback=minilm)
    with caplog.at_level(logging.WARNING):
        got = onnx.embed([TEXTS[0]])
    assert np.abs(got - minilm.embed([TEXTS[0]])).max() < 1e-6
    assert onnx.active == "torch"
    assert "PyTorch" in caplog.text and "No module named 'onnx'" in caplog.text


def test_only_the_packaged_model_goes_through_onnx(minilm, hash_embedder,  # noqa: ANN001
                                                   tmp_path: Path) -> None:
    assert isinstance(onnx_embedder(minilm, tmp_path), OnnxMiniLM)
    assert onnx_embedder(hash_embedder, tmp_path) is hash_embedder
    assert onnx_embedder(minilm, tmp_path).batch_size == minilm.batch_size


def test_settings_choose_the_runtime_per_side(minilm: Any, tmp_path: Path) -> None:
    from core.settings import Settings
    from rag.assistant import Assistant

    both = Assistant(Settings(data_dir=tmp_path / "a", cache_dir=tmp_path), embedder=minilm)
    assert isinstance(both.ingest_embedder, OnnxMiniLM)
    # one session for both sides: a process that ingests and answers loads the model once
    assert both.query_embedder is both.ingest_embedder
    both.query_embedder.embed(["a question"])
    options = both.query_embedder._session.get_session_options()
    # threads spin between operators during a run and stop when it returns
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "1"
    assert options.get_session_config_entry("session.force_spinning_stop") == "1"
    torch_ingest = Assistant(Settings(data_dir=tmp_path / "b", cache_dir=tmp_path,
                                      onnx_ingest=False), embedder=minilm)
    assert torch_ingest.ingest_embedder is minilm
    assert isinstance(torch_ingest.query_embedder, OnnxMiniLM)
    torch_queries = Assistant(Settings(data_dir=tmp_path / "c", cache_dir=tmp_path,
                                       onnx_queries=False), embedder=minilm)
    assert torch_queries.query_embedder is minilm
    assert isinstance(torch_queries.ingest_embedder, OnnxMiniLM)


SERVE = """
import json, sys
from pathlib import Path
from rag.assistant import Assistant
from core.settings import Settings
a = Assistant(Settings(data_dir=Path(sys.argv[1]), cache_dir=Path(sys.argv[2]),
                       engine="extractive"))
a.warm_up()
answer = a.ask("How many Turkish soldiers were killed?")
print(json.dumps({"torch": "torch" in sys.modules, "refused": answer.refused,
                  "citations": len(answer.citations), "active": a.query_embedder.active}))
"""


@pytest.mark.slow
def test_a_serving_process_never_imports_torch(seeds_dir: Path, tmp_path: Path) -> None:
    from core.settings import Settings
    from rag.assistant import Assistant

    settings = Settings(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache",
                        engine="extractive")
    assistant = Assistant(settings)
    try:
        assistant.ingest([seeds_dir])  # the first ingest with this cache exports the graph
    finally:
        assistant.close()
    assert onnx_path(settings.cache_dir).is_file()
    proc = subprocess.run([sys.executable, "-c", SERVE, str(settings.data_dir),
                           str(settings.cache_dir)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got == {"torch": False, "refused": False, "citations": got["citations"],
                   "active": "onnx"} and got["citations"] >= 1


INGEST = """
import json, sys
from pathlib import Path
from rag.assistant import Assistant
from core.settings import Settings
a = Assistant(Settings(data_dir=Path(sys.argv[1]), cache_dir=Path(sys.argv[2]),
                       engine="extractive"))
report = a.ingest([Path(sys.argv[3])])
a.close()
print(json.dumps({"torch": "torch" in sys.modules, "chunks": report.chunks_embedded,
                  "active": a.ingest_embedder.active}))
"""


@pytest.mark.slow
def test_an_ingest_never_imports_torch_and_stores_the_models_vectors(
        minilm: Any, seeds_dir: Path, cache_dir: Path, tmp_path: Path) -> None:
    import chromadb

    from index.chunk import embed_text
    from index.keyword import KeywordSearcher

    export(cache_dir)  # as the first ingest or question on a machine leaves it
    data = tmp_path / "data"
    proc = subprocess.run([sys.executable, "-c", INGEST, str(data), str(cache_dir),
                           str(seeds_dir)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"}, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["torch"] is False and got["active"] == "onnx" and got["chunks"] >= 10
    # every stored vector is what PyTorch's sentence-transformers makes of the chunk
    client = chromadb.PersistentClient(path=str(data / "chroma"))
    stored = client.get_collection("newscite").get(include=["embeddings"])
    passages = KeywordSearcher(str(data / "manifest.sqlite"), snapshot=False).passages(
        stored["ids"])
    assert len(passages) == len(stored["ids"]) == got["chunks"]
    texts = [embed_text(passages[cid].title, passages[cid].text) for cid in stored["ids"]]
    assert np.abs(np.asarray(stored["embeddings"]) - minilm.embed(texts)).max() < 1e-5


def test_needs_export_only_before_the_graph_exists(minilm: Any, hash_embedder: Any,
                                                    tmp_path: Path) -> None:
    from index.onnx_embed import needs_export

    onnx = OnnxMiniLM(tmp_path, fallback=minilm)
    assert needs_export(onnx)
    onnx_path(tmp_path).write_bytes(b"")  # what matters is that the file is there
    assert not needs_export(onnx)
    assert not needs_export(hash_embedder) and not needs_export(minilm)


@pytest.mark.slow
def test_the_cli_says_when_the_first_ingest_exports_the_model(seeds_dir: Path,
                                                              tmp_path: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "NEWSCITE_CACHE_DIR": str(tmp_path / "cache")}
    runs = [subprocess.run([sys.executable, "-m", "rag", "ingest", str(seeds_dir), "--data-dir",
                            str(tmp_path / f"data{i}")], cwd=ROOT, capture_output=True,
                           text=True, timeout=600, env=env, check=False) for i in (1, 2)]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr[-2000:] + runs[1].stderr
    assert "exporting the embedding model" in runs[0].stderr
    assert "exporting the embedding model" not in runs[1].stderr  # once per machine
    assert "Loading weights" not in runs[0].stderr  # no library progress bars
    assert onnx_path(tmp_path / "cache").is_file()
