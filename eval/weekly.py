"""Weekly news sets (one corpus file per week; a question's week is its "now"): cached stores,
per-week and mixed runs, and the stage at which every miss happened."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from eval import metrics as m
from eval.build import make_system
from eval.dataset import ROOT, Dataset, Item, article_map, load_articles, locate_support
from eval.run import Run, Unit, _ask
from eval.systems import Config, History
from index.embed import Embedder

logger = logging.getLogger(__name__)

STORE_CACHE = Path(os.environ.get("NEWSCITE_EVAL_STORES",
                                  "~/.cache/newscite/eval-stores")).expanduser()
_WEEK = re.compile(r"(\d{8})")
# code whose change alters what an ingest writes (cleaning, chunking, stored terms)
_INGEST_CODE = ("index/*.py", "rag/text.py")
STAGES = ("retrieval", "selection", "refusal_gate", "citation")


# --- which week a question belongs to ---------------------------------------------------------

def week_of(item: Item) -> str | None:
    """The week (YYYYMMDD, a corpus file stem) of an item: its support's article file, else the
    first 8-digit run in its id."""
    for turn in item.turns:
        for s in turn.support:
            found = _WEEK.match(Path(s.article.split("#", 1)[0]).stem)
            if found:
                return found.group(1)
    found = _WEEK.search(item.id)
    return found.group(1) if found else None


def as_of(week: str) -> str:
    return f"{week[:4]}-{week[4:6]}-{week[6:8]}"


def weekly_groups(dataset: Dataset, corpus: Path) -> dict[str, list[Item]] | None:
    """{week: items} when `corpus` is a folder of WEEK.jsonl files covering every item's week;
    None for any other dataset (it is run the ordinary way)."""
    if not corpus.is_dir():
        return None
    groups: dict[str, list[Item]] = {}
    for item in dataset.items:
        week = week_of(item)
        if week is None or not (corpus / f"{week}.jsonl").is_file():
            return None
        groups.setdefault(week, []).append(item)
    return dict(sorted(groups.items()))


# --- embedding and store caches ---------------------------------------------------------------

class CachedEmbedder:
    """An embedder that keeps every vector it computes in a SQLite file keyed by the text's
    hash, so re-ingesting the same chunks (a changed cleaner re-chunks a few articles; each
    week's store repeats the mixed store's chunks) embeds only what is new."""

    def __init__(self, inner: Embedder, path: Path) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=120)
        self._db.execute("CREATE TABLE IF NOT EXISTS vec (key TEXT PRIMARY KEY, v BLOB)")
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        keys = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for i in range(0, len(keys), 500):
                part = keys[i:i + 500]
                rows = self._db.execute(
                    f"SELECT key, v FROM vec WHERE key IN ({','.join('?' * len(part))})", part)
                found.update((k, np.frombuffer(v, dtype=np.float32)) for k, v in rows)
        missing = [i for i, k in enumerate(keys) if k not in found]
        if missing:
            vectors = self.inner.embed([texts[i] for i in missing]).astype(np.float32)
            with self._lock:
                self._db.executemany("INSERT OR REPLACE INTO vec VALUES (?, ?)",
                                     [(keys[i], v.tobytes()) for i, v in zip(missing, vectors)])
                self._db.commit()
            for i, v in zip(missing, vectors):
                found[keys[i]] = v
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([found[k] for k in keys])


def cached_embedder(embedder: Embedder) -> Embedder:
    """The run's embedder (on ONNX Runtime, as the product embeds) behind a vector cache."""
    from core.settings import Settings
    from index.onnx_embed import onnx_embedder

    inner = onnx_embedder(embedder, Settings().cache_dir)
    safe = re.sub(r"[^A-Za-z0-9]+", "-", embedder.name)
    return CachedEmbedder(inner, STORE_CACHE / f"vectors-{safe}.sqlite")


def store_key(paths: Sequence[Path], config: Config, embedder: Embedder) -> str:
    """A hash of what an ingest of `paths` depends on: the files' bytes, the ingest code, the
    chunking settings and the embedding model."""
    from core.settings import Settings

    settings = Settings(**{k: v for k, v in dict(config.overrides).items()
                           if k in ("chunk_chars", "chunk_overlap")})
    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    for pattern in _INGEST_CODE:
        for code in sorted(ROOT.glob(pattern)):
            h.update(code.name.encode() + b"\0" + code.read_bytes())
    h.update(json.dumps([settings.chunk_chars, settings.chunk_overlap, embedder.name,
                         embedder.dim]).encode())
    return h.hexdigest()[:20]


def open_store(config: Config, paths: Sequence[Path], embedder: Embedder,
               use_llm: bool = True) -> tuple[Any, float, bool]:
    """A system over an indexed store of `paths`, reused from the cache when one was built
    from the same inputs: (system, ingest seconds, reused)."""
    if config.kind != "newscite":
        raise ValueError(f"weekly sets run newscite configurations only, not {config.name!r}")
    folder = STORE_CACHE / store_key(paths, config, embedder)
    done = folder / ".complete"
    if done.is_file():
        system = make_system(config, folder, embedder, use_llm=use_llm)
        return system, float(done.read_text() or 0.0), True
    if folder.exists():
        shutil.rmtree(folder)  # an ingest that did not finish
    folder.mkdir(parents=True)
    system = make_system(config, folder, embedder, use_llm=use_llm)
    seconds = system.ingest(list(paths))
    done.write_text(f"{seconds:.1f}")
    logger.info("stored %d files in %s (%.0fs)", len(paths), folder, seconds)
    return system, seconds, False


# --- where a miss happened --------------------------------------------------------------------

def diagnose(system: Any, unit: Unit, answers: Sequence[str]) -> dict[str, float]:
    """Per-unit figures beyond the standard ones: whether a passage given to the engine holds
    an answer (in the top 5 / at all), a wrong answer that passed the citation check, and for
    a miss the stage that lost it (one `miss_STAGE` set to 1):

    - retrieval: no passage the engine saw holds an answer;
    - refusal_gate: one does, but the engine's draft refused;
    - selection: the draft answered with sentences lacking the answer;
    - citation: the draft held the answer, the citation check removed or refused it.

    For an LLM engine the draft is not re-run: a non-refusal miss with the answer in the
    passages counts as selection."""
    answer = getattr(system, "last_answer", None)
    if answer is None or unit.refused is None:
        return {}
    if not answers:  # unanswerable: the only miss is answering, at the refusal gate
        return {"unanswerable_answered_cited": float(not unit.refused and bool(unit.citations))}
    passages = answer.passages
    held = [bool(m.contains_answer(p.text, answers)) for p in passages]
    out = {"answer_in_top5": float(any(held[:5])), "answer_in_passages": float(any(held))}
    contained = unit.metrics.get("answer_contained", 0.0) == 1.0
    out["wrong_cited"] = float(not unit.refused and not contained and bool(unit.citations))
    stage = None
    if not contained:
        if not any(held):
            stage = "retrieval"
        elif answer.engine == "extractive":
            from core.records import REFUSAL

            engine = system.assistant.engine("extractive")
            draft = "".join(engine.draft(answer.standalone_question or answer.question,
                                         passages))
            if draft.strip() == REFUSAL:
                stage = "refusal_gate"
            elif not m.contains_answer(draft, answers):
                stage = "selection"
            else:
                stage = "citation"
        else:
            stage = "refusal_gate" if unit.refused else "selection"
    out.update({f"miss_{s}": float(s == stage) for s in STAGES})
    return out


def miss_breakdown(units: Sequence[Unit]) -> dict[str, Any]:
    """Counts of misses by stage (answerable) and answered unanswerables."""
    answerable = [u for u in units if u.gold_answers]
    stages = Counter(s for u in answerable for s in STAGES if u.metrics.get(f"miss_{s}") == 1.0)
    return {
        "answerable": len(answerable),
        "contained": sum(1 for u in answerable if u.metrics.get("answer_contained") == 1.0),
        "misses": {s: stages.get(s, 0) for s in STAGES},
        "unanswerable": sum(1 for u in units if not u.gold_answers),
        "unanswerable_answered": sum(1 for u in units if not u.gold_answers and not u.refused),
    }


# --- runs -------------------------------------------------------------------------------------

def _units(system: Any, items: Sequence[Item], names: dict[str, Any], bar: Any) -> list[Unit]:
    units: list[Unit] = []
    for item in items:
        week = week_of(item)
        history: History = []
        for n, turn in enumerate(item.turns, start=1 if len(item.turns) > 1 else 0):
            located = locate_support(turn.support, names)
            unit = _ask(system, item, turn, n, history, located,
                        as_of=as_of(week) if week else None)
            unit = replace(unit, metrics={**unit.metrics,
                                          **diagnose(system, unit, turn.answers)})
            units.append(unit)
            history.append((turn.question, unit.answer or ""))
            if bar is not None:
                bar.update(1)
    return units


def _run(config: Config, name: str, paths: Sequence[Path], items: Sequence[Item],
         embedder: Embedder, use_llm: bool, bar: Any) -> Run:
    system, seconds, reused = open_store(config, paths, embedder, use_llm)
    try:
        names = article_map(load_articles(list(paths)))
        units = _units(system, items, names, bar)
    finally:
        system.close()
    run = Run(config=config, dataset=name, noise=False, corpus=tuple(str(p) for p in paths),
              ingest_seconds=seconds, answers=system.answers, units=tuple(units),
              notes=tuple(system.notes) + (("store reused from cache",) if reused else ()))
    return replace(run, extra={"miss_breakdown": miss_breakdown(units)})


def evaluate_weekly(config: Config, dataset: Dataset, corpus: Path, embedder: Embedder, *,
                    per_week: bool = True, mixed: bool = False,
                    weeks: Sequence[str] = (), use_llm: bool = True,
                    progress: bool = False) -> list[Run]:
    """Per-week runs (each week's questions over that week's articles, one Run per week and
    one over all of them, named DATASET/weeks) and/or the mixed run (every question over
    every week's articles, or the chosen `weeks`' articles, DATASET/mixed). Each question is
    asked as of its week's date."""
    groups = weekly_groups(dataset, corpus)
    if groups is None:
        raise ValueError(f"{dataset.path} is not a weekly set over {corpus}")
    if weeks:
        unknown = set(weeks) - set(groups)
        if unknown:
            raise ValueError(f"no questions for week(s) {', '.join(sorted(unknown))}")
        groups = {w: items for w, items in groups.items() if w in weeks}
    bar = None
    if progress:
        from tqdm import tqdm  # type: ignore[import-untyped]
        total = sum(len(i.turns) for items in groups.values() for i in items)
        bar = tqdm(total=total * (int(per_week) + int(mixed)), desc=f"{config.name}/"
                   f"{dataset.name}", unit="q", leave=False)
    runs: list[Run] = []
    try:
        if per_week:
            started = time.perf_counter()
            week_runs = [_run(config, f"{dataset.name}/{week}", [corpus / f"{week}.jsonl"],
                              items, embedder, use_llm, bar) for week, items in groups.items()]
            units = tuple(u for r in week_runs for u in r.units)
            note = (f"{len(week_runs)} weeks, each over its own articles "
                    f"({time.perf_counter() - started:.0f}s)")
            combined = replace(week_runs[0], dataset=f"{dataset.name}/weeks",
                               corpus=tuple(c for r in week_runs for c in r.corpus),
                               ingest_seconds=sum(r.ingest_seconds for r in week_runs),
                               units=units, notes=(note,),
                               extra={"miss_breakdown": miss_breakdown(units)})
            runs += [combined, *week_runs]
        if mixed:  # every chosen week's articles (all weeks when none were chosen)
            paths = sorted(corpus / f"{w}.jsonl" for w in weeks) if weeks \
                else sorted(corpus.glob("*.jsonl"))
            items = [i for group in groups.values() for i in group]
            runs.append(_run(config, f"{dataset.name}/mixed", paths, items, embedder, use_llm,
                             bar))
    finally:
        if bar is not None:
            bar.close()
    return runs


def breakdown_markdown(summary: dict[str, Any]) -> str:
    """The goal figures and the per-stage miss table of every weekly run in a summary."""
    cols = ("answer_contained", "correct_refusal", "false_refusal", "wrong_cited",
            "answer_in_top5", "recall@5")
    legend = ("answer_contained / false_refusal / wrong_cited / answer_in_top5 are over "
              "answerable questions (answer_in_top5: a passage among the first 5 the engine "
              "saw holds an answer string; recall@5: the listed support passage is in the top "
              "5 retrieved); correct_refusal is over unanswerable ones.")
    lines = ["# Weekly set: goal figures and where the misses are", "", legend, "",
             "| run | " + " | ".join(cols) + " | misses: retrieval / selection / refusal gate "
             "/ citation | unanswerable answered |",
             "|" + "---|" * (len(cols) + 3)]
    for key, run in summary["runs"].items():
        b = run.get("miss_breakdown")
        if b is None:
            continue
        vals = []
        for c in cols:
            est = run["metrics"].get(c)
            vals.append("–" if est is None else f"{est['value']:.3f}")
        misses = " / ".join(str(b["misses"][s]) for s in STAGES)
        lines.append(f"| {key} | " + " | ".join(vals) +
                     f" | {misses} (of {b['answerable'] - b['contained']} misses, "
                     f"{b['answerable']} answerable) | {b['unanswerable_answered']} of "
                     f"{b['unanswerable']} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m eval.weekly --corpus DIR [--week W ...] [--all]`: build the cached stores of
    some weeks (and with --all, of all weeks together) ahead of an evaluation, e.g. in several
    processes over different weeks."""
    import argparse

    from eval.systems import get_config
    from index.embed import get_embedder

    p = argparse.ArgumentParser(prog="python -m eval.weekly", description=main.__doc__)
    p.add_argument("--corpus", type=Path, required=True)
    p.add_argument("--week", action="append", default=[], metavar="YYYYMMDD")
    p.add_argument("--all", action="store_true", help="also the store of all weeks at once")
    p.add_argument("--config", default="extractive")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    config = get_config(args.config)
    embedder = cached_embedder(get_embedder("minilm"))
    plans = [[args.corpus / f"{w}.jsonl"] for w in args.week]
    if args.all:
        plans.append(sorted(args.corpus.glob("*.jsonl")))
    for paths in plans:
        system, seconds, reused = open_store(config, paths, embedder, use_llm=False)
        system.close()
        print(f"{'reused' if reused else 'built'} {len(paths)} file(s) ({seconds:.0f}s): "
              f"{', '.join(p.stem for p in paths[:3])}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
