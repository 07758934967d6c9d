"""`python -m rag.llm.smoke`: load the packaged model and generate two tokens; exit 0 if it runs.

Run in a process of its own after installing a llama.cpp build (scripts/native_llm.sh): a
build that uses an instruction this CPU lists but may not run dies here, not in the product.
"""
from __future__ import annotations

import secrets
import sys


def main() -> int:
    from core.settings import Settings
    from rag.llm.model import load_server, packaged_model_path

    settings = Settings()
    server = load_server(packaged_model_path(settings.cache_dir), n_ctx=512, threads=1,
                         api_key=secrets.token_urlsafe(16))
    pieces: list[str] = []

    def on_chunk(chunk: dict[str, object]) -> bool:
        for choice in chunk.get("choices") or ():  # type: ignore[attr-defined]
            pieces.append(str((choice.get("delta") or {}).get("content") or ""))
        return False

    server.handle_chat_completions({"messages": [{"role": "user", "content": "Say yes."}],
                                    "max_tokens": 2, "temperature": 0.0, "stream": True},
                                   on_chunk)
    print("ok:", "".join(pieces).strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
