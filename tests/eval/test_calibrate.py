"""The pre-check calibration's threshold trade-off (pure functions; the model run is a tool)."""
from __future__ import annotations

from eval.calibrate import Probe, best, report, tradeoff


def probes() -> list[Probe]:
    margins = [("a", True, 0.8), ("b", True, 0.3), ("c", True, -0.2), ("d", False, -0.6),
               ("e", False, -0.4), ("f", False, 0.5), ("g", True, None)]
    return [Probe("seeds", i, ans, m, 1.0) for i, ans, m in margins]


def test_tradeoff_counts_refusals_below_the_threshold() -> None:
    rows = {r["threshold"]: r for r in tradeoff(probes())}
    assert rows[-0.5] == {"threshold": -0.5, "correct_refusal": 1 / 3, "false_refusal": 0.0}
    assert rows[-0.1] == {"threshold": -0.1, "correct_refusal": 2 / 3, "false_refusal": 0.25}
    assert rows[1.0]["correct_refusal"] == 1.0 and rows[1.0]["false_refusal"] == 0.75
    # no signal (None) never refuses
    assert rows[1.5]["false_refusal"] == 0.75


def test_best_maximises_j_and_prefers_the_lower_threshold() -> None:
    choice = best(tradeoff(probes()))
    # J = 2/3 for thresholds in (-0.4, -0.2]; the lowest of them is chosen
    assert choice["threshold"] == -0.3
    assert abs(choice["correct_refusal"] - choice["false_refusal"] - 2 / 3) < 1e-9


def test_report_marks_the_current_threshold() -> None:
    text = report(probes(), -0.1)
    assert "| -0.1 (current) |" in text
    assert "Suggested `llm_refuse_below`: **-0.3**" in text


def test_false_refusals_are_capped() -> None:
    rows = [{"threshold": 0.1, "correct_refusal": 0.5, "false_refusal": 0.0},
            {"threshold": 0.5, "correct_refusal": 1.0, "false_refusal": 0.2}]
    assert best(rows)["threshold"] == 0.1  # J 0.8 is better, but refuses 20% of answers
    assert best(rows, max_false_refusal=0.25)["threshold"] == 0.5
