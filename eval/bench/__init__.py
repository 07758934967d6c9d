"""The speed and scale benchmark (`newscite bench`), kept apart from the quality harness."""
from __future__ import annotations

from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run `newscite bench` with `argv`; imported lazily so `import eval.bench.corpus` stays light."""
    from eval.bench.run import main as run_main
    return run_main(argv)
