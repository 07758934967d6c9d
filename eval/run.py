"""Run configurations over gold sets: ingest into a temp data dir, ask everything, score."""
from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from core.errors import RagError
from core.records import Citation, Hit
from eval import metrics as m
from eval.build import make_system
from eval.citations import citation_scores
from eval.dataset import (
    Dataset,
    GoldSpan,
    Item,
    Turn,
    article_map,
    load_articles,
    locate_support,
)
from eval.systems import Config, History, Reply, System
from index.embed import Embedder, get_embedder

logger = logging.getLogger(__name__)

RETRIEVE_K = 10
# asked once before timing starts; not a gold question, so no later answer is a cache hit
WARM_UP_QUESTION = "What do the articles report about the weather on the coast?"


@dataclass(frozen=True)
class Retrieved:
    """A retrieved passage, by reference (the text is in the index)."""

    chunk_id: str
    article_id: str
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class Unit:
    """One scored question (or conversation turn) of one run."""

    item_id: str
    turn: int  # 0 for single questions; 1.. for conversation turns
    type: str
    question: str
    standalone: str
    gold_answers: tuple[str, ...]
    answer: str | None  # None: the system gives no answers (retriever only)
    refused: bool | None
    citations: tuple[Citation, ...]
    retrieved: tuple[Retrieved, ...]
    metrics: dict[str, float]
    timings: dict[str, float]
    error: str | None = None
    engine: str | None = None  # the engine whose answer this is
    quick: bool = False  # the quick (extractive) answer kept as the final one

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["citations"] = [{k: c[k] for k in ("number", "article_id", "title", "start", "end",
                                                "quote")} for c in data["citations"]]
        for r in data["retrieved"]:
            r["score"] = round(r["score"], 4)
        data["metrics"] = {k: round(v, 4) for k, v in self.metrics.items()}
        data["timings"] = {k: round(v, 4) for k, v in self.timings.items()}
        return data


@dataclass(frozen=True)
class Run:
    """One configuration over one gold set (optionally with distractor articles)."""

    config: Config
    dataset: str
    noise: bool
    corpus: tuple[str, ...]
    ingest_seconds: float
    answers: bool
    units: tuple[Unit, ...]
    notes: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.config.name}/{self.dataset}" + ("+noise" if self.noise else "")


def _ranked(hits: Sequence[Hit]) -> list[m.Ranked]:
    return [m.Ranked(h.article_id, h.start, h.end) for h in hits]


def score_unit(kind: str, turn: Turn, located: list[list[GoldSpan]], reply: Reply | None,
               hits: Sequence[Hit]) -> dict[str, float]:
    """Every metric that applies to one unit."""
    scores: dict[str, float] = {}
    if turn.answerable:
        scores.update(m.retrieval_scores(_ranked(hits), m.evidence_groups(kind, located)))
    if reply is not None:
        scores.update(m.answer_scores(reply.text, reply.refused, turn.answers))
        if not reply.refused:
            gold = [s for spans in located for s in spans] if turn.answerable else None
            scores.update(citation_scores(reply.sentences, gold))
    return scores


def _ask(system: System, item: Item, turn: Turn, index: int, history: History,
         located: list[list[GoldSpan]], as_of: str | None = None) -> Unit:
    """Ask one turn and score it; `as_of` (the question's "now") goes only to systems that
    take it (newscite), and only when set."""
    dated = {"as_of": as_of} if as_of else {}
    errors: list[str] = []
    reply: Reply | None = None
    timings: dict[str, float] = {}
    if system.answers:
        try:
            reply = system.reply(turn.question, history, **dated)
            timings = dict(reply.timings) if reply is not None else {}
        except RagError as exc:  # scored as a refusal; the error is kept in the record
            logger.warning("%s turn %d failed: %s", item.id, index, exc)
            errors.append(f"{type(exc).__name__}: {exc}")
    standalone = reply.standalone if reply is not None else turn.question
    hits: list[Hit] = []
    try:
        t = time.perf_counter()
        hits = system.retrieve(standalone, RETRIEVE_K, **dated)
        if not system.answers:
            timings = {"retrieve": time.perf_counter() - t}
            timings["total"] = timings["retrieve"]
    except RagError as exc:
        logger.warning("%s turn %d: retrieval failed: %s", item.id, index, exc)
        errors.append(f"{type(exc).__name__}: {exc}")
    scores = score_unit(item.type, turn, located, reply, hits)
    failed = system.answers and reply is None
    if failed:
        scores.update(m.answer_scores("", True, turn.answers))
    return Unit(
        item_id=item.id, turn=index, type=item.type, question=turn.question,
        standalone=standalone, gold_answers=turn.answers,
        answer=reply.text if reply is not None else None,
        refused=reply.refused if reply is not None else (True if failed else None),
        citations=reply.citations if reply is not None else (),
        retrieved=tuple(Retrieved(h.chunk_id, h.article_id, h.start, h.end, h.score)
                        for h in hits),
        metrics=scores, timings=timings, error="; ".join(errors) or None,
        engine=reply.engine if reply is not None else None,
        quick=reply.quick if reply is not None else False)


def evaluate(config: Config, dataset: Dataset, corpus: Sequence[Path],
             distractors: Sequence[Path] = (), embedder: Embedder | None = None,
             use_llm: bool = True, progress: bool = False) -> Run:
    """Ingest `corpus` (+ distractors) into a fresh temp data dir and score every unit."""
    embedder = embedder or get_embedder("minilm")
    names = article_map(load_articles(list(corpus)))
    units: list[Unit] = []
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=dataset.units(), desc=f"{config.name}/{dataset.name}"
                   + ("+noise" if distractors else ""), unit="q", leave=False)
    with tempfile.TemporaryDirectory(prefix="newscite-eval-", ignore_cleanup_errors=True) as tmp:
        system = make_system(config, Path(tmp), embedder, use_llm=use_llm)
        try:
            ingest_seconds = system.ingest([*corpus, *distractors])
            cold = _warm_up(system, dataset)
            for item in dataset.items:
                history: History = []
                for n, turn in enumerate(item.turns, start=1 if len(item.turns) > 1 else 0):
                    located = locate_support(turn.support, names)
                    unit = _ask(system, item, turn, n, history, located)
                    units.append(unit)
                    history.append((turn.question, unit.answer or ""))
                    if bar is not None:
                        bar.update(1)
        finally:
            system.close()
            if bar is not None:
                bar.close()
    logger.info("%s/%s: %d units, ingest %.1fs", config.name, dataset.name, len(units),
                ingest_seconds)
    return Run(config=config, dataset=dataset.name, noise=bool(distractors),
               corpus=tuple(str(p) for p in [*corpus, *distractors]),
               ingest_seconds=ingest_seconds, answers=system.answers, units=tuple(units),
               notes=tuple(system.notes), extra={"first_query_seconds": round(cold, 3)})


def same_items_runs(runs: Sequence[Run], limited: set[str]) -> list[Run]:
    """For each run of a config in `limited` (scored on a subset of the items), every other
    config's run on the same dataset and noise, cut down to exactly those items: a like-for-like
    row named 'OTHER [LIMITED items]'."""
    out = []
    for small in runs:
        if small.config.name not in limited:
            continue
        items = {u.item_id for u in small.units}
        for other in runs:
            if (other.config.name == small.config.name or other.config.name in limited
                    or (other.dataset, other.noise) != (small.dataset, small.noise)):
                continue
            units = tuple(u for u in other.units if u.item_id in items)
            if len(units) == len(other.units):
                continue  # already scored on the same items
            config = replace(other.config, name=f"{other.config.name} [{small.config.name} items]")
            out.append(replace(other, config=config, units=units))
    return out


def _warm_up(system: System, dataset: Dataset) -> float:
    """One unscored question first, so per-question latency is steady state (model and
    library loading show up as first_query_seconds instead)."""
    question = WARM_UP_QUESTION
    started = time.perf_counter()
    try:
        if system.answers:
            system.reply(question, [])
        system.retrieve(question, RETRIEVE_K)
    except RagError as exc:
        logger.warning("warm-up question failed: %s", exc)
    return time.perf_counter() - started


def summarise(run: Run) -> dict[str, Any]:
    """Metrics with 95% bootstrap intervals, ingest time and per-stage latency for one run."""
    estimates = m.aggregate([u.metrics for u in run.units])
    by_type: dict[str, dict[str, float]] = {}
    for kind in sorted({u.type for u in run.units}):
        sub = m.aggregate([u.metrics for u in run.units if u.type == kind])
        by_type[kind] = {k: round(v.value, 4) for k, v in sub.items()}
    return {
        "config": run.config.name,
        "description": run.config.description,
        "dataset": run.dataset,
        "noise": run.noise,
        "answers": run.answers,
        "units": len(run.units),
        "items": len({u.item_id for u in run.units}),
        "errors": sum(1 for u in run.units if u.error),
        "ingest_seconds": round(run.ingest_seconds, 3),
        **run.extra,
        "metrics": {k: v.to_dict() for k, v in estimates.items()},
        "by_type": by_type,
        "latency": m.latency([u.timings for u in run.units if u.timings and not u.error]),
        "notes": list(run.notes),
    }
