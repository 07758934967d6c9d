"""Load test (bounded, loopback only): concurrent clients against the REST API, zero errors."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.server
@pytest.mark.timeout(900)
def test_concurrent_clients_are_queued_not_failed(tmp_path: Path) -> None:
    from eval.bench.corpus import questions
    from eval.bench.serve import load_test, newscite_server

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sample = ROOT / "eval" / "corpus" / "sample"
    with newscite_server(tmp_path / "data", ingest=[sample]) as (url, _pid):
        # more clients than the server computes at once (2): the rest must wait, not fail
        result = load_test(url, questions(40), clients=8, per_client=5, timeout=300,
                           deadline_s=600)
    assert result["errors"] == 0, result["error_samples"]
    assert result["requests"] == 40
    assert result["throughput_rps"] > 0 and result["p95_ms"] >= result["p50_ms"] > 0


def test_load_test_refuses_non_loopback_targets() -> None:
    from eval.bench.serve import load_test

    with pytest.raises(ValueError):
        load_test("http://10.0.0.1:8000", ["q"], clients=1, per_client=1)
    assert sys.version_info >= (3, 11)
