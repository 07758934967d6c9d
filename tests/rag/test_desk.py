"""The news desk's parts without models: recency intent, date resolution, values, grouping."""
from __future__ import annotations

import dataclasses

import pytest

from core.records import Answer, Citation, Claim, Hit, Sentence
from rag.desk import dates
from rag.desk.answer import annotate
from rag.desk.claims import _number_value, group, number_citations, statements
from rag.desk.compare import compare
from rag.desk.recency import by_recency, is_recent, lead, without_recency
from rag.desk.timeline import timeline


@pytest.mark.parametrize("question", [
    "What is the latest death toll?", "How many people have died so far?",
    "Who currently controls the town?", "What is the most recent figure for displaced people?",
    "Is the ceasefire still holding?", "How many soldiers are now reported dead?",
    "What is the death toll to date?"])
def test_recency_intent(question: str) -> None:
    assert is_recent(question)


@pytest.mark.parametrize("question", [
    "How many soldiers were killed in the air strike?", "Who is the governor of Hatay?",
    "What was the toll first reported at the time?", "What did the earliest report say?",
    "When did the ceasefire take effect?"])
def test_no_recency_intent(question: str) -> None:
    assert not is_recent(question)


def test_recency_words_are_taken_out() -> None:
    assert without_recency("What is the latest toll so far?") == "What is the toll ?"


@pytest.mark.parametrize(("sentence", "published", "expected"), [
    ("Soldiers died late on Thursday in Idlib.", "2020-02-28", ("2020-02-27", True)),
    ("The governor said on Friday, February 28, that ...", "2020-02-28", ("2020-02-28", True)),
    ("They agreed on Thursday, March 5, to halt fighting.", "2020-03-05", ("2020-03-05", True)),
    ("About 900,000 fled since December 1.", "2020-02-21", ("2019-12-01", True)),
    ("Joint patrols start on 15 March.", "2020-03-05", ("2020-03-15", True)),
    ("The minister resigned yesterday.", "2020-03-02", ("2020-03-01", True)),
    ("The truce held.", "2020-03-09", ("2020-03-09", False)),
    ("On Monday the truce held.", None, (None, False)),
])
def test_dates_resolved_against_the_published_date(sentence: str, published: str | None,
                                                   expected: tuple[str | None, bool]) -> None:
    assert dates.mentioned(sentence, published) == expected


def test_long_date() -> None:
    assert dates.long_date("2020-03-09") == "March 9, 2020"
    assert dates.long_date("2020-03-09", year=False) == "March 9"
    assert dates.long_date(None) == "" and dates.long_date("soon") == ""


@pytest.mark.parametrize(("sentence", "value"), [
    ("Thirty-three Turkish soldiers died late on Thursday, February 28.", "33"),
    ("At least 22 Turkish soldiers were killed on Thursday.", "22"),
    (("One of the soldiers wounded had died, bringing the number of Turkish troops killed in "
      "that attack to 34."), "34"),
    ("Forces neutralised 1,709 fighters, the Turkish soldiers said.", "1,709"),
    ("A war monitor said the reprisals killed 16 Syrian soldiers.", None),
    ("The M4 highway was closed in 2020.", None),
])
def test_the_value_next_to_the_question_words(sentence: str, value: str | None) -> None:
    found = _number_value(sentence, "How many Turkish soldiers were killed?")
    assert (found[0] if found else None) == value


def _hit(n: int, text: str, source: str | None, published: str | None,
         also_in: tuple[str, ...] = ()) -> Hit:
    return Hit(chunk_id=f"c{n}", article_id=f"a{n}", title=f"Story {n}", text=text, start=10,
               end=10 + len(text), score=1.0 - n / 100, source=source, published=published,
               also_in=also_in)


HITS = (
    _hit(1, "At least 22 Turkish soldiers were killed on Thursday in an air strike in Idlib.",
         "Levant Ledger", "2020-02-27"),
    _hit(2, "Thirty-three Turkish soldiers were killed in the air strike in Idlib, the "
            "governor said.", "Anatolia Wire Review", "2020-02-28", ("Wire Copy Daily",)),
    _hit(3, "The number of Turkish soldiers killed in the air strike in Idlib rose to 34.",
            "Northern Dispatch", "2020-03-09"),
    _hit(4, "Turkey says at least 33 of its soldiers were killed in the air strike in Idlib.",
            "Radio Free Europe", None),
)
QUESTION = "How many Turkish soldiers were killed in the air strike in Idlib?"


def test_statements_are_verified_spans_grouped_by_value() -> None:
    found = statements(QUESTION, HITS)
    assert {(s.value, s.outlet) for s in found} == {
        ("22", "Levant Ledger"), ("33", "Anatolia Wire Review"), ("34", "Northern Dispatch"),
        ("33", "Radio Free Europe")}
    for s in found:  # the citation is the passage's exact text, in article offsets
        hit = s.hit
        assert hit.text[s.citation.start - hit.start:s.citation.end - hit.start] \
            == s.citation.quote
    citations, numbers = number_citations(found, [])
    claims = group(found, numbers)
    assert claims[0].value == "33"  # most outlets first
    assert set(claims[0].outlets) == {"Anatolia Wire Review", "Radio Free Europe"}
    assert claims[0].also_in == ("Wire Copy Daily",)  # a syndicated copy counts once
    assert claims[0].first_published == "2020-02-28"
    assert "(also in 1 outlet)" in claims[0].line()
    assert sorted(n for c in claims for n in c.citations) == [c.number for c in citations]


def test_recency_order_keeps_relevance_first() -> None:
    off_topic = dataclasses.replace(_hit(9, "Weather.", "X", "2020-04-01"), score=0.1)
    ordered = by_recency([*HITS, off_topic])
    assert [h.published for h in ordered[:3]] == ["2020-03-09", "2020-02-28", "2020-02-27"]
    assert ordered[-1] is off_topic


def test_annotate_adds_a_dated_lead_outside_the_quote_and_the_earlier_values() -> None:
    quote = HITS[2].text
    answer = Answer(
        question="What is the latest toll of Turkish soldiers killed in the air strike in "
                 "Idlib?",
        text=f"{quote} [1]",
        citations=(Citation(1, "a3", "Story 3", "c3", quote, 10, 10 + len(quote),
                            "Northern Dispatch", "2020-03-09"),),
        sentences=(Sentence(quote, 0, len(quote) + 4, (1,), True, "supported"),))
    out = annotate(answer, HITS, recent=True)
    assert out.text.startswith("As of March 9, 2020 (Northern Dispatch): " + quote)
    sent = out.sentences[0]
    assert out.text[sent.start:sent.end].startswith(sent.text)  # spans moved with the lead
    assert "Earlier reports: 33 on February 28, 2020" in out.text
    assert "22 on February 27, 2020 (Levant Ledger)" in out.text
    assert {c.value for c in out.outlets} == {"22", "33", "34"}
    numbers = {c.number for c in out.citations}
    assert all(set(c.citations) <= numbers for c in out.outlets)
    # the new field survives the one serialiser
    assert Answer.from_dict(out.to_dict()) == out
    assert lead(HITS[3]) == ""  # no date, no lead


def test_compare_table_cells_are_cited() -> None:
    table = compare(QUESTION, HITS)
    rows = {r.outlet: [c.value for c in r.cells] for r in table.rows}
    assert rows["Northern Dispatch"] == ["34"] and rows["Levant Ledger"] == ["22"]
    numbers = {c.number for c in table.citations}
    assert all(set(cell.citations) <= numbers and cell.citations
               for r in table.rows for cell in r.cells)
    assert table.to_dict()["rows"]


def test_timeline_orders_resolves_and_merges() -> None:
    hits = (
        _hit(1, "Presidents agreed on Thursday, March 5, to halt fighting in Idlib.",
             "Bosphorus Evening Post", "2020-03-05"),
        _hit(2, "The Idlib ceasefire took effect at midnight on March 6 and was holding.",
             "Northern Dispatch", "2020-03-09"),
        _hit(3, "Leaders agreed on March 5 to halt the fighting in Idlib from midnight.",
             "Levant Ledger", "2020-03-06"),
    )
    tl = timeline("Idlib ceasefire agreed to halt fighting", hits)
    assert [e.date for e in tl.events] == ["2020-03-05", "2020-03-06"]
    assert tl.events[0].reported_by == 2  # the same event from two outlets, merged
    assert [c.number for e in tl.events for c in e.citations] == [1, 2, 3]
    assert tl.to_dict()["events"][0]["reported_by"] == 2


def test_claims_serialise() -> None:
    claim = Claim("33", ("A", "B"), (1, 2), "2020-02-28", "2020-02-28", ())
    assert claim.line() == "33: A, B [1][2]"
