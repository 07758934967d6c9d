"""Prompt and generation speed of the installed llama.cpp build with the packaged model.

    python -m eval.llm_speed [--prompts 5] [--json]

Loads the model the local engine uses (same context and threads), then sends `--prompts`
answer prompts built from the seed gold questions over their retrieved-like passages, each
with a fresh prefix so nothing is read from the prompt cache, and reports llama.cpp's own
timings: prompt tokens per second, generated tokens per second (medians), the load time and
which build is installed. Run it once per build (e.g. alternating, with PYTHONPATH pointing
at another build's site folder) to compare builds side by side.
"""
from __future__ import annotations

import argparse
import json
import secrets
import statistics
import time
from typing import Any

PASSAGE = (
    "Turkey says at least 33 of its soldiers have been killed in an air strike by Russia-backed "
    "Syrian government forces in northwestern Syria, rising tensions between Ankara and "
    "Damascus ally Moscow. Rahmi Dogan, governor of Turkey's Hatay Province bordering Syria, "
    "said on February 28 that 32 wounded troops were being treated in hospitals after the "
    "strikes in Idlib Province. The Syrian Observatory for Human Rights first reported a death "
    "toll of up to 34 Turkish soldiers earlier Thursday in an area where both the Syrian and "
    "Russian air forces were highly active. The monitor did not assign responsibility for the "
    "strikes. ")
QUESTIONS = ("How many Turkish soldiers were killed in the air strike?",
             "Who is the governor of Hatay Province?",
             "Where were the wounded troops treated?",
             "Which monitor reported a toll of 34?",
             "When did the governor speak?",
             "Which forces were active in the area?",
             "Which province borders Syria?")


def measure(prompts: int) -> dict[str, Any]:
    from core.settings import Settings
    from eval.bench.run import llm_build
    from rag.llm.model import load_server, packaged_model_path

    settings = Settings()
    started = time.perf_counter()
    server = load_server(packaged_model_path(settings.cache_dir), n_ctx=settings.llm_ctx,
                         threads=settings.llm_threads, api_key=secrets.token_urlsafe(16))
    load_s = time.perf_counter() - started
    rows = []
    for k in range(prompts):
        question = QUESTIONS[k % len(QUESTIONS)]
        # a different first line each time: the prompt cache cannot help
        content = (f"Request {secrets.token_hex(8)}.\n<passages>\n{PASSAGE * 2}</passages>\n"
                   f"Question: {question}\nAnswer in one sentence.")
        timings: dict[str, Any] = {}

        def on_chunk(chunk: dict[str, Any]) -> bool:
            if chunk.get("timings"):
                timings.update(chunk["timings"])
            return False

        server.handle_chat_completions(
            {"messages": [{"role": "user", "content": content}], "max_tokens": 32,
             "temperature": 0.0, "stream": True, "cache_prompt": False}, on_chunk)
        rows.append({"prompt_tokens": timings.get("prompt_n"),
                     "prompt_per_s": timings.get("prompt_per_second"),
                     "generated_tokens": timings.get("predicted_n"),
                     "generated_per_s": timings.get("predicted_per_second")})
    return {
        "build": llm_build(), "threads": settings.llm_threads, "load_s": round(load_s, 2),
        "prompt_tokens_median": statistics.median(r["prompt_tokens"] or 0 for r in rows),
        "prompt_per_s_median": round(statistics.median(r["prompt_per_s"] or 0 for r in rows), 1),
        "generated_per_s_median": round(
            statistics.median(r["generated_per_s"] or 0 for r in rows), 1),
        "runs": rows,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval.llm_speed", description=__doc__.split("\n")[0])
    p.add_argument("--prompts", type=int, default=5)
    p.add_argument("--json", action="store_true", help="print the whole result as JSON")
    args = p.parse_args(argv)
    result = measure(max(1, args.prompts))
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['build']}, {result['threads']} threads: prompt "
              f"{result['prompt_per_s_median']} tokens/s ({result['prompt_tokens_median']:.0f} "
              f"tokens), generation {result['generated_per_s_median']} tokens/s, "
              f"load {result['load_s']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
