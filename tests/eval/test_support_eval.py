"""The support-set harness on hand-written claim/passage files of both shapes."""
from __future__ import annotations

import json

from eval.cli import main
from eval.support_data import classify, load_pairs, split

PASSAGE = "The council approved the new budget on Monday. The mayor praised the vote."
ROWS_WICE = [
    {"claim": "The council approved the new budget on Monday.", "label": "supported",
     "evidence": PASSAGE.split(". "), "meta": {"id": f"w{i}", "claim_title": f"T{i % 3}"}}
    for i in range(6)
] + [{"claim": "The council rejected the budget.", "label": "partially_supported",
      "evidence": [PASSAGE], "meta": {"id": "w9", "claim_title": "T9"}}]
ROWS_DOC = [{"id": f"doc{i // 2}_{i}", "document": PASSAGE, "claim": c, "label": lab}
            for i, (c, lab) in enumerate([("The mayor praised the vote.", "supported"),
                                          ("The mayor condemned 40 votes.", "not_supported")]
                                         * 3)]


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_load_split_and_classify(tmp_path):
    wice = load_pairs(write(tmp_path / "w.jsonl", ROWS_WICE))
    assert [p.supported for p in wice].count(True) == 6  # partially_supported is not
    train, val = split(wice)
    assert not {p.group for p in train} & {p.group for p in val}  # split by item
    m = classify([True, True, False, False], [True, False, True, False])
    assert m["balanced_accuracy"] == 0.5 and m["precision"] == 0.5


def test_harness_writes_report(tmp_path):
    a = write(tmp_path / "wice-like.jsonl", ROWS_WICE)
    b = write(tmp_path / "doc-like.jsonl", ROWS_DOC)
    out = tmp_path / "report"
    assert main(["--support-set", str(a), "--support-set", str(b), "--support-lexical",
                 "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["sets"]) == {"wice-like", "doc-like"}
    row = summary["sets"]["doc-like"]["checkers"]["verify, lexical"]["whole"]
    assert row["n"] == 6 and row["balanced_accuracy"] == 1.0
    assert (out / "calibration.png").stat().st_size > 0
    assert "--support-set" in (out / "report.md").read_text()
