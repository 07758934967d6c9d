"""SIGKILL an ingest at every write step, re-run it, and get exactly the clean ingest's index."""
from __future__ import annotations

import shutil
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from rel_helpers import GOLDEN, cli, copy_corpus, release_chroma, snapshot

from core.settings import Settings
from rag.assistant import Assistant

pytestmark = [pytest.mark.integration, pytest.mark.fault, pytest.mark.slow]

GROUP = "10"  # chunks per embedded+committed group: the corpus (56 chunks) makes 5 groups
CHANGED = "idlib-strike-toll.txt"


@dataclass
class Scenario:
    kills: tuple[str, ...]  # NEWSCITE_TEST_KILL for successive runs, each must die by SIGKILL
    update: bool = False  # over an index of the original corpus, after CHANGED was edited
    partial: bool | None = False  # verify must report the interrupted run (None: may or not)
    data: Path = field(default_factory=Path)
    codes: list[int] = field(default_factory=list)

    @property
    def name(self) -> str:
        return ("update " if self.update else "") + " then ".join(self.kills)


SCENARIOS = [
    Scenario(("embedded:1",)),
    Scenario(("marked:1",), partial=True),
    Scenario(("stored:1",), partial=True),
    Scenario(("committed:1",)),
    Scenario(("embedded:2",)),
    Scenario(("marked:2",), partial=True),
    Scenario(("stored:2",), partial=True),
    Scenario(("committed:2",)),
    Scenario(("stored:5",), partial=True),  # the last group
    Scenario(("stored:3", "committed:1")),  # killed again while resuming
    Scenario(("embedded:1",), update=True),
    Scenario(("stored:1",), update=True, partial=True),
    Scenario(("committed:1",), update=True, partial=True),  # old chunks queued, not deleted
    Scenario(("deleted:1",), update=True, partial=True),  # deleted from Chroma, queue not cleared
    # a timer kills the process a moment after a Chroma upsert began: inside Chroma's write
    Scenario(("upsert:2:0.002",), partial=None),
    Scenario(("upsert:3:0.02",), partial=None),
    Scenario(("upsert:1:0.01",), update=True, partial=None),
]


def _edit(corpus: Path) -> None:
    path = corpus / CHANGED
    text = path.read_text()
    assert "Thirty-three Turkish soldiers" in text
    path.write_text(text.replace("Thirty-three Turkish soldiers", "Thirty-four Turkish soldiers")
                    + "\nThe governor later said a thirty-fifth soldier had died in hospital.\n")


def _ingest(data: Path, corpus: Path, embedder: object) -> Assistant:
    assistant = Assistant(Settings(data_dir=data, engine="extractive"), embedder=embedder)
    assistant.ingest([corpus])
    return assistant


def _kill_runs(scenario: Scenario, corpus: Path) -> None:
    for spec in scenario.kills:
        hook = "NEWSCITE_TEST_KILL_IN_UPSERT" if spec.startswith("upsert:") else \
            "NEWSCITE_TEST_KILL"
        proc = cli("ingest", corpus, "--data-dir", scenario.data, "--quiet",
                   env={hook: spec.removeprefix("upsert:"), "NEWSCITE_GROUP_CHUNKS": GROUP})
        scenario.codes.append(proc.returncode)
        if proc.returncode != -signal.SIGKILL:
            raise AssertionError(f"{scenario.name}: the run with {spec} was not killed "
                                 f"(exit {proc.returncode}): {proc.stdout[-500:]}"
                                 f"{proc.stderr[-1500:]}")


def test_killed_ingests_resume_to_the_clean_index(tmp_path, minilm, need_seeds):
    started = time.monotonic()
    original, changed = copy_corpus(tmp_path / "original"), copy_corpus(tmp_path / "changed")
    # references: clean ingests of the original corpus and of the edited one
    ref = _ingest(tmp_path / "ref", original, minilm)
    ref.close()
    base = _ingest(tmp_path / "base", changed, minilm)  # the update scenarios start from this
    base_ids = base.manifest.all_chunk_ids()
    base.close()
    release_chroma(tmp_path / "base")
    _edit(changed)
    ref_changed = _ingest(tmp_path / "ref-changed", changed, minilm)
    ref_changed.close()

    for n, scenario in enumerate(SCENARIOS):
        scenario.data = tmp_path / f"s{n:02d}"
        if scenario.update:
            shutil.copytree(tmp_path / "base", scenario.data)
    # the killed runs are separate processes; run a few at once
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda s: _kill_runs(s, changed if s.update else original), SCENARIOS))
    killed_at = time.monotonic()

    after_kill: dict[str, list[str]] = {}
    for scenario in SCENARIOS:
        assistant = Assistant(Settings(data_dir=scenario.data, engine="extractive"),
                              embedder=minilm)
        problems = assistant.verify()
        after_kill[scenario.name] = sorted({p.kind for p in problems})
        if scenario.partial:
            assert problems, f"{scenario.name}: verify saw nothing of the interrupted run"
        elif scenario.partial is not None:
            assert not problems, f"{scenario.name}: {[str(p) for p in problems]}"
        if scenario.update and scenario.kills[-1] == "committed:1":
            # the edited article is committed; the old version's chunks wait in the queue
            assert base_ids - assistant.manifest.all_chunk_ids() <= assistant.store.ids()
        report = assistant.ingest([changed if scenario.update else original])
        assert not report.skipped, scenario.name
        assistant.close()
    resumed_at = time.monotonic()

    dirs = [tmp_path / "ref", tmp_path / "ref-changed", *(s.data for s in SCENARIOS)]
    views = snapshot(dirs)  # one fresh process looks at every index
    want = {False: views[str(tmp_path / "ref")], True: views[str(tmp_path / "ref-changed")]}
    assert want[False]["manifest"] != want[True]["manifest"]
    assert set(base_ids) - set(want[True]["manifest"])  # the edit replaced chunks
    for ref_view in want.values():
        assert not ref_view["problems"] and ref_view["citations"]
    assert "Thirty-four" in want[True]["answer"] and "Thirty-three" not in want[True]["answer"]
    for scenario in SCENARIOS:
        got, expected = views[str(scenario.data)], want[scenario.update]
        where = scenario.name
        assert got["problems"] == [], where
        assert got["articles"] == expected["articles"], where
        # nothing lost, nothing duplicated, nothing stale: every store holds exactly these ids
        assert got["manifest"] == expected["manifest"], where
        assert got["chroma"] == expected["manifest"], where
        assert got["chroma_count"] == len(expected["manifest"]), where
        assert got["keyword"] == expected["manifest"], where
        assert got["top"] == expected["top"], where
        assert got["answer"] == expected["answer"], where
        assert got["citations"] == expected["citations"], where
    for name, kinds in after_kill.items():
        print(f"\n  {name}: after the kill verify said {kinds or 'ok'}; resumed exactly", end="")
    print(f"\n{len(SCENARIOS)} scenarios, {sum(len(s.kills) for s in SCENARIOS)} kills: "
          f"killed runs {killed_at - started:.0f}s, resumed {resumed_at - killed_at:.0f}s, "
          f"checked {time.monotonic() - resumed_at:.0f}s")


def test_answers_after_a_crash_cite_only_indexed_articles(tmp_path, minilm):
    import json
    import sqlite3

    from rel_helpers import SAMPLE

    corpus, data = tmp_path / "corpus", tmp_path / "data"
    shutil.copytree(SAMPLE, corpus)
    _ingest(data, corpus, minilm).close()
    release_chroma(data)
    _edit(corpus)
    killed = cli("ingest", corpus, "--data-dir", data, "--quiet",
                 env={"NEWSCITE_TEST_KILL": "committed:1"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    asked = cli("ask", GOLDEN, "--engine", "extractive", "--json", "--data-dir", data)
    assert asked.returncode == 0, asked.stderr[-2000:]
    answer = json.loads(asked.stdout)
    db = sqlite3.connect(data / "manifest.sqlite")
    indexed = {r[0] for r in db.execute("SELECT id FROM articles")}
    db.close()
    stale = [p["chunk_id"] for p in answer["passages"] if p["article_id"] not in indexed]
    assert not stale, f"passages of articles no longer indexed: {stale}"
    assert "Thirty-three" not in answer["text"]
