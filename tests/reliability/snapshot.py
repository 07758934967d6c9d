"""Run as a script by the reliability tests: a fresh process's view of one or more indexes."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def view(data_dir: Path, question: str, embedder: object) -> dict[str, object]:
    from core.settings import Settings
    from rag.assistant import Assistant

    assistant = Assistant(Settings(data_dir=data_dir, engine="extractive"), embedder=embedder)
    try:
        problems = [str(p) for p in assistant.verify()]
        hits = assistant.retrieve(question)
        answer = assistant.ask(question)
        return {
            "articles": sorted(assistant.manifest.article_ids()),
            "manifest": sorted(assistant.manifest.all_chunk_ids()),
            "chroma": sorted(assistant.store.ids()),
            "chroma_count": assistant.store.count(),
            "keyword": sorted(assistant.manifest.keyword_ids()),
            "problems": problems,
            "top": [h.chunk_id for h in hits],
            "answer": answer.text,
            "citations": [[c.article_id, c.start, c.end] for c in answer.citations],
        }
    finally:
        assistant.close()


def main(argv: list[str]) -> int:
    from index.embed import MiniLMEmbedder

    question, dirs = argv[0], argv[1:]
    embedder = MiniLMEmbedder()
    json.dump({d: view(Path(d), question, embedder) for d in dirs}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
