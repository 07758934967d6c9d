"""A read-only data folder and a full disk: a clear error, and the index left as it was."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from rel_helpers import BASE_ENV, GOLDEN, PYTHON, ROOT, SAMPLE, cli, release_chroma

from core.settings import Settings
from index.embed import HashEmbedder
from rag.assistant import Assistant

pytestmark = [pytest.mark.integration, pytest.mark.fault, pytest.mark.slow]



@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A temporary folder other users can enter (pytest's own tmp_path is private to root)."""
    root = Path(tempfile.mkdtemp(prefix="newscite-storage-"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        for folder, dirs, files in os.walk(root):
            for name in dirs + files:
                path = Path(folder) / name
                if not path.is_symlink():
                    path.chmod(path.stat().st_mode | stat.S_IWUSR)
        shutil.rmtree(root, ignore_errors=True)


def _new_articles(folder: Path, n: int = 10) -> Path:
    folder.mkdir()
    for i in range(n):
        (folder / f"harbour-{i:02d}.txt").write_text(
            f"Harbour board report number {i} on dredging\n\nThe harbour board said dredging of "
            f"berth {i} would finish in week {i + 3}. Crews moved {1000 + i * 37} cubic metres "
            "of silt on the first day.\n")
    folder.chmod(0o755)
    for path in folder.iterdir():
        path.chmod(0o644)
    return folder


def _state(data: Path, embedder: object) -> dict[str, object]:
    assistant = Assistant(Settings(data_dir=data, engine="extractive"), embedder=embedder)
    try:
        return {"articles": assistant.manifest.article_ids(),
                "manifest": assistant.manifest.all_chunk_ids(),
                "keyword": assistant.manifest.keyword_ids(), "chroma": assistant.store.ids(),
                "problems": {p.kind for p in assistant.verify()}}
    finally:
        assistant.close()
        release_chroma(data)


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _build(data: Path, embedder: object) -> None:
    assistant = Assistant(Settings(data_dir=data, engine="extractive"), embedder=embedder)
    assistant.ingest([SAMPLE])
    assistant.close()
    release_chroma(data)


def _read_only(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _other_user() -> str | None:
    """Who to run as so that permissions apply (root ignores them): None = this user."""
    if os.geteuid() != 0:
        return None
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: cannot drop privileges to test "
                    "permissions")
    try:
        import pwd
        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user 'nobody' to run as")
    return "nobody"


def test_read_only_data_folder_gives_a_clear_error_and_changes_nothing(shared_tmp, minilm):
    user = _other_user()
    data, home = shared_tmp / "data", shared_tmp / "home"
    _build(data, minilm)
    new = _new_articles(shared_tmp / "new", 2)
    home.mkdir()
    if user:
        shutil.chown(home, user)
    before_state = _state(data, minilm)
    _read_only(data)
    before = _digest(data)

    r = cli("ingest", new, "--data-dir", data, "--quiet", user=user, env={"HOME": str(home)})
    assert r.returncode == 1, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert lines[0].startswith("error: ") and str(data) in lines[0], r.stderr
    assert "Traceback" not in r.stderr
    assert any(w in r.stderr.lower() for w in ("readonly", "read-only", "not writable",
                                                "permission denied")), r.stderr
    assert _digest(data) == before  # not a byte changed

    # writable again: the index is intact and takes the new articles
    for path in [data, *data.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    assert _state(data, minilm) == before_state
    assistant = Assistant(Settings(data_dir=data, engine="extractive"), embedder=minilm)
    assert len(assistant.ingest([new]).added) == 2
    assert assistant.verify() == []
    assistant.close()


# the manifest and Chroma open a read-only folder (test below); the keyword searcher does not yet
def test_read_only_index_still_answers(shared_tmp, minilm):
    user = _other_user()
    data, home = shared_tmp / "data", shared_tmp / "home"
    _build(data, minilm)
    home.mkdir()
    if user:
        shutil.chown(home, user)
    _read_only(data)
    r = cli("ask", GOLDEN, "--engine", "extractive", "--data-dir", data, user=user,
            env={"HOME": str(home)})
    assert "Traceback" not in r.stderr
    assert r.returncode == 0 and "Thirty-three" in r.stdout, r.stderr


# opens the index of a read-only folder as the query path does, and tries one manifest write
PROBE = """
import json, sys
from pathlib import Path
import numpy as np
from index.manifest import Manifest
from index.store import ChromaStore
from core.errors import IndexError_
data, collection, model, dim = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
manifest = Manifest(data / "manifest.sqlite")
store = ChromaStore(data, None, collection, model, dim)
found = store.collection.query(query_embeddings=[np.ones(dim, dtype=np.float32)], n_results=3)
try:
    manifest.set_meta({"probe": "written"})
    write = "written"
except IndexError_ as exc:
    write = str(exc)
print(json.dumps({"read_only": manifest.read_only, "articles": manifest.article_ids(),
                  "chunks": sorted(manifest.all_chunk_ids()), "chroma": sorted(store.ids()),
                  "found": len(found["ids"][0]), "write": write,
                  "chroma_path": store.client.get_settings().persist_directory}))
"""


def _run_as(user: str | None, code: str, *args: str,
            home: Path) -> subprocess.CompletedProcess[str]:
    cmd = [PYTHON, "-c", code, *args]
    if user:
        import pwd
        entry = pwd.getpwnam(user)
        cmd = ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--clear-groups",
               *cmd]
    return subprocess.run(cmd, env={**BASE_ENV, "HOME": str(home)}, capture_output=True,
                          text=True, timeout=300, cwd=ROOT)


def test_read_only_folder_opens_manifest_and_chroma_without_writing(shared_tmp):
    user = _other_user()
    data, home = shared_tmp / "data", shared_tmp / "home"
    embedder = HashEmbedder()
    assistant = Assistant(Settings(data_dir=data, engine="extractive"), embedder=embedder)
    assistant.ingest([SAMPLE])
    expected = {"articles": assistant.manifest.article_ids(),
                "chunks": sorted(assistant.manifest.all_chunk_ids())}
    assistant.close()
    release_chroma(data)
    home.mkdir()
    if user:
        shutil.chown(home, user)
    _read_only(data)
    before = _digest(data)

    done = _run_as(user, PROBE, str(data), Settings().collection, embedder.name,
                   str(embedder.dim), home=home)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout)
    assert seen["read_only"] is True
    assert seen["articles"] == expected["articles"] and seen["chunks"] == expected["chunks"]
    assert seen["chroma"] == expected["chunks"] and seen["found"] == 3
    assert "read-only" in seen["write"] and str(data) in seen["write"]
    assert _digest(data) == before  # not a byte changed, no -wal/-shm files either
    # Chroma ran on a private copy, removed when the process ended
    assert not Path(seen["chroma_path"]).is_relative_to(data)
    assert not Path(seen["chroma_path"]).exists()


@pytest.fixture
def small_disk(shared_tmp: Path) -> Iterator[Path]:
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a small tmpfs needs root")
    mount = shared_tmp / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", "tmpfs",
                           str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        if subprocess.run(["umount", str(mount)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _fill(mount: Path, leave: int) -> Path:
    filler = mount / "filler"
    free = shutil.disk_usage(mount).free - leave
    with open(filler, "wb") as f:
        block = b"\0" * (1 << 16)
        while free > 0:
            try:
                f.write(block[:free])
                f.flush()
            except OSError:
                break
            free -= len(block)
    return filler


def _run_on_full_disk(shared_tmp: Path, disk: Path, embedder: object, leave_kb: int
                      ) -> tuple[subprocess.CompletedProcess[str], dict, dict, Path, Path]:
    source, data = shared_tmp / "source", disk / "data"
    _build(source, embedder)
    shutil.copytree(source, data)
    before = _state(data, embedder)
    new = _new_articles(shared_tmp / "new")
    filler = _fill(disk, leave_kb * 1024)
    r = cli("ingest", new, "--data-dir", data, "--quiet")
    filler.unlink()
    return r, before, _state(data, embedder), data, new


# 0 KB: the manifest cannot be opened; 48 KB: Chroma cannot start; 88 KB: Chroma fails half way
# through writing the batch; 400 KB: it fits (the exact points depend on SQLite page use)
@pytest.mark.parametrize("leave_kb", [0, 48, 88, 400])
def test_full_disk_gives_a_clear_error_and_keeps_the_index(shared_tmp, small_disk, minilm,
                                                          leave_kb):
    from index.load import load_paths

    r, before, after, data, new = _run_on_full_disk(shared_tmp, small_disk, minilm, leave_kb)
    new_ids = {a.id for a in load_paths([new]) if hasattr(a, "text")}
    if r.returncode == 0:  # it fitted: then it must be complete and consistent
        assert after["problems"] == set(), after["problems"]
        assert set(after["articles"]) == set(before["articles"]) | new_ids
        return
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stderr.startswith("error: ") and "Traceback" not in r.stderr, r.stderr
    assert f"note: the disk holding {data} is full" in r.stderr, r.stderr
    # the manifest and keyword index are exactly as they were ...
    for part in ("articles", "manifest", "keyword"):
        assert after[part] == before[part], part
    # ... Chroma may keep chunks of the failed batch, never others, and verify reports them
    extra = after["chroma"] - before["chroma"]
    assert before["chroma"] <= after["chroma"]
    assert {cid.split("-")[0] for cid in extra} <= new_ids
    assert after["problems"] <= {"interrupted-ingest", "orphan-in-chroma"}, after["problems"]
    assert bool(extra) == ("orphan-in-chroma" in after["problems"])
    # the next ingest, with room on the disk, cleans up and completes
    assistant = Assistant(Settings(data_dir=data, engine="extractive"), embedder=minilm)
    assert len(assistant.ingest([new]).added) == 10
    assert assistant.verify() == []
    answer = assistant.ask(GOLDEN)
    assert "Thirty-three" in answer.text and answer.citations
    assistant.close()
    release_chroma(data)
    print(f"\n{leave_kb} KB free: {len(extra)} orphan chunks; {r.stderr.strip()}")


def test_failed_write_leaves_chroma_as_it_was(shared_tmp, small_disk, minilm):
    r, before, after, _, _ = _run_on_full_disk(shared_tmp, small_disk, minilm, 88)
    assert r.returncode == 1
    assert after["chroma"] == before["chroma"] and after["problems"] <= {"interrupted-ingest"}
