"""atheris harness: arbitrary draft answers and passages through the citation checker."""
from __future__ import annotations

import re
import sys

import atheris

with atheris.instrument_imports(include=["rag.cite", "core.text", "index.chunk"]):
    from rag.cite import finalize, is_refusal, parse
    from core.records import Hit

MARKER = re.compile(r"\[(\d{1,3})\]")
WORDS = ("Turkish", "soldiers", "33", "killed", "Idlib", "governor", "Rahmi Dogan", "said",
         "[1]", "[2]", "[3]", "[1, 2]", "【2】", "[^1]", "[Passage 3]", ".", "?", "\n", " ",
         "Mr.", "U.S.", "1,000", "Feb. 27", "\"", "…", "<b>", "the", "of", "in")


def _text(fdp: atheris.FuzzedDataProvider, limit: int) -> str:
    """Mostly news-like words (so checks get past the first test), sometimes raw unicode."""
    if fdp.ConsumeBool():
        return fdp.ConsumeUnicodeNoSurrogates(limit)
    n = fdp.ConsumeIntInRange(0, limit // 4)
    return " ".join(WORDS[fdp.ConsumeIntInRange(0, len(WORDS) - 1)] for _ in range(n))


def check(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    hits = []
    for n in range(fdp.ConsumeIntInRange(0, 4)):
        text = _text(fdp, 400)
        start = fdp.ConsumeIntInRange(0, 5000)
        hits.append(Hit(chunk_id=f"a{n}-c", article_id=f"a{n}", title="T", text=text,
                        start=start, end=start + len(text), score=1.0))
    draft = _text(fdp, 600)
    parse(draft)
    is_refusal(draft)
    mode = "remove" if fdp.ConsumeBool() else "mark"
    checked = finalize(draft, hits, None, mode)
    numbers = [c.number for c in checked.citations]
    assert numbers == list(range(1, len(numbers) + 1)), numbers
    for c in checked.citations:
        hit = next(h for h in hits if h.chunk_id == c.chunk_id)
        assert hit.start <= c.start <= c.end <= hit.end, "span outside the passage"
        assert hit.text[c.start - hit.start:c.end - hit.start] == c.quote, "quote mismatch"
    cited = {int(n) for n in MARKER.findall(checked.text)}
    assert cited <= set(numbers) | {int(n) for s in checked.sentences for n in
                                    MARKER.findall(s.text)}, "marker without a citation"
    for s in checked.sentences:
        assert checked.text[s.start:s.end].startswith(s.text), "sentence span"
        assert set(s.citations) <= set(numbers)


def main() -> None:
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
