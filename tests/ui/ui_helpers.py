"""Constants and small helpers shared by the UI tests."""
from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT.parent / "shared" / "corpus" / "seeds"
ARTIFACTS = ROOT / "test-artifacts"
DOCS = ROOT / "docs"
UPLOAD_LIMIT = 50_000  # bytes, for the in-process app (the server process keeps the default)
QUESTION = "How many Turkish soldiers were killed?"


def parse_sse(body: str) -> list[tuple[str, Any]]:
    """Server-sent events -> [(event, data as JSON)]."""
    events = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        kind, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data:
            events.append((kind, json.loads("\n".join(data))))
    return events


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
