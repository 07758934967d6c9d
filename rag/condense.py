"""Follow-up questions: rewrite them into standalone questions using the conversation."""
from __future__ import annotations

import re
from collections.abc import Sequence

from core import text as tx

_PRONOUN = re.compile(r"\b(he|she|him|her|his|hers|they|them|their|its|these|those|the same)\b",
                      re.I)
_ELLIPSIS = re.compile(r"^\s*(and|what about|how about|and what about)\b[^?]{0,40}\??\s*$", re.I)


def needs_context(question: str) -> bool:
    """A question that leans on the conversation: pronouns, or a short elliptical follow-up."""
    return bool(_PRONOUN.search(question)) or bool(_ELLIPSIS.match(question)) \
        or len(tx.terms(question)) <= 1


def _subject(turn_question: str, turn_answer: str) -> list[str]:
    """Entities of the previous turn: names and numbers in its question, then in its answer."""
    picked: list[str] = []
    for text in (turn_question, turn_answer):
        for m in re.finditer(r"\b[A-Z][\w’'-]+(?:\s+[A-Z][\w’'-]+)*", text):
            phrase = m.group()
            first = phrase.split()[0].lower()
            if first in tx.STOPWORDS or first in tx.QUESTION_WORDS:
                phrase = " ".join(phrase.split()[1:])
            phrase = " ".join(w for w in phrase.split()
                              if w.lower() not in tx.WEEKDAYS and w.lower() not in tx.MONTHS)
            if phrase and phrase.lower() not in (p.lower() for p in picked):
                picked.append(phrase)
    return picked[:6]


def condense_heuristic(question: str, history: Sequence[tuple[str, str]]) -> str:
    """Without an LLM: carry the previous turn's entities and subject into the question."""
    question = question.strip()
    if not history or not needs_context(question):
        return question
    prev_q, prev_a = history[-1]
    entities = _subject(prev_q, re.sub(r"\[\d+\]", "", prev_a))
    carried = [e for e in entities if e.lower() not in question.lower()]
    # the earlier question's content words keep the topic when no names were found
    topic = [w for w in tx.words(prev_q) if w not in tx.STOPWORDS and w not in tx.QUESTION_WORDS]
    extra = " ".join(carried) if carried else " ".join(topic[:6])
    return f"{question} (context: {extra})" if extra else question
