"""Run as a script by the reliability tests: a warm process answering questions on request.

Prints "ready" once the model and index are open; then each stdin line `ask N` answers the
golden question N times, printing one JSON line per answer; `quit` (or EOF) ends it."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    from core.settings import Settings
    from rag.assistant import Assistant

    data_dir, question = Path(argv[0]), argv[1]
    assistant = Assistant(Settings(data_dir=data_dir, engine="extractive"))
    assistant.retrieve("warm up")
    print("ready", flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] == "quit":
            break
        for _ in range(int(words[1]) if len(words) > 1 else 1):
            t = time.monotonic()
            try:
                answer = assistant.ask(question)
                out = {"ok": True, "text": answer.text, "refused": answer.refused,
                       "citations": [c.chunk_id for c in answer.citations]}
            except Exception as exc:  # noqa: BLE001 - reported to the test
                out = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            out["seconds"] = round(time.monotonic() - t, 3)
            print(json.dumps(out), flush=True)
    assistant.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
