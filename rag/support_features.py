"""Features of a claim against a passage for the support check: alignment, names, numbers, order."""
from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from core import text as tx
from core.text import sentence_spans

# Words that turn a statement around. A general English list, not tuned on any data set.
NEGATIONS = frozenset("""
not no never none nothing nobody neither nor without cannot fail fails failed failing
deny denies denied refuse refused refuses reject rejected rejects unable lack lacked lacks
""".split())
# Words that make a statement a plan, a report, a possibility or a claim rather than a fact.
MODALS = frozenset("""
may might could would should will shall plan plans planned planning expect expects expected
propose proposed proposes consider considering considered allegedly reportedly possible
possibly likely probably intend intends intended aim aims hope hopes seek seeks sought
""".split())
# Short words that carry meaning in a claim although `tx.STOPWORDS` drops them (a claim that
# a thing is "before" vs "after", "more" vs "less", "first" vs "last").
_KEEP = frozenset("before after above below more most over under first last only".split())
# Units of measure, money and time, each mapped to one spelling; a number with one unit in the
# claim and only another in the passage is a different quantity.
UNITS = {u: group.split()[0] for group in """
percent % per cent pct
km kilometre kilometres kilometer kilometers
mile miles
metre metres meter meters
kg kilogram kilograms kilo kilos
tonne tonnes ton tons
pound pounds lb lbs
foot feet ft
inch inches
mm millimetre millimetres millimeter millimeters
cm centimetre centimetres centimeter centimeters
litre litres liter liters
gallon gallons
barrel barrels
acre acres
hectare hectares
degree degrees
hour hours hrs
minute minutes mins
second seconds secs
day days
week weeks
month months
year years
million millions
billion billions bn
trillion trillions
thousand thousands
dollar dollars usd $
euro euros eur €
""".strip().splitlines() for u in group.split()}
_SOFT_PREFIX = 6  # "election"/"elected" share "electe"; shorter words must match exactly
_MAX_WINDOW = 3  # passage sentences per window
_UNIT = re.compile(r"(?<![\w.])(\$|£|€)?\s?(\d[\d,]*(?:\.\d+)?)\s*(%|[a-z]+)?", re.I)
_ACRONYM = re.compile(r"\b(?:[A-Z]\.){2,}")  # as in core.text.words
_YEAR = re.compile(r"\b(1[5-9]\d\d|20\d\d)\b")
_CAP = re.compile(r"\b[A-Z][\w’'-]*[A-Za-z0-9]|\b[A-Z]{2,}\b")

# The order of FEATURES is the order of the model's weights (rag/data/support_model.json).
LEXICAL = (
    "recall_window", "recall_sentence", "recall_passage", "soft_recall_window",
    "precision_window", "missing_window_log", "missing_elsewhere", "name_missing_passage",
    "name_missing_window", "number_missing_passage", "number_missing_window", "unit_mismatch",
    "month_missing_window", "negation_mismatch", "modal_mismatch", "order_discordant",
    "bigram_recall", "lcs_ratio", "claim_terms_log", "window_sentences", "has_names",
    "has_numbers", "claims_missing", "overlap_pass", "role_swap", "split_support",
    "swap_name", "swap_order", "negation_flip", "split_relation",
)
SEMANTIC = ("cosine_window", "cosine_best", "cosine_margin")
# What the combiners weigh: features whose direction is clear (more recall helps, a missing
# name hurts). The others above were measured and left out: on the development sets they
# took weights of the wrong sign (the sets' length and style artefacts) without helping on
# the validation split.
MODEL_LEXICAL = (
    "recall_sentence", "soft_recall_window", "bigram_recall", "lcs_ratio",
    "number_missing_window", "number_missing_passage", "name_missing_window",
    "name_missing_passage", "unit_mismatch", "negation_mismatch", "role_swap", "split_support",
    "claims_missing", "overlap_pass", "modal_mismatch",
)
MODEL_SEMANTIC = ("cosine_window", "cosine_best")


@dataclass(frozen=True)
class Tokens:
    """A text's content terms in order, with their soft keys and surface words."""

    terms: tuple[str, ...]
    surface: tuple[str, ...]

    @property
    def set(self) -> frozenset[str]:
        return frozenset(self.terms)


@lru_cache(maxsize=65536)
def _soft(term: str) -> str:
    return term[:_SOFT_PREFIX] if len(term) >= _SOFT_PREFIX else term


def tokens(text: str) -> Tokens:
    """Content terms (folded, stemmed, stopwords dropped except a few meaningful ones)."""
    terms, surface = [], []
    for w in tx.words(text):
        if (w in tx.STOPWORDS and w not in _KEEP) or w in tx.QUESTION_WORDS:
            continue
        terms.append(tx.stem(w))
        surface.append(w)
    return Tokens(tuple(terms), tuple(surface))


class word_set:  # noqa: N801 - used like a set
    """Whole-word look-up of folded names in a text ("U.S." -> "us"; "Russian" is found in
    "Russian-backed", "Turkey" in "Turkey's")."""

    def __init__(self, text: str) -> None:
        self.text = " " + " ".join(tx.words(text)) + " "

    def __contains__(self, name: str) -> bool:
        return re.search(r"(?<![\w])" + re.escape(name) + r"(?![\w])", self.text) is not None


def claim_names(text: str) -> dict[str, str]:
    """{folded name: surface} of capitalised words and acronyms ("U.K." -> "uk"); the first
    word only when it is not a common word (a claim often opens with its subject's name)."""
    out: dict[str, str] = {}
    text = _ACRONYM.sub(lambda m: m.group().replace(".", ""), text)
    for m in _CAP.finditer(text):
        word = m.group()
        folded = " ".join(w.removesuffix("'s") for w in tx.words(word))
        if folded in tx.STOPWORDS or folded in tx.QUESTION_WORDS or folded in tx.MONTHS \
                or folded in tx.WEEKDAYS or folded in NEGATIONS or folded in MODALS \
                or folded in ("mr", "mrs", "ms", "dr") or len(folded) < 2:
            continue
        if m.start() == 0 and not any(c.isupper() for c in word[1:]) and len(word) < 4:
            continue
        out[folded] = word
    return out


def units(text: str) -> dict[str, set[str]]:
    """{number: units right after it} ("5 km" -> {"5": {"km"}}; "$5" -> {"5": {"$"}}); only
    words of `UNITS` count, so "33 soldiers" and "33 of its soldiers" carry no unit."""
    out: dict[str, set[str]] = {}
    for m in _UNIT.finditer(text):
        number = m.group(2).replace(",", "").rstrip(".")
        found = out.setdefault(number, set())
        for unit in (m.group(1), (m.group(3) or "").lower()):
            if unit and (unit in "$£€%" or unit in UNITS):
                found.add(UNITS.get(unit, unit))
    return out


_SCALE = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12, "bn": 1e9}
_SCALED = re.compile(r"(?<![\w.])(\d[\d,]*(?:\.\d+)?)\s*(thousand|million|billion|trillion|bn)\b",
                     re.I)
# "one" as a pronoun is no quantity: "one of the largest", "no one", "the one that"
_PRONOUN_ONE = re.compile(r"\bone\s+(?:of|another)\b|\b(?:no|any|every|some|the|this|that)"
                          r"\s+one\b(?!-)", re.I)


def quantities(text: str) -> dict[str, frozenset[str]]:
    """{number: its forms}: "1.5 million" -> {"1.5": {"1.5", "1500000"}}, so that a claim's
    "1.5 million" matches a passage's "1,500,000" and the other way round."""
    masked = _PRONOUN_ONE.sub(lambda m: " " * len(m.group()), text)
    out = {n: {n} for n in tx.numbers(masked)}
    for m in _SCALED.finditer(masked):
        raw = m.group(1).replace(",", "")
        try:
            value = float(raw) * _SCALE[m.group(2).lower()]
        except ValueError:
            continue
        out.setdefault(raw, {raw}).add(str(int(value)) if value.is_integer() else str(value))
    return {n: frozenset(f) for n, f in out.items()}


def missing_numbers(claim: dict[str, frozenset[str]], other: str) -> set[str]:
    """The claim's numbers that `other` states in no form."""
    forms = set().union(*quantities(other).values()) if other else set()
    return {n for n, f in claim.items() if not f & forms}


def _months(text: str) -> set[str]:
    words = set(tx.words(text))
    return {m for m in tx.MONTHS if m in words and m != "may"} | set(_YEAR.findall(text))


def _flag(words: Sequence[str], vocabulary: frozenset[str]) -> bool:
    return any(w in vocabulary or w.endswith("n't") for w in words) if vocabulary is NEGATIONS \
        else any(w in vocabulary for w in words)


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def _order(claim: Sequence[str], window: Sequence[str]) -> float:
    """Share of discordant pairs among claim terms found in the window: "A beat B" against
    "B beat A" keeps every word but reverses the order of the names around the verb."""
    first: dict[str, int] = {}
    for i, t in enumerate(window):
        first.setdefault(t, i)
    seq = [first[t] for t in dict.fromkeys(claim) if t in first]
    pairs = discordant = 0
    for i in range(len(seq)):
        for j in range(i + 1, len(seq)):
            pairs += 1
            discordant += seq[j] < seq[i]
    return discordant / pairs if pairs else 0.0


def _bigrams(claim: Sequence[str], window: Sequence[str], reach: int = 4) -> float:
    """Share of adjacent claim term pairs found in the window in the same order, close by."""
    where: dict[str, list[int]] = {}
    for i, t in enumerate(window):
        where.setdefault(t, []).append(i)
    pairs = [(a, b) for a, b in zip(claim, claim[1:]) if a != b]
    if not pairs:
        return 1.0
    hits = sum(any(0 < j - i <= reach for i in where.get(a, ()) for j in where.get(b, ()))
               for a, b in pairs)
    return hits / len(pairs)


def _role_swap(claim: str, window: str, names: dict[str, str]) -> bool:
    """Two names of the claim, both in the window, in the opposite order: "A beat B" against
    "B beat A". A passive paraphrase ("B was beaten by A") reverses them too, so callers treat
    this as a doubt, not a refutation."""
    found = [n for n in names]
    if len(found) < 2:
        return False
    wwords = [w.removesuffix("'s") for w in tx.words(_ACRONYM.sub(
        lambda m: m.group().replace(".", ""), window))]
    cwords = [w.removesuffix("'s") for w in tx.words(_ACRONYM.sub(
        lambda m: m.group().replace(".", ""), claim))]
    first_w = {w: i for i, w in reversed(list(enumerate(wwords)))}
    first_c = {w: i for i, w in reversed(list(enumerate(cwords)))}
    heads = [n.split()[0] for n in found if n]
    seq = sorted((first_c[n], first_w[n]) for n in heads if n in first_w and n in first_c)
    # names of one entity ("Lena Ortiz") sit together: compare entities, not their words
    groups: list[tuple[int, int]] = []
    for c, w in seq:
        if groups and c - groups[-1][0] <= 1 and abs(w - groups[-1][1]) <= 1:
            continue
        groups.append((c, w))
    return any(b[1] < a[1] for a, b in zip(groups, groups[1:]))


def _split(claim: str, passage: str, best: Window, claim_tokens: Tokens,
           names: dict[str, str], nums: dict[str, frozenset[str]]) -> bool:
    """The window spans sentences and no single one of them holds the claim's names and
    numbers with most of its other words: the claim may join facts the passage keeps apart."""
    if best.sentences == 1:
        return False
    cset = claim_tokens.set
    for s, e in sentence_spans(passage, best.start, best.end):
        text = passage[s:e]
        wset = word_set(text)
        if all(n in wset for n in names) and not missing_numbers(nums, text) \
                and _soft_recall(cset, tokens(text).set) >= 0.75:
            return False
    return True


@dataclass(frozen=True)
class Window:
    start: int
    end: int
    sentences: int
    tokens: Tokens


def windows(passage: str, spans: Sequence[tuple[int, int]] | None = None) -> list[Window]:
    """Every run of 1-3 consecutive passage sentences, with their tokens."""
    spans = list(spans) if spans is not None else (sentence_spans(passage) or [(0, len(passage))])
    toks = [tokens(passage[s:e]) for s, e in spans]
    out = []
    for i in range(len(spans)):
        for n in range(1, _MAX_WINDOW + 1):
            if i + n > len(spans):
                break
            terms = sum((t.terms for t in toks[i:i + n]), ())
            surface = sum((t.surface for t in toks[i:i + n]), ())
            out.append(Window(spans[i][0], spans[i + n - 1][1], n, Tokens(terms, surface)))
    return out


def _recall(claim: frozenset[str], other: frozenset[str]) -> float:
    return len(claim & other) / len(claim) if claim else 0.0


def _soft_recall(claim: frozenset[str], other: frozenset[str]) -> float:
    if not claim:
        return 0.0
    keys = {_soft(t) for t in other}
    return sum(t in other or _soft(t) in keys for t in claim) / len(claim)


def rank(claim: Tokens, wins: Sequence[Window]) -> list[tuple[float, Window]]:
    """Windows by how much of the claim they hold; a wider window must hold more to win."""
    cset = claim.set
    scored = []
    for w in wins:
        wset = w.tokens.set
        rec = _soft_recall(cset, wset)
        prec = len(cset & wset) / len(wset) if wset else 0.0
        scored.append((rec - 0.04 * (w.sentences - 1) + 0.01 * prec, w))
    scored.sort(key=lambda x: (-x[0], x[1].start))
    return scored


@dataclass(frozen=True)
class Analysis:
    """The lexical features of a claim against a passage, the best window, and what is missing."""

    values: dict[str, float]
    window: Window
    candidates: tuple[Window, ...]
    missing: tuple[str, ...]


def analyse(claim: str, passage: str, top: int = 3) -> Analysis:
    """Lexical features of `claim` against the best window of `passage` (see LEXICAL)."""
    ctoks = tokens(claim)
    cset = ctoks.set
    wins = windows(passage)
    ranked = rank(ctoks, wins)
    best = ranked[0][1]
    btext = passage[best.start:best.end]
    bset = best.tokens.set
    ptoks = frozenset(t for w in wins if w.sentences == 1 for t in w.tokens.terms) or bset
    single = max((_recall(cset, w.tokens.set) for w in wins if w.sentences == 1), default=0.0)
    fpassage, fwindow = word_set(passage), word_set(btext)
    names = claim_names(claim)
    name_out_p = [n for n in names if n not in fpassage]
    name_out_w = [n for n in names if n not in fwindow]
    nums = quantities(claim)
    num_out_p, num_out_w = missing_numbers(nums, passage), missing_numbers(nums, btext)
    cunits, punits = units(claim), units(passage)
    unit_bad = any(u and number in punits and punits[number] and not (u & punits[number])
                   for number, u in cunits.items())
    months_out = _months(claim) - _months(btext)
    cw = [w for w in tx.words(claim)]
    ww = list(tx.words(btext))
    unmatched = [t for t in dict.fromkeys(ctoks.terms) if t not in bset]
    keys = {_soft(t) for t in bset}
    soft_unmatched = [t for t in unmatched if _soft(t) not in keys]
    elsewhere = sum(t in ptoks for t in soft_unmatched)
    legacy_missing = bool(num_out_p) or any(
        n not in tx.fold(passage) for n in tx.names(claim))
    values_recall = _recall(cset, bset)
    values = {
        "recall_window": values_recall,
        "recall_sentence": single,
        "recall_passage": _recall(cset, ptoks),
        "soft_recall_window": _soft_recall(cset, bset),
        "precision_window": len(cset & bset) / len(bset) if bset else 0.0,
        "missing_window_log": math.log1p(len(soft_unmatched)),
        "missing_elsewhere": elsewhere / len(soft_unmatched) if soft_unmatched else 0.0,
        "name_missing_passage": len(name_out_p) / len(names) if names else 0.0,
        "name_missing_window": len(name_out_w) / len(names) if names else 0.0,
        "number_missing_passage": len(num_out_p) / len(nums) if nums else 0.0,
        "number_missing_window": len(num_out_w) / len(nums) if nums else 0.0,
        "unit_mismatch": float(unit_bad),
        "month_missing_window": float(bool(months_out)),
        "negation_mismatch": float(_flag(cw, NEGATIONS) != _flag(ww, NEGATIONS)),
        "modal_mismatch": float(_flag(cw, MODALS) != _flag(ww, MODALS)),
        "order_discordant": _order(ctoks.terms, best.tokens.terms),
        "bigram_recall": _bigrams(ctoks.terms, best.tokens.terms),
        "lcs_ratio": _lcs(ctoks.terms, best.tokens.terms) / len(ctoks.terms)
        if ctoks.terms else 0.0,
        "claim_terms_log": math.log1p(len(cset)),
        "window_sentences": float(best.sentences),
        "has_names": float(bool(names)),
        "has_numbers": float(bool(nums)),
        # the rule of the first citation check: a name or number the passage never states,
        # or less than half of the claim's terms in one place
        "claims_missing": float(legacy_missing),
        "overlap_pass": float(not legacy_missing and values_recall >= 0.5),
        "role_swap": float(_role_swap(claim, btext, names)),
        "split_support": float(_split(claim, passage, best, ctoks, names, nums)),
    }
    # The same mismatches where one passage sentence clearly is the claim's counterpart (it
    # states all the rest of the claim): then a missing name, reversed names or a flipped
    # negation is an edit of what the passage says, not a sign that support sits elsewhere.
    name_terms = {tx.stem(w) for n in names for w in n.split()}
    rest = frozenset(cset - name_terms)
    values.update(swap_name=0.0, swap_order=0.0, negation_flip=0.0)
    if len(rest) >= 2:
        rest_recall, twin = max(((_soft_recall(rest, w.tokens.set), w) for w in wins
                                 if w.sentences == 1), key=lambda r: (r[0], -r[1].start))
        if rest_recall >= 0.8:
            ttext = passage[twin.start:twin.end]
            twords = word_set(ttext)
            # a claim name missing here while this sentence names someone or somewhere the
            # claim does not: the claim moved the fact (a pronoun for the subject, the common
            # case when a name is missing, brings no other name)
            cwords = word_set(claim)
            others = [n for n in claim_names(ttext) if n not in cwords]
            values["swap_name"] = float(bool(others) and any(n not in twords for n in names))
            values["swap_order"] = float(_role_swap(claim, ttext, names))
            values["negation_flip"] = float(_flag(cw, NEGATIONS)
                                            != _flag(list(tx.words(ttext)), NEGATIONS))
    values["split_relation"] = float(bool(values["split_support"]) and values_recall >= 0.9
                                     and single < 0.7)
    # what the span does not state: names and numbers first, then other content words
    surface = dict(zip(ctoks.terms, ctoks.surface))
    missing = [names[n] for n in name_out_w]
    missing += sorted(num_out_w, key=claim.find)
    missing += [surface[t] for t in soft_unmatched
                if surface[t] not in names and not tx.numbers(surface[t])
                and not any(surface[t] in tx.fold(m) for m in missing)]
    return Analysis(values, best, tuple(w for _, w in ranked[:top]), tuple(missing))
