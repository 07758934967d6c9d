"""Load and validate the gold question sets (JSON Lines) and locate their quotes in articles."""
from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.records import Article

logger = logging.getLogger(__name__)

TYPES = ("factoid", "multi", "unanswerable", "conversation")
ROOT = Path(__file__).resolve().parents[1]
GOLD_DIR = ROOT / "eval" / "gold"
SAMPLE_CORPUS = ROOT / "eval" / "corpus" / "sample"
SEEDS_CORPUS = (ROOT / ".." / "shared" / "corpus" / "seeds").resolve()
# the corpus each shipped gold file is written over, by file stem
DEFAULT_CORPORA: dict[str, Path] = {"seeds": SEEDS_CORPUS, "sample": SAMPLE_CORPUS}
# articles added as distractors by `--noise`, by gold file stem
DISTRACTORS: dict[str, Path] = {"seeds": SAMPLE_CORPUS}


class DatasetError(ValueError):
    """A gold file that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Support:
    """Evidence for an answer: an exact quote from one article (file name, or 'file.jsonl#N')."""

    article: str
    quote: str


@dataclass(frozen=True)
class Turn:
    """One question with its acceptable answers (empty = should be refused) and evidence."""

    question: str
    answers: tuple[str, ...]
    support: tuple[Support, ...]

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


@dataclass(frozen=True)
class Item:
    """A gold item: a single question (one turn) or a conversation (several turns)."""

    id: str
    type: str
    turns: tuple[Turn, ...]
    line: int = 0


@dataclass(frozen=True)
class Dataset:
    """A gold file: its name (file stem), path and items in file order."""

    name: str
    path: Path
    items: tuple[Item, ...]

    def counts(self) -> Counter[str]:
        return Counter(item.type for item in self.items)

    def units(self) -> int:
        """Scored units: one per question, one per conversation turn."""
        return sum(len(item.turns) for item in self.items)

    def limit(self, n: int | None) -> "Dataset":
        """At most n items, taken round-robin over the question types (each type in file
        order), so a short run still has unanswerable questions and conversations."""
        if n is None or n >= len(self.items):
            return self
        by_type: dict[str, list[Item]] = {}
        for item in self.items:
            by_type.setdefault(item.type, []).append(item)
        chosen: set[str] = set()
        while len(chosen) < n:
            for group in by_type.values():
                taken = next((i for i in group if i.id not in chosen), None)
                if taken is not None and len(chosen) < n:
                    chosen.add(taken.id)
        return Dataset(self.name, self.path, tuple(i for i in self.items if i.id in chosen))


def _fail(path: Path, line: int, message: str) -> DatasetError:
    return DatasetError(f"{path}, line {line}: {message}")


def _strings(value: object, what: str, path: Path, line: int) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail(path, line, f"{what} must be a list of non-empty strings")
    return tuple(value)


def _turn(data: dict[str, object], path: Path, line: int, where: str) -> Turn:
    question = data.get("question")
    if not isinstance(question, str) or not question.strip():
        raise _fail(path, line, f"{where}: 'question' must be a non-empty string")
    if "answers" not in data:
        raise _fail(path, line, f"{where}: missing 'answers' (use [] for unanswerable)")
    answers = _strings(data["answers"], f"{where}: 'answers'", path, line)
    raw = data.get("support", [])
    if not isinstance(raw, list):
        raise _fail(path, line, f"{where}: 'support' must be a list")
    support = []
    for n, entry in enumerate(raw, start=1):
        if not isinstance(entry, dict):
            raise _fail(path, line, f"{where}: support[{n}] must be an object")
        article, quote = entry.get("article"), entry.get("quote")
        if not isinstance(article, str) or not article.strip():
            raise _fail(path, line, f"{where}: support[{n}] needs an 'article' file name")
        if not isinstance(quote, str) or not quote.strip():
            raise _fail(path, line, f"{where}: support[{n}] needs a non-empty 'quote'")
        support.append(Support(article, quote))
    if answers and not support:
        raise _fail(path, line, f"{where}: an answerable question needs 'support'")
    if not answers and support:
        raise _fail(path, line, f"{where}: an unanswerable question must have empty 'support'")
    return Turn(question.strip(), answers, tuple(support))


def parse_item(data: object, path: Path, line: int) -> Item:
    """One JSON object -> Item, with errors that name the file and line."""
    if not isinstance(data, dict):
        raise _fail(path, line, "each line must be a JSON object")
    item_id = data.get("id")
    if not isinstance(item_id, str) or not item_id.strip():
        raise _fail(path, line, "missing 'id'")
    kind = data.get("type")
    if kind not in TYPES:
        raise _fail(path, line,
                    f"{item_id}: 'type' must be one of {', '.join(TYPES)}, got {kind!r}")
    if kind == "conversation":
        raw = data.get("turns")
        if not isinstance(raw, list) or len(raw) < 2:
            raise _fail(path, line, f"{item_id}: a conversation needs a 'turns' list of 2 or more")
        parsed = []
        for n, t in enumerate(raw, start=1):
            if not isinstance(t, dict):
                raise _fail(path, line, f"{item_id} turn {n} must be an object")
            parsed.append(_turn(t, path, line, f"{item_id} turn {n}"))
        turns = tuple(parsed)
    else:
        turn = _turn(data, path, line, item_id)
        if (kind == "unanswerable") == turn.answerable:
            raise _fail(path, line, f"{item_id}: type {kind} but answers is "
                        f"{'non-empty' if turn.answerable else 'empty'}")
        turns = (turn,)
    return Item(item_id, str(kind), turns, line)


def load_dataset(path: str | Path) -> Dataset:
    """Read and validate a gold JSONL file; raises DatasetError naming the bad line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except FileNotFoundError as exc:
        raise DatasetError(f"gold file not found: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot read gold file {path}: {exc}") from exc
    items: list[Item] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise _fail(path, number, f"invalid JSON: {exc.msg} (column {exc.colno})") from exc
        item = parse_item(data, path, number)
        if item.id in seen:
            raise _fail(path, number, f"duplicate id {item.id!r} (first on line {seen[item.id]})")
        seen[item.id] = number
        items.append(item)
    if not items:
        raise DatasetError(f"gold file {path} holds no questions")
    logger.info("loaded %d gold items from %s", len(items), path)
    return Dataset(path.stem, path, tuple(items))


def default_datasets() -> list[Path]:
    return [GOLD_DIR / "seeds.jsonl", GOLD_DIR / "sample.jsonl"]


def default_corpus(dataset_path: Path) -> Path:
    """The corpus a shipped gold file is written over (by file stem, see `shipped_corpus`);
    DatasetError for any other gold file."""
    stem = Path(dataset_path).stem
    if stem in DEFAULT_CORPORA:
        return shipped_corpus(stem)
    raise DatasetError(f"no default corpus for {dataset_path}: pass --corpus DIR")


def shipped_corpus(name: str) -> Path:
    """The corpus of a shipped gold set ('seeds', 'sample'); DatasetError when its folder is
    missing or holds no files (the seed articles live outside the repository, in
    ../shared/corpus/seeds: a clone elsewhere does not have them)."""
    path = DEFAULT_CORPORA[name]
    if not path.is_dir() or not any(f.is_file() for f in path.iterdir()):
        raise DatasetError(f"the {name} corpus is missing or empty: {path}")
    return path


# --- gold articles ----------------------------------------------------------------------------

def gold_name(article: Article) -> str:
    """The name a gold file uses for an article: file name, plus '#N' for a jsonl record."""
    name = Path(article.path).name
    if "#" in article.key:
        name += "#" + article.key.rsplit("#", 1)[1]
    return name


def article_map(articles: Iterable[Article]) -> dict[str, Article]:
    """Gold article name -> loaded Article."""
    return {gold_name(a): a for a in articles}


def load_articles(corpus: Sequence[Path]) -> list[Article]:
    """The corpus as the project's loader sees it (same texts and ids as the index)."""
    from index.load import load_paths

    return [a for a in load_paths(corpus) if isinstance(a, Article)]


_WS = re.compile(r"\s+")


def quote_spans(text: str, quote: str) -> list[tuple[int, int]]:
    """Every [start, end) where `quote` occurs in `text`; whitespace-insensitive as a fallback."""
    spans: list[tuple[int, int]] = []
    start = text.find(quote)
    while start >= 0:
        spans.append((start, start + len(quote)))
        start = text.find(quote, start + 1)
    if spans:
        return spans
    words = quote.split()
    if not words:
        return []
    pattern = re.compile(r"\s+".join(re.escape(w) for w in words))
    return [(m.start(), m.end()) for m in pattern.finditer(text)]


@dataclass(frozen=True)
class GoldSpan:
    """A gold quote located in an indexed article."""

    article_id: str
    start: int
    end: int


def locate_support(support: Sequence[Support], articles: dict[str, Article]
                   ) -> list[list[GoldSpan]]:
    """For each support entry, its occurrences (usually one) in the loaded articles."""
    out: list[list[GoldSpan]] = []
    for entry in support:
        article = articles.get(entry.article)
        if article is None:
            logger.warning("gold article %s is not in the corpus", entry.article)
            out.append([])
            continue
        spans = quote_spans(article.text, entry.quote)
        if not spans:
            logger.warning("quote not found in %s: %.60r", entry.article, entry.quote)
        out.append([GoldSpan(article.id, s, e) for s, e in spans])
    return out
