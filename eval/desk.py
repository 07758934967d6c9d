"""The news desk's harness: latest-value answers, outlet grouping and timelines on their gold set.

`python -m eval.desk --out DIR` indexes the sample corpus, asks every item of
`eval/gold/desk/sample.jsonl` with the extractive engine and scores: grouping right (the
latest value and date, the earlier values with their dates, the outlets of each value, the
timeline's dates in order) and citations verified (every claim, cell and timeline entry cites a
span that is its article's exact text).
"""
from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.records import Article, Citation
from eval.dataset import ROOT, SAMPLE_CORPUS, load_articles

DESK_GOLD = ROOT / "eval" / "gold" / "desk" / "sample.jsonl"


def load_items(path: Path = DESK_GOLD) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def verified(citations: Sequence[Citation], articles: dict[str, Article]) -> bool:
    """Every citation is its article's exact text at its offsets (and there is one)."""
    return bool(citations) and all(
        (a := articles.get(c.article_id)) is not None and a.text[c.start:c.end] == c.quote
        for c in citations)


def _outlets_right(groups: dict[str, list[str]], claims: Sequence[Any]) -> bool:
    """Each expected value is a claim whose outlets include the expected ones, and no expected
    outlet is put under another expected value."""
    by_value = {c.value: c for c in claims}
    for value, outlets in groups.items():
        claim = by_value.get(value)
        if claim is None or not all(any(o in got for got in claim.outlets) for o in outlets):
            return False
        for other, others in groups.items():
            if other != value and other in by_value and any(
                    any(o in got for got in by_value[other].outlets) for o in outlets
                    if not any(o in x for x in others)):
                return False
    return True


def score_item(item: dict[str, Any], assistant: Any, articles: dict[str, Article]
               ) -> dict[str, Any]:
    from rag.desk.dates import long_date

    kind = item["kind"]
    if kind == "timeline":
        tl = assistant.timeline(item["topic"])
        dates = [e.date for e in tl.events]
        want = item["dates"]
        found = [d for d in dates if d in want]
        grouping = all(d in dates for d in want) and found == sorted(found)
        for date, n in item.get("merged", {}).items():
            grouping = grouping and any(e.date == date and e.reported_by >= n
                                        for e in tl.events)
        cited = all(verified(e.citations, articles) for e in tl.events) and bool(tl.events)
        return {"id": item["id"], "kind": kind, "grouping": grouping, "cited": cited,
                "got": [(e.date, e.reported_by) for e in tl.events]}
    answer = assistant.ask(item["question"])
    by_number = {c.number: c for c in answer.citations}
    claims_cited = bool(answer.outlets) and all(
        verified([by_number[n] for n in c.citations if n in by_number], articles)
        and all(n in by_number for n in c.citations) for c in answer.outlets)
    if kind == "latest":
        latest = item["latest"]
        first = answer.text.split("\n")[0]
        grouping = (first.startswith(f"As of {long_date(latest['date'])}")
                    and any(c.value == latest["value"] and c.last_published == latest["date"]
                            for c in answer.outlets))
        for early in item["earlier"]:
            grouping = grouping and any(
                c.value == early["value"] and c.first_published == early["date"]
                for c in answer.outlets) and long_date(early["date"]) in answer.text
        got: Any = answer.text
    else:
        grouping = _outlets_right(item["groups"], answer.outlets)
        table = assistant.compare(item["question"])
        grouping = grouping and _outlets_right(item["groups"], table.claims)
        claims_cited = claims_cited and all(
            verified([c for c in table.citations if c.number in cell.citations], articles)
            for row in table.rows for cell in row.cells)
        got = [c.line() for c in answer.outlets]
    return {"id": item["id"], "kind": kind, "grouping": grouping, "cited": claims_cited,
            "got": got}


def run(out: Path, corpus: Path = SAMPLE_CORPUS, gold: Path = DESK_GOLD) -> dict[str, Any]:
    from core.settings import Settings
    from rag.assistant import Assistant

    items = load_items(gold)
    articles = {a.id: a for a in load_articles([corpus])}
    with tempfile.TemporaryDirectory(prefix="newscite-desk-") as tmp:
        assistant = Assistant(Settings(data_dir=Path(tmp), engine="extractive"))
        assistant.ingest([corpus])
        results = [score_item(item, assistant, articles) for item in items]
        assistant.close()
    summary: dict[str, Any] = {"items": len(results)}
    for kind in ("latest", "outlets", "timeline", "all"):
        rows = [r for r in results if kind == "all" or r["kind"] == kind]
        if rows:
            summary[kind] = {
                "n": len(rows),
                "grouping": round(sum(r["grouping"] for r in rows) / len(rows), 3),
                "cited": round(sum(r["cited"] for r in rows) / len(rows), 3)}
    out.mkdir(parents=True, exist_ok=True)
    (out / "desk.json").write_text(json.dumps({"summary": summary, "results": results},
                                              indent=1, ensure_ascii=False), encoding="utf-8")
    return summary


def table(summary: dict[str, Any]) -> str:
    lines = ["| items | n | grouping right | every entry cited (verified) |", "|---|---|---|---|"]
    for kind in ("latest", "outlets", "timeline", "all"):
        if kind in summary:
            s = summary[kind]
            lines.append(f"| {kind} | {s['n']} | {s['grouping']:.2f} | {s['cited']:.2f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.desk", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("eval/reports/desk"))
    args = parser.parse_args(argv)
    summary = run(args.out)
    print(table(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
