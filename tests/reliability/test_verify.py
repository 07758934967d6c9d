"""`newscite index verify` finds damage to any store; `newscite index rebuild` repairs it."""
from __future__ import annotations

import shutil
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from rel_helpers import cli, copy_corpus, release_chroma, snapshot

from core.settings import Settings
from rag.assistant import Assistant

pytestmark = [pytest.mark.integration, pytest.mark.fault, pytest.mark.slow]


def _collection(data: Path):  # noqa: ANN202
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(path=str(data / "chroma"),
                                       settings=ChromaSettings(anonymized_telemetry=False))
    return client.get_collection("newscite")


def _drop_keyword_rows(data: Path) -> None:
    db = sqlite3.connect(data / "manifest.sqlite")
    with db:
        db.execute("DELETE FROM kw WHERE rid % 3 = 0")
    db.close()


def _truncate_chroma_sqlite(data: Path) -> None:
    with open(data / "chroma" / "chroma.sqlite3", "r+b") as f:
        f.truncate(8192)


def _truncate_segment(data: Path) -> None:
    for folder in (data / "chroma").iterdir():
        if folder.is_dir():
            for file in folder.iterdir():
                with open(file, "r+b") as f:
                    f.truncate(min(file.stat().st_size, 64))


def _delete_chunks(data: Path) -> None:
    col = _collection(data)
    ids = sorted(col.get(include=[])["ids"])[::4]
    col.delete(ids=ids)
    release_chroma(data)


def _alter_chunks(data: Path) -> None:
    """A chunk text that no longer matches its article, and a stray chunk."""
    col = _collection(data)
    got = col.get(include=["embeddings", "metadatas"], limit=1)
    col.update(ids=got["ids"], documents=["Forty soldiers were killed, officials said."],
               embeddings=got["embeddings"])
    col.add(ids=["deadbeefdeadbeef-00000000"], embeddings=got["embeddings"],
            documents=["A stray passage from nowhere."], metadatas=got["metadatas"])
    release_chroma(data)


DAMAGE = {
    "keyword rows deleted": (_drop_keyword_rows, "missing-keyword"),
    "chroma sqlite truncated": (_truncate_chroma_sqlite, "store-unreadable"),
    "chroma segment files truncated": (_truncate_segment, None),  # Chroma may recover by itself
    "chunks deleted from the collection": (_delete_chunks, "missing-in-chroma"),
    "chunk text altered, stray chunk added": (_alter_chunks, "chunk-text"),
}


def test_verify_finds_damage_and_rebuild_repairs_it(tmp_path, minilm, need_seeds):
    corpus = copy_corpus(tmp_path / "corpus")
    clean = tmp_path / "clean"
    assistant = Assistant(Settings(data_dir=clean, engine="extractive"), embedder=minilm)
    assistant.ingest([corpus])
    assistant.close()
    release_chroma(clean)
    ok = cli("index", "verify", "--data-dir", clean)
    assert ok.returncode == 0 and "index ok: 14 articles" in ok.stdout, ok.stdout + ok.stderr

    dirs: dict[str, Path] = {}
    found: dict[str, str] = {}
    for n, (name, (damage, kind)) in enumerate(DAMAGE.items()):
        data = dirs[name] = tmp_path / f"d{n}"
        shutil.copytree(clean, data)
        damage(data)
        check = cli("index", "verify", "--data-dir", data)
        found[name] = check.stdout
        assert "Traceback" not in check.stderr, check.stderr
        if kind is None:
            continue
        assert check.returncode == 1, (name, check.stdout, check.stderr)
        assert f"{kind}:" in check.stdout, (name, check.stdout)
    if name == "chunk text altered, stray chunk added":
        assert "orphan-in-chroma:" in check.stdout

    def repair(data: Path) -> tuple[int, str]:
        done = cli("index", "rebuild", "--quiet", "--data-dir", data)
        return done.returncode, done.stdout + done.stderr

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = dict(zip(dirs, pool.map(repair, dirs.values()), strict=True))
    for name, (code, output) in results.items():
        assert code == 0 and "rebuilt 56 chunks of 14 articles" in output, (name, output)
        again = cli("index", "verify", "--data-dir", dirs[name])
        assert again.returncode == 0, (name, again.stdout, again.stderr)

    views = snapshot([clean, *dirs.values()])
    want = views[str(clean)]
    assert want["citations"] and not want["problems"]
    for name, data in dirs.items():
        got = views[str(data)]
        assert got["problems"] == [], name
        assert got["manifest"] == got["chroma"] == got["keyword"] == want["manifest"], name
        assert (got["top"], got["answer"], got["citations"]) == \
            (want["top"], want["answer"], want["citations"]), name
    for name, output in found.items():
        print(f"\n{name}: {output.strip().splitlines()[0][:150]}")
