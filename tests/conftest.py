"""Shared fixtures: corpus locations, settings in a temp folder, the fake embedder."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

ROOT = Path(__file__).resolve().parents[1]
SEEDS = (ROOT / ".." / "shared" / "corpus" / "seeds").resolve()
SAMPLE = ROOT / "eval" / "corpus" / "sample"
SEED_STRIKE = "000_39dc9dd94238abea.txt"
SEED_NEWSWEEK = "003_7a5f10418e31d292.txt"
CHROMIUM = "/usr/lib/chromium/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    if not SEEDS.is_dir():
        pytest.skip(f"seed articles not found at {SEEDS} (shared/ must sit beside the project)")
    return SEEDS


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE


@pytest.fixture
def hash_embedder():  # noqa: ANN201
    from index.embed import HashEmbedder
    return HashEmbedder()


@pytest.fixture(scope="session")
def browser():  # noqa: ANN201
    """One headless Chromium for the whole session. Playwright's sync API refuses to start
    while another sync_playwright() is alive, so every browser test shares this one."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (make browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
