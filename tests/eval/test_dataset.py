"""Gold-file validation: clear errors naming the line; quote location in article text."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.dataset import DatasetError, load_dataset, quote_spans

GOOD = {"id": "x-001", "question": "Who?", "answers": ["Ann"], "type": "factoid",
        "support": [{"article": "a.txt", "quote": "Ann said"}]}


def write(tmp_path: Path, *lines: object) -> Path:
    path = tmp_path / "gold.jsonl"
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n",
                    encoding="utf-8")
    return path


def test_loads_items_and_conversations(tmp_path):
    conv = {"id": "x-c01", "type": "conversation", "turns": [
        {"question": "Who?", "answers": ["Ann"], "support": GOOD["support"]},
        {"question": "And then?", "answers": [], "support": []}]}
    unans = {"id": "x-002", "question": "Why?", "answers": [], "support": [],
             "type": "unanswerable"}
    ds = load_dataset(write(tmp_path, GOOD, "", unans, conv))
    assert ds.name == "gold" and [i.id for i in ds.items] == ["x-001", "x-002", "x-c01"]
    assert ds.units() == 4
    assert ds.counts() == {"factoid": 1, "unanswerable": 1, "conversation": 1}
    assert not ds.items[2].turns[1].answerable
    assert ds.limit(1).units() == 1


@pytest.mark.parametrize("bad, message", [
    ("{not json", "line 2: invalid JSON"),
    ({**GOOD, "id": ""}, "line 2: missing 'id'"),
    ({**GOOD, "type": "opinion"}, "'type' must be one of"),
    ({**GOOD, "answers": "Ann"}, "'answers' must be a list"),
    ({k: v for k, v in GOOD.items() if k != "answers"}, "missing 'answers'"),
    ({**GOOD, "support": []}, "needs 'support'"),
    ({**GOOD, "support": [{"article": "a.txt"}]}, "support[1] needs a non-empty 'quote'"),
    ({**GOOD, "type": "unanswerable"}, "type unanswerable but answers is non-empty"),
    ({"id": "c", "type": "conversation", "turns": [GOOD]}, "needs a 'turns' list"),
    ({"id": "c", "type": "conversation", "turns": [GOOD, 3]}, "turn 2 must be an object"),
    ({**GOOD, "id": "x-001"}, "line 2: duplicate id 'x-001' (first on line 1)"),
])
def test_errors_name_the_line(tmp_path, bad, message):
    path = write(tmp_path, GOOD, bad)
    with pytest.raises(DatasetError) as err:
        load_dataset(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        load_dataset(tmp_path / "nope.jsonl")
    with pytest.raises(DatasetError, match="holds no questions"):
        load_dataset(write(tmp_path, ""))


def test_quote_spans_exact_then_whitespace_insensitive():
    text = "Alpha beta.\n\nGamma  delta beta."
    assert quote_spans(text, "beta") == [(6, 10), (26, 30)]
    assert quote_spans(text, "Gamma delta") == [(13, 25)]
    assert quote_spans(text, "epsilon") == []


def test_limit_spreads_over_types(tmp_path):
    def item(i: int, kind: str) -> dict:
        if kind == "unanswerable":
            return {"id": f"x-{i}", "question": "q", "answers": [], "support": [], "type": kind}
        return {**GOOD, "id": f"x-{i}", "type": kind}
    kinds = ["factoid"] * 5 + ["multi"] * 2 + ["unanswerable"] * 3
    ds = load_dataset(write(tmp_path, *(item(i, k) for i, k in enumerate(kinds))))
    small = ds.limit(4)
    assert [i.id for i in small.items] == ["x-0", "x-1", "x-5", "x-7"]
    assert small.counts() == {"factoid": 2, "multi": 1, "unanswerable": 1}
    assert ds.limit(8).counts() == {"factoid": 3, "multi": 2, "unanswerable": 3}
    assert ds.limit(None) is ds and ds.limit(99) is ds
