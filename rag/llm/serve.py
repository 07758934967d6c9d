"""Serve a GGUF model over an OpenAI-compatible HTTP API (xllamacpp) until stopped.

    python -m rag.llm.serve --port 8081 [--model PATH] [--cache-dir DIR] [--ctx 4096]

Prints one line `listening on http://HOST:PORT` to stdout once the model is loaded. Used by
the tests as a real server for `OpenAIEngine`, and usable as a small shared LLM server.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from core.errors import RagError
from rag.llm.model import load_server, packaged_model_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rag.llm.serve",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", type=Path, default=None, help="GGUF file (default: packaged)")
    parser.add_argument("--cache-dir", type=Path,
                        default=Path.home() / ".cache" / "newscite")
    parser.add_argument("--ctx", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--api-key-env", default=None,
                        help="require the API key held in this environment variable")
    args = parser.parse_args(argv)

    key = None
    if args.api_key_env:
        key = os.environ.get(args.api_key_env, "")
        if not key:
            print(f"error: ${args.api_key_env} is empty", file=sys.stderr)
            return 2
    try:
        model = args.model or packaged_model_path(args.cache_dir)
        server = load_server(model, n_ctx=args.ctx, threads=args.threads, api_key=key,
                             address=(args.host, args.port))
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"listening on {server.listening_address}", flush=True)
    stop.wait()
    del server
    return 0


if __name__ == "__main__":
    sys.exit(main())
