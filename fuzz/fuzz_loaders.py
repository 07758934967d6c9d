"""atheris harness: arbitrary bytes as an article file of each supported type, then chunking."""
from __future__ import annotations

import hashlib
import logging
import os
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["index"]):
    from index.chunk import chunk_article
    from index.load import load_file
    from core.records import Article, Skipped

EXTENSIONS = (".txt", ".md", ".html", ".json", ".jsonl", ".htm", ".markdown")
FOLDER = Path(tempfile.mkdtemp(prefix="fuzz-loaders-", dir="/dev/shm"
                               if os.path.isdir("/dev/shm") else None))
logging.disable(logging.CRITICAL)  # the loader logs every bad file; keep the fuzzer's output


class SwallowedError(Exception):
    """The loader caught an exception from a parser: a bug the user sees as a skipped file."""


def check(data: bytes) -> None:
    if not data:
        return
    ext = EXTENSIONS[data[0] % len(EXTENSIONS)]
    path = FOLDER / f"input{ext}"
    path.write_bytes(data[1:])
    items, _warnings = load_file(path, max_bytes=1_000_000)
    for item in items:
        if isinstance(item, Skipped):
            if "could not be parsed" in item.reason:
                raise SwallowedError(f"{ext}: {item.reason}")
            continue
        assert isinstance(item, Article), item
        assert item.text.strip(), "empty article text"
        digest = hashlib.sha256(f"{item.title}\n{item.text}".encode()).hexdigest()
        assert item.content_hash == digest and item.id == digest[:16], "id is not content hash"
        assert "\r" not in item.text, "carriage return in article text"
        for chunk in chunk_article(item, 300, 1):
            assert item.text[chunk.start:chunk.end] == chunk.text, "chunk offsets"
            assert chunk.text.strip(), "empty chunk"


def main() -> None:
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
