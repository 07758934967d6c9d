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
SILENT_LLM_TIMEOUT = 4  # seconds the openai_server's engine waits for its silent LLM server


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


# The text colour and the colour actually behind an element: its own background or, when that
# is transparent, the nearest ancestor's (semi-transparent layers blended on the way down).
_COLOURS_JS = """el => {
  const parse = c => { const m = c.match(/[\\d.]+/g).map(Number);
                       return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1]; };
  const layers = [];
  for (let e = el; e; e = e.parentElement) {
    const bg = parse(getComputedStyle(e).backgroundColor);
    if (bg[3] > 0) { layers.push(bg); if (bg[3] >= 1) break; }
  }
  let base = [255, 255, 255];
  for (const [r, g, b, a] of layers.reverse()) {
    base = [r * a + base[0] * (1 - a), g * a + base[1] * (1 - a), b * a + base[2] * (1 - a)];
  }
  return {fg: parse(getComputedStyle(el).color), bg: base};
}"""


def _luminance(rgb: list[float]) -> float:
    def channel(v: float) -> float:
        v /= 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(v) for v in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(locator: Any) -> float:
    """WCAG contrast ratio of an element's text against what is behind it."""
    colours = locator.evaluate(_COLOURS_JS)
    fg, bg = colours["fg"], colours["bg"]
    alpha = fg[3]
    fg = [fg[i] * alpha + bg[i] * (1 - alpha) for i in range(3)]
    high, low = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (high + 0.05) / (low + 0.05)
