"""Dates of the desk: long forms for answers, and dates in a sentence resolved against the
published date of its article ("on Thursday", "February 28", "yesterday")."""
from __future__ import annotations

import datetime
import re

from core.text import MONTHS, WEEKDAYS

_MONTH = "|".join(MONTHS)
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
# "February 28", "February 28, 2020", "28 February", "March 5"
_MONTH_DAY = re.compile(rf"\b({_MONTH})\s+{_DAY}\b(?:,?\s+((?:19|20)\d\d)\b)?", re.IGNORECASE)
_DAY_MONTH = re.compile(rf"\b{_DAY}\s+({_MONTH})\b(?:,?\s+((?:19|20)\d\d)\b)?", re.IGNORECASE)
_WEEKDAY = re.compile(rf"\b(?:on|late on|early on|last|by)\s+({'|'.join(WEEKDAYS)})\b", re.IGNORECASE)
_RELATIVE = {"yesterday": -1, "today": 0, "tonight": 0, "this morning": 0, "this evening": 0}
_RELATIVE_RE = re.compile(r"\b(yesterday|today|tonight|this morning|this evening)\b", re.IGNORECASE)


def parse(iso: str | None) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(iso) if iso else None
    except ValueError:
        return None


def long_date(iso: str | None, year: bool = True) -> str:
    """ "2020-03-09" -> "March 9, 2020" ("" when unknown)."""
    day = parse(iso)
    if day is None:
        return ""
    text = f"{MONTHS[day.month - 1].capitalize()} {day.day}"
    return f"{text}, {day.year}" if year else text


def _month_day(month: str, day: str, year: str | None,
               published: datetime.date) -> datetime.date | None:
    m = MONTHS.index(month.lower()) + 1
    try:
        when = datetime.date(int(year) if year else published.year, m, int(day))
    except ValueError:
        return None
    if not year and when > published + datetime.timedelta(days=31):
        # "December 1" in an article of February: the December before
        when = when.replace(year=when.year - 1)
    return when


def mentioned(sentence: str, published: str | None) -> tuple[str | None, bool]:
    """The date a sentence's event happened on: (ISO date, True) when the sentence names it
    in a simple form resolved against `published`, else (`published`, False)."""
    pub = parse(published)
    if pub is None:
        return published, False
    found: list[tuple[int, datetime.date]] = []
    for m in _MONTH_DAY.finditer(sentence):
        when = _month_day(m.group(1), m.group(2), m.group(3), pub)
        if when:
            found.append((m.start(), when))
    for m in _DAY_MONTH.finditer(sentence):
        when = _month_day(m.group(2), m.group(1), m.group(3), pub)
        if when:
            found.append((m.start(), when))
    for m in _WEEKDAY.finditer(sentence):
        # the last such weekday on or before the published date
        back = (pub.weekday() - WEEKDAYS.index(m.group(1).lower())) % 7
        if m.group().lower().startswith("last") and back == 0:
            back = 7
        found.append((m.start(), pub - datetime.timedelta(days=back)))
    for m in _RELATIVE_RE.finditer(sentence):
        found.append((m.start(), pub + datetime.timedelta(days=_RELATIVE[m.group(1).lower()])))
    if not found:
        return published, False
    # the first date named is the one the sentence is about ("on Thursday ..., the governor
    # said on Friday" is Thursday's event); an explicit date beats a weekday at the same place
    found.sort(key=lambda f: f[0])
    return found[0][1].isoformat(), True
