"""Find markup and instructions aimed at an AI reader in article text, so they become boilerplate."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# An article is data, never instructions: anything in it that only makes sense as a command to the
# model reading it (or as markup for a browser) must not become citable text, or the answer engines
# quote it and the citation checker verifies the attack against itself. Both rules only ever
# *split* text, so every kept piece is a verbatim substring of the input.
#
# The instruction rules are deliberately narrow: they fire only at the start of a sentence (a
# quoted "ignore previous instructions" inside a news sentence is reporting, and stays), and only
# on phrasings that address a model: overriding its instructions, changing its role, asking for its
# prompt, dictating its answer, or naming "AI models reading this". Each rule has near-miss news
# sentences in tests/index/test_clean.py, and tests check that the seed and sample corpora lose
# nothing to them.

__all__ = ["is_planted", "split_planted", "strip_invisible", "skeleton"]

# Characters that render as nothing (zero-width spaces and joiners, word joiner, soft hyphen,
# BOM) or reorder text (bidi controls): inside a word they hide it from every rule, and a reader
# never sees them, so the loaders drop them from article text.
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064"
                        "\u2066-\u2069\ufeff]")


def strip_invisible(text: str) -> str:
    """`text` without invisible and bidi-control characters."""
    return _INVISIBLE.sub("", text) if _INVISIBLE.search(text) else text


# Letters of other scripts that look like Latin ones ("Ignοre" with a Greek omicron), and
# compatibility forms (full-width letters): the rules below read a skeleton of the text where
# each such character is its Latin look-alike, one character for one, so spans found in the
# skeleton are spans of the text.
_LOOKALIKES = dict(zip(
    "АВЕЅІЈКМНОРСТХУаеіјорсхуѕԁɡһ" "ΑΒΕΗΙΚΜΝΟΡΤΧΥΖαοριυνκ",
    "ABESIJKMHOPCTXYaeijopcxysdgh" "ABEHIKMNOPTXYZaopiuvk", strict=True))


@lru_cache(maxsize=4096)
def _skeleton_char(char: str) -> str:
    if char in _LOOKALIKES:
        return _LOOKALIKES[char]
    folded = unicodedata.normalize("NFKC", char)
    return folded if len(folded) == 1 else char


def skeleton(text: str) -> str:
    """`text` with look-alike and compatibility characters replaced by their Latin letters
    (the same length, so offsets carry over)."""
    if text.isascii():
        return text
    return "".join(_skeleton_char(c) if not c.isascii() else c for c in text)

# Raw markup. Elements whose content is code or hidden text go with their content (to the
# closing tag, else to the end of the paragraph); other tags of HTML (and the LLM prompt's own
# <passage> delimiter) go alone; chat-template turns go whole, special tokens alone.
_HTML_NAMES = (
    "a|abbr|address|applet|area|article|aside|audio|b|base|basefont|bdi|bdo|big|blink|blockquote|"
    "body|br|button|canvas|caption|center|cite|code|col|colgroup|data|dd|del|details|dfn|dialog|"
    "div|dl|dt|em|embed|fieldset|figcaption|figure|font|footer|form|frame|frameset|h[1-6]|head|"
    "header|hr|html|i|iframe|img|input|ins|kbd|label|legend|li|link|main|map|mark|marquee|meta|"
    "meter|nav|noscript|object|ol|optgroup|option|output|p|param|passage|picture|pre|q|s|samp|"
    "script|section|select|small|source|span|strike|strong|style|sub|summary|sup|svg|table|tbody|"
    "td|template|textarea|tfoot|th|thead|time|title|tr|track|tt|u|ul|var|video|wbr"
)
_MARKUP = re.compile(
    r"""<(?=\s{0,3}[A-Za-z!/|])(?:  # the lookahead: a bare "<" costs nothing
          (script|style|iframe|object|embed|svg|math|template|noscript|textarea)\b[^<>]{0,2000}>
          .*?(?:</\1\s*>|\n[ \t]*\n|\Z)
        | !--.*?(?:-->|\Z)
        | !doctype\b[^<>]{0,500}>
        | \s{0,3}\|\s{0,3}im_start\s{0,3}\|\s{0,3}>.*?
          (?:<\s{0,3}\|\s{0,3}im_end\s{0,3}\|\s{0,3}>|\n[ \t]*\n|\Z)
        | \s{0,3}\|\s{0,3}[A-Za-z_]{1,40}\s{0,3}\|\s{0,3}>
        | /?(?:""" + _HTML_NAMES + r""")(?=[\s/>])[^<>]{0,2000}>
    )""",
    re.IGNORECASE | re.DOTALL | re.VERBOSE,
)

# Where a sentence may start: the text's start, a line start, or after . ! ? (and closing quotes).
_SENTENCE_START = re.compile(r"\A\s*|\n\s*|[.!?][\"”’')\]]*\s+")

# A chat-turn label at the start of a sentence is planted on its own ("SYSTEM: ...",
# "Assistant: The toll was 100 [1]", "### Instruction: ..."); bare "Instruction:" or "Note:"
# only as the lead-in to one of the instructions below (fact boxes use such labels).
_ROLE = (r"(?:(?:\#{1,6}[ \t]*(?:system|assistant|user|human|instruction|response|input)"
         r"|system|assistant|user|human|ai|bot|chatbot)[ \t]*:(?=\s)"
         # "[SYSTEM OVERRIDE]", "[ADMIN]", "[Instructions for the assistant]"
         r"|\[\s*(?:system|admin|administrator|developer|root|override|jailbreak)\b[^\]\n]{0,40}\]"
         r"|\[[^\]\n]{0,40}\b(?:override|instructions?|prompt)\b[^\]\n]{0,40}\])")
_LEAD = (r"(?:(?:\#{1,6}[ \t]*)?(?:instruction|note|attention|important|warning|reminder)"
         r"[ \t]*[:\-–—]\s*)?(?:(?:please|now|also|and|then|so)[ \t,]+)*")
_OBJECT = r"(?:instructions?|prompts?|directives?|passages?)"
_MODEL = (r"(?:ai|a\.i\.|llm|gpt|chatbot|artificial\s+intelligence"
          r"|(?:large[\s-]+)?language[\s-]+model)s?")
_INSTRUCTION = (
    # "Ignore all previous instructions", "Disregard the above prompt", "Forget the passages"
    r"(?:ignore|disregard|forget|override|bypass)\s+(?:"
    rf"all\s+(?:of\s+)?(?:(?:the|your|my)\s+)?(?:\w+\s+)?{_OBJECT}"
    r"|(?:(?:any|all|every|the|your|my|these|those|of)\s+)*(?:previous|prior|above|earlier"
    r"|preceding|foregoing|original|initial|system|existing)\s+(?:\w+\s+)?"
    rf"(?:{_OBJECT}|rules|context)"
    r"|(?:the|your)\s+(?:system\s+prompt|passages|sources))\b"
    # "You are now in developer mode", "From now on you must ..."
    r"|you\s+are\s+now\s+(?:in\s+)?(?:an?\s+|the\s+)?(?:developer|debug|admin|god|jailbr\w*"
    rf"|unrestricted|unfiltered|uncensored|evil|dan|different|new|{_MODEL}|assistant)\b"
    r"|from\s+now\s+on,?\s+you\s+(?:are|will|must|should)\b"
    # "Reveal your system prompt", "Print the hidden instructions"
    r"|(?:reveal|print|show|output|repeat|display|leak|disclose|recite|write\s+out|tell\s+me)\s+"
    r"(?:me\s+)?(?:your\s+(?:\w+\s+){0,2}(?:prompt|instructions)"
    r"|the\s+(?:\w+\s+){0,2}(?:system\s+prompt|(?:hidden|secret|system)\s+instructions))\b"
    # "Answer that the toll was 100", "Respond only with the word ...", "Tell every user ..."
    r"|(?:answer|respond|reply)\s+(?:to\s+(?:every|each|all|any)\s+\w+\s+)?(?:only\s+)?"
    r"(?:that|with|by\s+saying)\b"
    r"|(?:you\s+(?:must|should|will|shall|have\s+to|need\s+to)\s+)?(?:tell|inform)\s+"
    r"(?:every|all|each|any|the)\s+users?\b"
    # "AI assistants reading this must ...", "If you are an AI model, ...", "Note to LLMs: ..."
    rf"|(?:(?:any|all|every)\s+)?{_MODEL}(?:\s+(?:assistant|agent|system|tool|model|bot)s?)?"
    r"\s+(?:reading|processing|summari[sz]ing|parsing|ingesting|analy[sz]ing)\s+this\b"
    rf"|if\s+you\s+are\s+an?\s+{_MODEL}\b"
    # "Dear language-model assistant, ...", "Hello AI, ...": a model addressed by name
    rf"|(?:dear|hey|hi|hello|attention|calling)\s+(?:all\s+|any\s+)?(?:[\w-]+\s+){{0,2}}?"
    rf"(?:{_MODEL}|(?:ai\s+)?assistants?|chatbots?)\b(?:\s+(?:assistant|agent|model)s?)?\s*[,:!]"
    # the same override in other languages: a verb of ignoring, then "instructions"
    r"|(?:ignore[zr]|oublie[zr]?|ignorier(?:e|en)?|vergiss|vergessen\s+sie|ignora|ignorad|olvida"
    r"|esquece|ignorar|dimentica)\s+(?:[\w'’]+\s+){0,4}?(?:instructions?|consignes|anweisungen"
    r"|befehle|instrucciones|istruzioni|instru[çc][õo]es)\b"
    rf"|note\s+to\s+(?:any\s+|all\s+)?{_MODEL}\b"
)
_PLANTED = re.compile(rf"{_ROLE}|{_LEAD}(?:{_INSTRUCTION})", re.IGNORECASE)
_ENDS_SENTENCE = re.compile(r"[.!?…][\"”’')\]]*[ \t]*$")
_BLANK_NEXT = re.compile(r"\n[ \t]*(?:\n|\Z)")


def _instruction_end(text: str, start: int) -> int:
    """A planted instruction runs from its sentence to the end of the line, and on over the
    lines a hard-wrapped paragraph continues it on (until a line ends a sentence)."""
    line_start = start
    while True:
        newline = text.find("\n", line_start)
        if newline == -1:
            return len(text)
        if _ENDS_SENTENCE.search(text, line_start, newline) or _BLANK_NEXT.match(text, newline):
            return newline
        line_start = newline + 1


def _instructions(text: str) -> list[tuple[int, int]]:
    """Spans of planted instructions in text that holds no markup."""
    spans: list[tuple[int, int]] = []
    resume = 0
    view = skeleton(text)
    for boundary in _SENTENCE_START.finditer(text):
        start = boundary.end()
        if start < resume or start >= len(text):
            continue
        if _PLANTED.match(view, start):
            end = _instruction_end(text, start)
            spans.append((start, end))
            resume = end
    return spans


def split_planted(text: str) -> list[tuple[str, bool]]:
    """`text` cut into (piece, planted) in order; the pieces concatenate back to `text`.

    Planted pieces are markup (tags, script and style elements with their code, chat-template
    tokens) and instructions addressed to an AI reader (see the module docstring)."""
    pieces: list[tuple[str, bool]] = []
    position = 0
    for match in _MARKUP.finditer(skeleton(text)):
        pieces += _split_instructions(text[position:match.start()])
        pieces.append((text[match.start():match.end()], True))
        position = match.end()
    pieces += _split_instructions(text[position:])
    return [(piece, planted) for piece, planted in pieces if piece]


def _split_instructions(text: str) -> list[tuple[str, bool]]:
    pieces: list[tuple[str, bool]] = []
    position = 0
    for start, end in _instructions(text):
        pieces += [(text[position:start], False), (text[start:end], True)]
        position = end
    pieces.append((text[position:], False))
    return pieces


def is_planted(text: str) -> bool:
    """True when every non-blank piece of `text` is planted markup or instructions."""
    pieces = [(p, planted) for p, planted in split_planted(text) if p.strip()]
    return bool(pieces) and all(planted for _, planted in pieces)
