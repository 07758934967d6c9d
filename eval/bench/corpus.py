"""Deterministic synthetic news corpora and questions for the benchmark, built from the sample corpus."""
from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from eval.dataset import ROOT

SAMPLE = ROOT / "eval" / "corpus" / "sample"
GOLD = ROOT / "eval" / "gold" / "sample.jsonl"
OUTLETS = ("Northern Dispatch", "Anatolia Wire Review", "Bosphorus Evening Post",
           "Continental Herald", "Levant Ledger", "Tidewater Science Review", "Touchline Weekly",
           "Harbour Gazette", "Plains Courier", "Meridian Times", "Eastern Star", "Valley Record")
_NUMBER = re.compile(r"\b\d+\b")
_NAME = re.compile(r"(?<=[a-z,] )[A-Z][a-z]{3,}\b")
_KEEP = frozenset("january february march april may june july august september october november "
                  "december monday tuesday wednesday thursday friday saturday sunday".split())
_SYLLABLES = ("ka", "ro", "vel", "dan", "mi", "tor", "sa", "lin", "bar", "es", "ul", "qen",
              "ari", "mon", "zet", "hal", "pir", "do", "nev", "cas")


@dataclass(frozen=True)
class Sentence:
    text: str
    pool: int  # index of the sample sentence it was made from (for composed vectors)


@dataclass(frozen=True)
class SynthArticle:
    """One generated article: paragraphs of sentences, with the metadata the loader reads."""

    name: str
    title: str
    source: str
    published: str
    paragraphs: tuple[tuple[Sentence, ...], ...]

    @property
    def text(self) -> str:
        return "\n\n".join(" ".join(s.text for s in p) for p in self.paragraphs)

    def sentence_offsets(self) -> list[tuple[int, int, int]]:
        """(start, end, pool index) of every sentence in `text`."""
        out, pos = [], 0
        for p in self.paragraphs:
            for n, s in enumerate(p):
                if n:
                    pos += 1
                out.append((pos, pos + len(s.text), s.pool))
                pos += len(s.text)
            pos += 2
        return out

    def to_json(self) -> str:
        return json.dumps({"title": self.title, "source": self.source,
                           "published": self.published,
                           "url": f"https://news.example/{self.name}", "text": self.text})


def sentence_pool(corpus: Path = SAMPLE) -> list[str]:
    """Every sentence of the sample corpus, in a fixed order."""
    from core.records import Article
    from core.text import sentence_spans
    from index.load import load_paths

    articles = sorted((a for a in load_paths([corpus]) if isinstance(a, Article)),
                      key=lambda a: a.id)
    pool: list[str] = []
    for a in articles:
        pool.extend(a.text[s:e] for s, e in sentence_spans(a.text))
    return [s for s in dict.fromkeys(pool) if len(s) > 20]


class Generator:
    """Recombines sample sentences into new articles (seeded): new ids, titles, dates, outlets,
    and a long tail of made-up names and numbers so term statistics look like a real archive."""

    def __init__(self, seed: int = 13, pool: list[str] | None = None) -> None:
        self.seed = seed
        self.pool = pool if pool is not None else sentence_pool()
        rng = random.Random(seed)
        self.names = sorted({"".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))
                             .capitalize() for _ in range(40_000)})

    def _mutate(self, rng: random.Random, text: str, names: dict[str, str]) -> str:
        if rng.random() < 0.5:
            text = _NUMBER.sub(lambda m: str(rng.randint(2, 5000)) if rng.random() < 0.5
                               else m.group(), text)

        def name(m: re.Match[str]) -> str:
            word = m.group()
            if word.lower() in _KEEP:
                return word
            if word not in names:
                # Zipf-like: a few names are everywhere, most are rare
                names[word] = (self.names[int(len(self.names) * rng.random() ** 3)]
                               if rng.random() < 0.35 else word)
            return names[word]

        return _NAME.sub(name, text)

    def article(self, n: int) -> SynthArticle:
        rng = random.Random(f"{self.seed}:{n}")
        names: dict[str, str] = {}
        count = rng.randint(14, 34)
        picks = [rng.randrange(len(self.pool)) for _ in range(count)]
        sentences = [Sentence(self._mutate(rng, self.pool[i], names), i) for i in picks]
        paragraphs, i = [], 0
        while i < len(sentences):
            size = rng.randint(1, 4)
            paragraphs.append(tuple(sentences[i:i + size]))
            i += size
        words = sentences[0].text.rstrip(".").split()
        title = " ".join(words[:rng.randint(6, 11)]).rstrip(",;:") + f" ({n})"
        day = 18_000 + rng.randrange(900)  # days since 1970: 2019-04 .. 2021-09
        import datetime as dt
        published = (dt.date(1970, 1, 1) + dt.timedelta(days=day)).isoformat()
        return SynthArticle(name=f"a{n:07d}", title=title, source=rng.choice(OUTLETS),
                            published=published, paragraphs=tuple(paragraphs))

    def articles(self, start: int = 0) -> Iterator[SynthArticle]:
        n = start
        while True:
            yield self.article(n)
            n += 1

    @staticmethod
    def changed(article: SynthArticle) -> SynthArticle:
        """The same article with one sentence rewritten (a correction)."""
        first = article.paragraphs[0]
        fixed = Sentence(first[0].text.rstrip(".") + ", officials said on Monday.", first[0].pool)
        return SynthArticle(article.name, article.title, article.source, article.published,
                            ((fixed, *first[1:]), *article.paragraphs[1:]))


def estimate_chunks(article: SynthArticle, chunk_chars: int = 700, overlap: int = 1) -> int:
    from index.chunk import chunk_spans
    return len(chunk_spans(article.text, chunk_chars, overlap))


def write_corpus(folder: Path, chunks: int, seed: int = 13,
                 generator: Generator | None = None) -> list[SynthArticle]:
    """Write articles as .json files (100 per subfolder) until about `chunks` chunks."""
    gen = generator or Generator(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out: list[SynthArticle] = []
    total = 0
    for article in gen.articles():
        if total >= chunks:
            break
        out.append(article)
        total += estimate_chunks(article)
        sub = folder / f"{len(out) // 100:04d}"
        sub.mkdir(exist_ok=True)
        (sub / f"{article.name}.json").write_text(article.to_json(), encoding="utf-8")
    return out


def change_corpus(folder: Path, articles: list[SynthArticle], fraction: float = 0.01,
                  seed: int = 13) -> list[str]:
    """Rewrite `fraction` of the articles in place; returns their names."""
    rng = random.Random(f"{seed}:changed")
    picked = sorted(rng.sample(range(len(articles)), max(1, round(len(articles) * fraction))))
    for i in picked:
        article = Generator.changed(articles[i])
        (folder / f"{(i + 1) // 100:04d}" / f"{article.name}.json").write_text(
            article.to_json(), encoding="utf-8")
    return [articles[i].name for i in picked]


def questions(n: int = 200, seed: int = 13, pool: list[str] | None = None) -> list[str]:
    """The sample gold questions, then questions made from pool sentences, `n` in all."""
    rows = [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    out = [r["question"] for r in rows if isinstance(r, dict) and r.get("question")]
    pool = pool if pool is not None else sentence_pool()
    rng = random.Random(f"{seed}:questions")
    openers = ("What did officials say about", "What is known about", "Which report described",
               "How many were involved in", "Who commented on")
    while len(out) < n:
        words = [w.strip(".,;:\"“”") for w in rng.choice(pool).split()]
        words = [w for w in words if w]
        start = rng.randrange(max(1, len(words) - 6))
        out.append(f"{rng.choice(openers)} {' '.join(words[start:start + rng.randint(3, 6)])}?")
    return out[:n]
