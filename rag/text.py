"""Small text helpers shared by the extractive engine, the citation checker and retrieval."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before
being below between both but by can could did do does doing down during each few for from
further had has have having he her here hers herself him himself his how i if in into is it
its itself just me more most my myself no nor not now of off on once only or other our ours
out over own same she should so some such than that the their theirs them then there these
they this those through to too under until up very was we were what when where which while
who whom whose why will with would you your yours said says say according reported report
reports told tell one ones did does many much kind whether yet still since per via
""".split())
QUESTION_WORDS = frozenset("what which who whom whose when where why how name named".split())

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
# A number not glued to a word or a dot: "1,709", "4.5", "33". Each branch opens with the digit
# and looks behind it (`\d(?<![\w.]\d)` = a digit with no word character or dot before it), so
# the regex engine can jump from digit to digit: much faster than a leading lookbehind, same
# matches (tests/rag/test_text_numbers.py).
_NUMBER = re.compile(r"\d(?<![\w.]\d)\d{0,2}(?:,\d{3})+(?:\.\d+)?(?!\w)"
                     r"|\d(?<![\w.]\d)\d*(?:\.\d+)?(?!\w)")
NUMBER_WORDS = {
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
    "thirteen": "13", "fourteen": "14", "fifteen": "15", "sixteen": "16", "seventeen": "17",
    "eighteen": "18", "nineteen": "19", "twenty": "20", "thirty": "30", "forty": "40",
    "fifty": "50", "hundred": "100", "dozen": "12",
}
MONTHS = ("january february march april may june july august september october november "
          "december").split()
WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday".split()


def fold(text: str) -> str:
    """Lowercase, strip accents, unify apostrophes and dashes."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return text.replace("’", "'").replace("‘", "'").replace("–", "-").replace("—", "-").lower()


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light, predictable stemmer: possessives and common plural/verb endings."""
    if word.endswith("'s"):
        word = word[:-2]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if len(word) > 5 and word.endswith("ed"):
        word = word[:-2]
    elif len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
    if len(word) > 4 and word.endswith("e"):
        word = word[:-1]
    return word


_ACRONYM = re.compile(r"\b(?:[A-Z]\.){2,}")


def words(text: str) -> list[str]:
    """Folded word tokens; dotted acronyms become one word ("U.S." -> "us")."""
    return _WORD.findall(fold(_ACRONYM.sub(lambda m: m.group().replace(".", ""), text)))


def terms(text: str) -> list[str]:
    """Content terms: folded, stemmed, without stopwords and question words."""
    return [stem(w) for w in words(text) if w not in STOPWORDS and w not in QUESTION_WORDS]


def numbers(text: str) -> set[str]:
    """Numbers in digits or words, normalised ("1,709" -> "1709", "nine" -> "9")."""
    found = {m.group().replace(",", "") for m in _NUMBER.finditer(text)}
    found.update(NUMBER_WORDS[w] for w in words(text) if w in NUMBER_WORDS)
    return found


_NAME = re.compile(r"\b[A-Z][\w’'-]*[A-Za-z]")
_NOT_NAMES = frozenset(STOPWORDS | QUESTION_WORDS | {"mr", "mrs", "ms", "dr"})


def names(text: str) -> set[str]:
    """Capitalised words that are not the first word of the text (rough proper nouns), folded."""
    out: set[str] = set()
    for m in _NAME.finditer(text):
        if m.start() == 0:
            continue
        word = fold(m.group())
        if word not in _NOT_NAMES and word not in MONTHS and word not in WEEKDAYS:
            out.add(word.removesuffix("'s"))
    return out


def has_date(text: str) -> bool:
    low = fold(text)
    return any(m in low for m in MONTHS) or any(d in low for d in WEEKDAYS) or bool(
        re.search(r"\b(19|20)\d\d\b", text)) or "yesterday" in low or "today" in low
