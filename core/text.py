"""Small text helpers shared by the extractive engine, the citation checker and retrieval."""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
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


# --- the fast path: the same analysis, faster on ASCII text (every passage, every question) ---
# core.text's word pattern on lowercased ASCII text, where `[^\W_]` is `[a-z0-9]` and the only
# apostrophe is "'": the same matches, found about a quarter faster
_ASCII_WORD = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)?")
# every dotted acronym ("U.S.") holds a dot, a capital and a dot: a search that starts from a
# literal dot rules most texts out several times faster than the acronym pattern itself
_MAYBE_ACRONYM = re.compile(r"\.[A-Z]\.")


def _has_acronym(text: str) -> bool:
    return _MAYBE_ACRONYM.search(text) is not None and _ACRONYM.search(text) is not None


def _ascii_words(text: str) -> list[str]:
    """`core.text.words` for ASCII text, where folding is just lowercasing."""
    if _has_acronym(text):
        text = _ACRONYM.sub(lambda m: m.group().replace(".", ""), text)
    return _ASCII_WORD.findall(text.lower())


_PROBES = ("U.S. and U.N. troops met the E.U. envoy.", "Mr. Smith's 1,709 dogs; it's 33rd",
           "e.g. state-run TV - A.B.C. news, x.y.z", "Don't stop: 4.5 percent, O'Neil")
# the fast path is used only while it agrees with the reference functions above
_FAST = all(_ascii_words(p) == words(p) and fold(p) == p.lower() for p in _PROBES)


def fast_words(text: str) -> list[str]:
    """`core.text.words`, without the slow Unicode folding for ASCII text."""
    return _ascii_words(text) if _FAST and text.isascii() else words(text)


def fast_fold(text: str) -> str:
    """`core.text.fold`, without the Unicode work for ASCII text."""
    return text.lower() if _FAST and text.isascii() else fold(text)


_TERMS: dict[str, str] = {}  # word -> its stem, or "" for a stop or question word
_TERMS_MAX = 500_000  # words; past this the table starts over (a few tens of MB at most)


def _term(word: str) -> str:
    term = "" if word in STOPWORDS or word in QUESTION_WORDS else stem(word)
    if len(_TERMS) >= _TERMS_MAX:
        _TERMS.clear()
    _TERMS[word] = term
    return term


def _kept_stems(words: list[str]) -> list[str]:
    """`core.text.terms`' last step: stems of the words that are not stop or question words
    (one table lookup per word; the reranker analyses about 3,000 words per question)."""
    get = _TERMS.get
    out = []
    for word in words:
        term = get(word)
        if term is None:
            term = _term(word)
        if term:
            out.append(term)
    return out


def query_terms(text: str) -> list[str]:
    """`core.text.terms`, with the fast path for ASCII text."""
    if not (_FAST and text.isascii()):
        return terms(text)
    return _kept_stems(_ascii_words(text))


def span_terms(text: str, spans: Sequence[tuple[int, int]]) -> list[list[str]]:
    """`query_terms` of each span of `text` (e.g. its sentences). For ASCII text without dotted
    acronyms it lowercases the text once, instead of checking, rewriting and lowercasing every
    span (the reranker analyses about 18 passages of 6 sentences per question)."""
    if not (_FAST and text.isascii()) or _has_acronym(text):
        return [query_terms(text[s:e]) for s, e in spans]
    lowered = text.lower()
    return [_kept_stems(_ASCII_WORD.findall(lowered[s:e])) for s, e in spans]


# --- sentences with exact offsets (chunking, the keyword table, the extractive engine) -------
# A sentence ends at . ! ? (optionally followed by closing quotes/brackets) before whitespace
# and a capital letter, digit or opening quote; line breaks always end a sentence.
_END = re.compile(r"[.!?][\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])")
_PARA = re.compile(r"\s*\n\s*")
_ABBREV = {
    "mr", "mrs", "ms", "dr", "st", "gen", "lt", "col", "sgt", "capt", "maj", "adm", "gov",
    "sen", "rep", "prof", "jr", "sr", "no", "vs", "etc", "inc", "ltd", "co", "corp", "jan",
    "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s",
    "u.k", "u.n", "e.g", "i.e", "mt", "ft", "approx", "dept", "est", "fig",
}


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the period at `dot` closes an abbreviation or an initial, not a sentence."""
    if text[dot] != ".":
        return False
    start = dot
    while start > 0 and (text[start - 1].isalpha() or text[start - 1] == "."):
        start -= 1
    word = text[start:dot].lower()
    if word in _ABBREV:
        return True
    # single-letter initials ("Mark T. Esper") and dotted acronyms ("U.S.")
    return len(word) == 1 and text[start:dot].isupper() or "." in word and len(word) <= 5


def trimmed_span(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Offsets (start, end) of the sentences of text[start:end], whitespace trimmed."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    para_start = start
    for para in [*_PARA.finditer(text, start, end), None]:
        para_end = para.start() if para else end
        cursor = para_start
        for match in _END.finditer(text, para_start, para_end):
            if _is_abbreviation(text, match.start()):
                continue
            span = trimmed_span(text, cursor, match.end())
            if span:
                spans.append(span)
            cursor = match.end()
        span = trimmed_span(text, cursor, para_end)
        if span:
            spans.append(span)
        if para:
            para_start = para.end()
    return spans


# --- the evidence variant -------------------------------------------------------------------
# The LLM prompt picks its evidence sentences with a smaller stop list, a different stemmer and
# a looser sentence split (any . ! ? before whitespace) than retrieval uses. They were chosen
# by measuring the local engine's answers; changing them to the retrieval analysis changes
# which sentences the model reads, so they stay a named variant until re-measured.
EVIDENCE_STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further
had has have having he her here hers herself him himself his how i if in into is it its itself
just me more most my myself no nor not now of off on once only or other our ours ourselves out
over own same she should so some such than that the their theirs them themselves then there
these they this those through to too under until up very was we were what when where which
while who whom why will with would you your yours yourself yourselves many much did say said
says tell told according
""".split())  # noqa: SIM905 - a word list reads better as text
_EVIDENCE_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
# a sentence ends at . ! ? (optionally followed by a closing quote or bracket) before whitespace
_LOOSE_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=\S)")


def evidence_terms(text: str) -> list[str]:
    out = []
    for word in _EVIDENCE_WORD.findall(text.lower()):
        word = word.replace("’", "'")
        word = word.removesuffix("'s")
        if word in EVIDENCE_STOPWORDS or (len(word) < 2 and not word.isdigit()):
            continue
        out.append(evidence_stem(word))
    return out


def evidence_stem(word: str) -> str:
    """A tiny suffix stripper: enough to match killed/kill, soldiers/soldier, turkish/turkey."""
    if word.isdigit() or len(word) <= 3:
        return word
    if word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    for suffix in ("ing", "ied", "ish", "ian", "ed", "ey", "e", "y"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + ("ia" if suffix == "ian" else "")
    return word


def loose_sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) spans of the sentences of `text`, covering its non-blank content."""
    spans = []
    start = 0
    for match in _LOOSE_SENTENCE_END.finditer(text):
        end = match.start() + len(match.group(0).rstrip())
        if text[start:end].strip():
            spans.append((start, end))
        start = match.end()
    if text[start:].strip():
        spans.append((start, len(text.rstrip())))
    return spans
