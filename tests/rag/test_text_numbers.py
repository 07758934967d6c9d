"""The digit-first number pattern finds exactly what the plain lookbehind-first one does."""
from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from core import text as tx

PLAIN = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\w])"
                   r"|(?<![\w.])\d+(?:\.\d+)?(?![\w])")


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet="0123456789,. aé_x\n-", max_size=24))
def test_same_matches_as_the_plain_pattern(text: str) -> None:
    assert [m.span() for m in tx._NUMBER.finditer(text)] == \
        [m.span() for m in PLAIN.finditer(text)]


def test_examples() -> None:
    assert tx.numbers("1,709 people, 4.5 percent, 33rd, v2.1, x9 and 12 more; nine") == \
        {"1709", "4.5", "12", "9"}
