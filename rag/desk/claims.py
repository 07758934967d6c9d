"""What each outlet says: the value each passage gives for a question, verified and grouped."""
from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from core import text as tx
from core.records import Citation, Claim, Hit
from rag.cite import check
from rag.desk.recency import without_recency
from rag.extractive import answer_type, score_sentences

# a cumulative count ("54 killed since the start of February", "a total of 1,709") is another
# claim than the count of one event, unless the question asks for a total
_CUMULATIVE = re.compile(r"\b(since the (start|beginning) of|since (early|late|mid-?)?\s*"
                         r"(january|february|march|april|may|june|july|august|september|"
                         r"october|november|december|the war)|a total of|in total|in all)\b",
                         re.IGNORECASE)
_TOTAL_QUESTION = re.compile(r"\b(since|total|in all|altogether|cumulative)\b", re.IGNORECASE)
_TOKEN = re.compile(r"\w+(?:[-'’,.]\w+)*", re.UNICODE)  # "1,709", "M4", "Thirty-three"
_DIGITS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
_PARTITIVE = {"of"}  # "one of the soldiers": a number that picks from a group, not a count
# share of the question's weighted terms a stating sentence covers; a sentence whose value
# stands next to a question word ("22 Turkish soldiers") may cover less
MIN_COVERAGE = 0.3
NEAR_COVERAGE = 0.2
NEAR = 2
MIN_SHARE = 0.4  # of the best sentence's score
MAX_GAP = 6  # words between a value and the nearest question word ("22 Turkish soldiers")


_COUNT_VERB = re.compile(r"\b(bring\w*|brought|rais\w*|ris\w*|rose|climb\w*|put|stood|"
                         r"number|toll|tally|count)\b", re.IGNORECASE)
_COUNT_WORDS = re.compile(r"\b(figure|number|toll|count|tally|total)\b", re.IGNORECASE)


def value_kind(question: str) -> str | None:
    """The kind of value a question asks for: "number" also for "the latest figure for ..."."""
    kind = answer_type(question)
    return "number" if kind is None and _COUNT_WORDS.search(question) else kind


@dataclass(frozen=True)
class Statement:
    """One sentence of one passage giving a value, with its verified citation (number 0)."""

    value: str
    sentence: str
    hit: Hit
    citation: Citation
    score: float
    coverage: float = 0.0

    @property
    def outlet(self) -> str:
        return outlet_name(self.hit)


def outlet_name(hit: Hit | Citation) -> str:
    """The outlet of a passage; an article with no outlet in its metadata goes by its title."""
    if hit.source:
        return hit.source
    title = hit.title.strip()
    return f'"{title[:60]}{"…" if len(title) > 60 else ""}"' if title else "unnamed outlet"


def _token_number(token: str, folded: str) -> str | None:
    """The number a whole token writes ("1,709" -> "1709", "Thirty-three" -> "33"), else None."""
    if _DIGITS.fullmatch(token):
        plain = token.replace(",", "")
        return f"{int(plain):,}" if plain.isdigit() else plain  # "900,000" as articles write it
    parts = [tx.NUMBER_WORDS.get(p) for p in folded.split("-")]
    if all(parts) and parts:
        return str(sum(int(p) for p in parts if p))
    return None


def _number_value(sentence: str, question: str, max_gap: int = MAX_GAP
                  ) -> tuple[str, int] | None:
    """The number in `sentence` closest to the question's terms, skipping dates, years,
    partitives ("one of the") and numbers the question itself gives."""
    tokens = [(m.group(), m.start()) for m in _TOKEN.finditer(sentence)]
    words = [tx.fold(t) for t, _ in tokens]
    q_terms = set(tx.terms(question))
    q_numbers = tx.numbers(question)
    anchors = [i for i, w in enumerate(words) if tx.stem(w) in q_terms]
    # "Turkish soldiers" in the question: "Syrian soldiers" in a sentence are others
    q_tokens = _TOKEN.findall(question)
    # a capitalised word before a question word, not the question's first word
    modifier = {tx.stem(tx.fold(b)): tx.fold(a)
                for k, (a, b) in enumerate(itertools.pairwise(q_tokens)) if a[:1].isupper() and k}
    best: tuple[int, int, str] | None = None
    for i, (tok, _) in enumerate(tokens):
        value = _token_number(tok, words[i])
        if value is None:
            continue
        near = {words[j] for j in (i - 1, i + 1) if 0 <= j < len(words)}
        if (value in q_numbers or near & set(tx.MONTHS) or re.fullmatch(r"(19|20)\d\d", value)
                or (i + 1 < len(words) and words[i + 1] in _PARTITIVE
                    and i + 2 < len(words) and words[i + 2] in {"the", "those", "them"})
                or (i + 1 < len(words) and words[i + 1] in {"am", "pm", "percent", "kilometres",
                                                            "km", "hours", "days", "weeks",
                                                            "months", "years", "minutes"}
                    and not q_terms & {tx.stem(words[i + 1])})):
            continue
        if any(abs(i - j) <= 3 and j > 0 and modifier.get(tx.stem(words[j]), words[j - 1])
               != words[j - 1] and tokens[j - 1][0][:1].isupper() for j in anchors):
            continue
        dist = min((abs(i - j) for j in anchors), default=99)
        if i > 0 and words[i - 1] in ("to", "at") and _COUNT_VERB.search(sentence):
            dist = min(dist, 1)  # "bringing the number of ... to 34", "put the toll at nine"
        if dist <= max_gap and (best is None or dist < best[0]):
            best = (dist, i, value)
    return (best[2], best[0]) if best else None


def _name_value(sentence: str, question: str) -> str | None:
    """The first proper name the sentence gives that the question does not."""
    given = tx.names(question) | set(tx.words(question))
    for m in re.finditer(r"\b[A-Z][\w’'-]*(?:\s+(?:al-|de |of )?[A-Z][\w’'-]*)*", sentence):
        if m.start() == 0:
            continue
        words = [tx.fold(w) for w in m.group().split()]
        if not any(w in given or w in tx.MONTHS or w in tx.WEEKDAYS for w in words):
            return m.group()
    return None


def statements(question: str, hits: Sequence[Hit], limit: int = 12) -> list[Statement]:
    """The sentences of the hits that answer the question with a value, best first, one per
    article and value, each checked against its passage (the citation is a verified span)."""
    question = without_recency(question)
    kind = value_kind(question)
    ranked = score_sentences(question, hits)
    if not ranked or kind in (None, "date"):
        return []
    top = next((c.score for c in ranked if c.typed), ranked[0].score)
    total_q = bool(_TOTAL_QUESTION.search(question))
    seen: set[tuple[str, str]] = set()
    out: list[Statement] = []
    for cand in ranked:
        if len(out) >= limit or cand.score < top * MIN_SHARE:
            break
        if cand.coverage < NEAR_COVERAGE or not cand.typed:
            continue
        if not total_q and _CUMULATIVE.search(cand.text):
            continue
        if kind == "number":
            found = _number_value(cand.text, question)
            value = found[0] if found and (cand.coverage >= MIN_COVERAGE
                                           or found[1] <= NEAR) else None
        else:
            value = (_name_value(cand.text, question) if cand.coverage >= MIN_COVERAGE
                     else None)
        hit = hits[cand.hit_index]
        if value is None or (hit.article_id, value) in seen:
            continue
        sup = check(cand.text, hit)
        if not sup.ok:
            continue
        seen.add((hit.article_id, value))
        citation = Citation(
            number=0, article_id=hit.article_id, title=hit.title, chunk_id=hit.chunk_id,
            quote=hit.text[sup.start:sup.end], start=hit.start + sup.start,
            end=hit.start + sup.end, source=hit.source, published=hit.published, url=hit.url,
            score=round(sup.score, 3))
        out.append(Statement(value, cand.text, hit, citation, cand.score, cand.coverage))
    return out


def number_citations(found: Sequence[Statement], citations: Sequence[Citation]
                     ) -> tuple[list[Citation], dict[int, int]]:
    """`citations` with the statements' citations added (an identical span keeps its number),
    and each statement's citation number by its index in `found`."""
    out = list(citations)
    by_span = {(c.article_id, c.start, c.end): c.number for c in out}
    numbers: dict[int, int] = {}
    for k, st in enumerate(found):
        c = st.citation
        key = (c.article_id, c.start, c.end)
        if key not in by_span:
            by_span[key] = len(out) + 1
            out.append(Citation(**{**c.__dict__, "number": by_span[key]}))
        numbers[k] = by_span[key]
    return out, numbers


def group(found: Sequence[Statement], numbers: dict[int, int]) -> list[Claim]:
    """One `Claim` per value: its outlets (each once, syndicated copies as `also_in`), its
    citations and dates; the value most outlets give first, then the newest."""
    by_value: dict[str, list[int]] = {}
    for k, st in enumerate(found):
        by_value.setdefault(st.value, []).append(k)
    claims = []
    for value, ks in by_value.items():
        outlets: list[str] = []
        also: list[str] = []
        for k in ks:
            name = found[k].outlet
            if name not in outlets:
                outlets.append(name)
            also.extend(o for o in found[k].hit.also_in if o not in also)
        also = [o for o in also if o not in outlets]
        dates = sorted(d for k in ks if (d := found[k].hit.published))
        cites = tuple(dict.fromkeys(numbers[k] for k in ks))
        claims.append(Claim(value, tuple(outlets), cites, dates[0] if dates else None,
                            dates[-1] if dates else None, tuple(also)))
    claims.sort(key=lambda c: (-len(c.outlets) - len(c.also_in), _neg(c.last_published)))
    return claims


def _neg(date: str | None) -> str:
    """A sort key putting newer ISO dates first (undated last)."""
    if not date:
        return "~"
    return "".join(chr(ord("9") - ord(ch) + ord("0")) if ch.isdigit() else ch for ch in date)


def history(claims: Sequence[Claim]) -> list[Claim]:
    """The dated claims, newest first (by the latest article stating each value)."""
    return sorted((c for c in claims if c.last_published), key=lambda c: _neg(c.last_published))
