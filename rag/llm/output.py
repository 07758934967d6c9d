"""Reading model output: the answer gate, the yes/no pre-check margin, condensed questions."""
from __future__ import annotations

import math
import re
from collections.abc import Sequence

from core.records import REFUSAL

_LETTER = re.compile(r"[^\W\d_]")


def _norm(text: str) -> str:
    return " ".join(text.lower().replace("’", "'").split())


_REFUSAL_NORM = _norm(REFUSAL)
_REFUSAL_CORE = _REFUSAL_NORM.rstrip(".")
# the refusal's first six words: once the model has written them (and the seventh still
# follows the refusal) it is refusing; stopping there saves the rest of the sentence
_REFUSAL_HEAD = _REFUSAL_NORM.split()[:6]


_MARKER = re.compile(r"\[\d+\]")
# what a model says instead of the exact refusal sentence (only trusted without a citation)
_REFUSAL_LIKE = re.compile(
    r"\b(?:(?:do|does|did) not (?:contain|mention|say|state|provide|specify|include|give)"
    r"|(?:is|are|was|were) not (?:mentioned|stated|specified|provided|given|reported|known)"
    r"|no (?:information|mention|details?)"
    r"|(?:cannot|can't|can not|unable to) (?:answer|determine|find|tell)"
    r"|(?:don't|do not) know|not enough information)\b", re.IGNORECASE)
_HOLD_LIMIT = 300  # characters: past this, an answer without a citation streams anyway
# How refusals open ("The passages do not...", "I cannot...", "There is no..."). An answer
# is held only while its first words could still be one of these; anything else streams at
# once. (A sentence's first [n] comes about 15 tokens after its first word, and waiting for
# it made the web chat look idle that much longer.)
_REFUSAL_OPENINGS = tuple(opening.split() for opening in (
    "the articles", "the article", "the passages", "the passage", "the provided",
    "the given", "the text", "the information", "the context", "i", "there", "no", "none",
    "not", "nothing", "unfortunately", "sorry", "based on", "according to"))
_WORD = re.compile(r"[^\W_]+")


def _words(text: str) -> tuple[list[str], bool]:
    """The lower-cased words of `text`, and whether the last one may still be growing."""
    return _WORD.findall(text.lower()), bool(_WORD.search(text[-1:]))


def may_open_refusal(text: str) -> bool:
    """True while the start of an answer is, or could still grow into, a refusal opening."""
    words, growing = _words(text)
    for opening in _REFUSAL_OPENINGS:
        for j, word in enumerate(words[: len(opening)]):
            last = growing and j == len(words) - 1
            if not (opening[j].startswith(word) if last else word == opening[j]):
                break
        else:
            return True
    return False


def _refusal_under_way(held: str) -> bool:
    """The (normalised) held text has the refusal's first six words and a seventh begun."""
    words = held.split()
    return len(words) > len(_REFUSAL_HEAD) and words[: len(_REFUSAL_HEAD)] == _REFUSAL_HEAD


class AnswerGate:
    """Filters a model's streamed answer text before the caller sees it.

    Text is held back until the first citation marker `[n]` appears, or until its first words
    can no longer open a refusal ("Rahmi" streams at once, "The" waits for its next word), so
    that: a refusal comes out exactly as `REFUSAL` (and generation can stop there); a
    citation-free "The passages do not say" reply is recognised as a refusal too; and a bare
    "[2]" or punctuation never reaches the caller. What passes is a draft: a sentence released early
    can still turn out unsupported ("The pilot's name is not given."), and the citation
    checker, not the gate, has the last word on it. Feed pieces with `feed`, then call
    `finish`. `done` turns true once the model has refused.
    """

    def __init__(self) -> None:
        self._held = ""
        self._open = False
        self.done = False
        self.refused = False
        self.emitted = ""

    def _emit(self, text: str) -> list[str]:
        self.emitted += text
        return [text] if text else []

    def _refuse(self) -> list[str]:
        self.done = self.refused = True
        self._held = ""
        return self._emit(REFUSAL)

    def feed(self, piece: str) -> list[str]:
        if self.done:
            return []
        if self._open:
            return self._emit(piece)
        self._held += piece
        held = _norm(self._held)
        if held.startswith(_REFUSAL_CORE) or (
                _refusal_under_way(held) and _REFUSAL_NORM.startswith(held)):
            return self._refuse()
        if _REFUSAL_NORM.startswith(held):
            return []
        if (_MARKER.search(self._held) and _LETTER.search(self._held)) \
                or len(self._held) > _HOLD_LIMIT or self._plainly_an_answer():
            self._open = True
            text, self._held = self._held.lstrip(), ""
            return self._emit(text)
        return []

    def _plainly_an_answer(self) -> bool:
        """The held text has a letter, no "[", nothing that reads as a refusal, and could no
        longer grow into a refusal opening."""
        text = self._held.lstrip()
        return bool(_LETTER.search(text)) and "[" not in text \
            and not _REFUSAL_LIKE.search(text) and not may_open_refusal(text)

    def finish(self) -> list[str]:
        """Flush what is held; raise ValueError if the whole answer had no letters."""
        if self.done or self._open:
            return []
        held = self._held.strip()
        if not _LETTER.search(held):
            raise ValueError("no usable text")
        norm = _norm(held)
        if (len(norm) > 20 and _REFUSAL_NORM.startswith(norm)) or (
                not _MARKER.search(held) and _REFUSAL_LIKE.search(held)):
            return self._refuse()
        self._held = ""
        self._open = True
        return self._emit(held)


def yes_no_margin(top_logprobs: Sequence[tuple[str, float]]) -> float | None:
    """log P(yes) - log P(no) from a first token's top log-probabilities (None if unusable).

    A side missing from the top list is bounded by the smallest listed log-probability.
    """
    yes: list[float] = []
    no: list[float] = []
    for token, logprob in top_logprobs:
        word = token.strip().lower().rstrip(".")
        if word == "yes":
            yes.append(logprob)
        elif word == "no":
            no.append(logprob)
    if not yes and not no:
        return None
    floor = min(lp for _t, lp in top_logprobs)

    def total(lps: list[float]) -> float:
        return math.log(sum(math.exp(lp) for lp in lps)) if lps else floor

    return total(yes) - total(no)


_CONDENSE_PREFIX = re.compile(r"^(standalone question|rewritten question|question)\s*:\s*",
                              re.IGNORECASE)


def clean_condensed(text: str, fallback: str) -> str:
    """First non-empty line of the model's rewrite, unquoted; `fallback` if it is unusable."""
    for line in text.splitlines():
        line = _CONDENSE_PREFIX.sub("", line.strip()).strip().strip('"“”\'`').strip()
        if line:
            if not re.search(r"[^\W\d_]", line) or len(line) > 4 * max(len(fallback), 100):
                return fallback
            return line
    return fallback
