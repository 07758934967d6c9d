"""Security fixtures: the real embedding model and an index of the injection corpus."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

# --import-mode=importlib puts no test folder on sys.path; the tests share sec_helpers.py
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sec_helpers import INJECTION, SAMPLE


@pytest.fixture(scope="session")
def minilm():  # noqa: ANN201
    from index.embed import MiniLMEmbedder
    return MiniLMEmbedder()


@pytest.fixture(scope="session")
def injected(tmp_path_factory: pytest.TempPathFactory, minilm):  # noqa: ANN001, ANN201
    """A real Assistant over the injection articles plus the sample corpus (distractors)."""
    from core.settings import Settings
    from rag.assistant import Assistant

    assistant = Assistant(Settings(data_dir=tmp_path_factory.mktemp("injection"),
                                   engine="extractive"), embedder=minilm)
    report = assistant.ingest([INJECTION, SAMPLE])
    assert not report.skipped
    yield assistant
    assistant.close()
