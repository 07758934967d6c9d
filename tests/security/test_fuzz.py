"""The atheris fuzz harnesses (fuzz/) run for a bounded time each without a crash."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECONDS = 20
SELECTOR = {".txt": 0, ".md": 1, ".html": 2, ".json": 3, ".jsonl": 4}  # see fuzz_loaders.py


def _seed_loaders(folder: Path) -> Path:
    folder.mkdir()
    for n, path in enumerate(sorted((ROOT / "eval" / "corpus").glob("*/*"))):
        if path.suffix in SELECTOR:
            (folder / f"seed{n}").write_bytes(bytes([SELECTOR[path.suffix]]) + path.read_bytes())
    return folder


@pytest.mark.fault
@pytest.mark.slow
@pytest.mark.parametrize("harness", ["fuzz_loaders.py", "fuzz_cite.py"])
def test_fuzz_harness_finds_no_crash(harness, tmp_path):
    pytest.importorskip("atheris", reason="pip install atheris to run the fuzz harnesses")
    corpus = _seed_loaders(tmp_path / "corpus") if harness == "fuzz_loaders.py" else None
    cmd = [sys.executable, str(ROOT / "fuzz" / harness), f"-max_total_time={SECONDS}",
           "-timeout=10", "-rss_limit_mb=6144", f"-artifact_prefix={tmp_path}/",
           "-print_final_stats=1"]
    if corpus:
        cmd.append(str(corpus))
    started = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=SECONDS + 120,
                          cwd=tmp_path)
    output = done.stdout + done.stderr
    crashes = [p.name for p in tmp_path.iterdir() if p.name.startswith(("crash-", "timeout-",
                                                                          "oom-", "leak-"))]
    assert done.returncode == 0 and not crashes, f"{crashes}\n{output[-4000:]}"
    runs = next((line.split()[-1] for line in output.splitlines()
                 if line.startswith("stat::number_of_executed_units")), "?")
    print(f"\n{harness}: {runs} inputs in {time.monotonic() - started:.0f}s, no crash")


@pytest.mark.fault
def test_yaml_alias_bomb_in_front_matter_is_cheap(tmp_path):
    from index.load import load_file

    levels = ["a: &a [" + ",".join(['"lol"'] * 9) + "]"]
    for prev, name in zip("abcdefg", "bcdefgh", strict=True):
        levels.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    bomb = tmp_path / "bomb.md"
    bomb.write_text("---\n" + "\n".join(levels) + "\ntitle: Bomb\npublished: *h\n---\n\n"
                    "A short body. It has two sentences.\n")
    assert bomb.stat().st_size < 1200
    started = time.monotonic()
    items, _ = load_file(bomb)
    took = time.monotonic() - started
    assert len(items) == 1
    assert took < 1.0, f"a {bomb.stat().st_size}-byte file took {took:.1f}s to load"
