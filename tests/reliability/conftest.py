"""Reliability fixtures: the real embedding model, the corpus copied per test."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

# --import-mode=importlib puts no test folder on sys.path; the tests share rel_helpers.py
sys.path.insert(0, str(Path(__file__).resolve().parent))

from rel_helpers import SEEDS


@pytest.fixture(scope="session")
def minilm():  # noqa: ANN201
    from index.embed import MiniLMEmbedder
    return MiniLMEmbedder()


@pytest.fixture(scope="session")
def need_seeds() -> Path:
    if not SEEDS.is_dir():
        pytest.skip(f"seed articles not found at {SEEDS} (shared/ must sit beside the project)")
    return SEEDS
