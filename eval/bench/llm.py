"""`newscite bench --llm`: time to first token, total time and prompt size of the local LLM.

Questions are the first turns of the shipped gold sets, each asked over its own corpus (seed
articles, sample corpus), through `Assistant.ask_stream` as the web chat does. Time to first
token is measured where a user sees it: from the question to the first answer text streamed
to the caller (the answer gate holds an answer back only while its first words could open a
refusal, and a refusal until the model has begun its seventh word). The model's own first
generated token (after the pre-check and the answer prompt are read) is reported beside it.
The extractive engine answers the same questions in the same run as a reference.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from eval.dataset import ROOT, load_dataset, shipped_corpus
from eval.metrics import median_p95

GOAL_TTFT_S = 4.0


def _stats(values: list[float]) -> dict[str, float]:
    median, p95 = median_p95(values)
    return {"median": round(median, 3), "p95": round(p95, 3), "n": len(values)}


def _ask(assistant: Any, question: str, engine: str) -> dict[str, Any]:
    started = time.perf_counter()
    first = quick = None
    answer = None
    for event in assistant.ask_stream(question, engine=engine):
        if event.kind == "quick":
            quick = time.perf_counter() - started
        elif event.kind == "token" and first is None:
            first = time.perf_counter() - started
        elif event.kind == "final":
            answer = event.answer
    total = time.perf_counter() - started
    assert answer is not None
    return {"first_token_s": first if first is not None else total, "total_s": total,
            "quick_s": quick, "refused": answer.refused, "engine": answer.engine,
            "kept_quick": answer.quick,
            "before_draft_s": answer.timings.get("condense", 0.0)
            + answer.timings.get("retrieve", 0.0)}


def measure(per_set: int, progress: bool = True) -> dict[str, Any]:
    """Ask `per_set` first-turn questions of each gold set with the local and extractive
    engines; returns per-question records and summaries."""
    from core.settings import Settings
    from rag.assistant import Assistant

    records: list[dict[str, Any]] = []
    settings_used: dict[str, Any] = {}
    for name in ("seeds", "sample"):
        items = load_dataset(ROOT / "eval" / "gold" / f"{name}.jsonl").limit(per_set).items
        with tempfile.TemporaryDirectory(prefix="newscite-bench-llm-") as tmp:
            settings = Settings(data_dir=Path(tmp), engine="local")
            settings_used = {"evidence_tokens": settings.evidence_tokens,
                             "llm_threads": settings.llm_threads, "top_k": settings.top_k,
                             "llm_precheck": settings.llm_precheck}
            assistant = Assistant(settings)
            assistant.ingest([shipped_corpus(name)])
            assistant.warm_up()
            local = assistant.engine("local")
            if not records:  # fill the model's prompt cache with the fixed prefix, untimed
                _ask(assistant, "What happened?", "local")
            for item in items:
                question = item.turns[0].question
                row = {"dataset": name, "item": item.id, "type": item.type,
                       "question": question, "extractive": _ask(assistant, question,
                                                                "extractive")}
                row["local"] = _ask(assistant, question, "local")
                stats = dict(getattr(local, "last_stats", {}))
                model_first = stats.get("draft_first_token_seconds")
                row["local"]["model_first_token_s"] = (
                    None if model_first is None or row["local"]["refused"]
                    else row["local"]["before_draft_s"] + model_first)
                row["local"]["prompt_tokens"] = stats.get("prompt_tokens")
                row["local"]["new_prompt_tokens"] = stats.get("new_prompt_tokens")
                records.append(row)
                if progress:
                    print(f"{name} {item.id}: first token {row['local']['first_token_s']:.2f}s,"
                          f" total {row['local']['total_s']:.2f}s", flush=True)
            assistant.close()
    return {"settings": settings_used, "records": records, "summary": summarise(records)}


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    local = [r["local"] for r in records
             if r["local"]["engine"] == "local" or r["local"].get("kept_quick")]
    answered = [x for x in local if not x["refused"]]
    out = {
        "questions": len(records),
        "fell_back_to_extractive": len(records) - len(local),
        "local_first_token_s": _stats([x["first_token_s"] for x in local]),
        "local_first_token_answered_s": _stats([x["first_token_s"] for x in answered]),
        "local_model_first_token_s": _stats([x["model_first_token_s"] for x in answered
                                             if x.get("model_first_token_s") is not None]),
        "local_total_s": _stats([x["total_s"] for x in local]),
        "local_refused": sum(x["refused"] for x in local),
        "quick_answer_s": _stats([x["quick_s"] for x in local if x.get("quick_s") is not None]),
        "kept_quick_answer": sum(bool(x.get("kept_quick")) for x in local),
        "prompt_tokens": _stats([x["prompt_tokens"] for x in local
                                 if x.get("prompt_tokens") is not None]),
        "new_prompt_tokens": _stats([x["new_prompt_tokens"] for x in local
                                     if x.get("new_prompt_tokens") is not None]),
        "extractive_total_s": _stats([r["extractive"]["total_s"] for r in records]),
    }
    out["goal_met"] = out["local_first_token_s"]["median"] < GOAL_TTFT_S
    return out


def markdown(result: dict[str, Any], machine: dict[str, Any]) -> str:
    s, cfg = result["summary"], result["settings"]
    ft, fa, tot = s["local_first_token_s"], s["local_first_token_answered_s"], s["local_total_s"]
    mf = s["local_model_first_token_s"]
    pt, npt, ex = s["prompt_tokens"], s["new_prompt_tokens"], s["extractive_total_s"]
    return "\n".join([
        "# Local LLM latency", "",
        f"{machine.get('cores')} cores; load average at start {machine.get('loadavg_1_5_15')}; "
        f"{machine.get('when')}. Packaged Qwen2.5-Coder-1.5B Q4_K_M via "
        f"{machine.get('llm_build', 'xllamacpp')}, "
        f"{cfg.get('llm_threads')} threads, evidence budget {cfg.get('evidence_tokens')} tokens, "
        f"top_k {cfg.get('top_k')}, pre-check {'on' if cfg.get('llm_precheck') else 'off'}. "
        f"{s['questions']} questions (first turns of both gold sets), asked through "
        "`Assistant.ask_stream`; time to first token = until the first answer text reaches the "
        "caller.", "",
        "| figure | median | p95 |", "|---|---:|---:|",
        f"| quick (extractive) answer shown (s) | {s['quick_answer_s']['median']:.2f} | "
        f"{s['quick_answer_s']['p95']:.2f} |",
        f"| time to first token, all questions (s) | {ft['median']:.2f} | {ft['p95']:.2f} |",
        f"| time to first token, answered questions (s) | {fa['median']:.2f} | "
        f"{fa['p95']:.2f} |",
        f"| the model's first generated token, answered questions (s) | {mf['median']:.2f} | "
        f"{mf['p95']:.2f} |",
        f"| total time (s) | {tot['median']:.2f} | {tot['p95']:.2f} |",
        f"| prompt tokens per question (whole prompt) | {pt['median']:.0f} | {pt['p95']:.0f} |",
        f"| prompt tokens the model read (not cached) | {npt['median']:.0f} | "
        f"{npt['p95']:.0f} |",
        f"| extractive engine, same questions (s) | {ex['median']:.3f} | {ex['p95']:.3f} |",
        "",
        f"Refused by the local engine: {s['local_refused']} of {s['questions']}; the quick "
        f"answer kept as the final one: {s['kept_quick_answer']}; fell back to extractive after "
        f"an engine failure: {s['fell_back_to_extractive']}.",
        f"Goal: median time to first token under {GOAL_TTFT_S:g} s: "
        f"**{'met' if s['goal_met'] else 'not met'}** ({ft['median']:.2f} s).", ""])
