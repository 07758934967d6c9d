"""The conversation store of the web chat, and its REST routes."""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from core.errors import InputError
from core.records import Answer
from ui.conversations import Conversation, ConversationStore, Turn, check_id


def _answer(question: str = "Who won?") -> Answer:
    return Answer(question=question, text="The blue team won.", refused=False)


def test_keep_then_get_round_trips_the_answer_serialisation(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path)
    kept = store.keep(None, "session-0001", [Turn("Who won?", _answer(), "extractive")])
    got = store.get(kept.id)
    assert got is not None and got.session == "session-0001"
    assert got.turns[0].answer.to_dict() == _answer().to_dict()
    assert got.title == "Who won?"
    data = json.loads((tmp_path / "conversations" / f"{kept.id}.json").read_text())
    assert data["turns"][0]["answer"] == json.loads(json.dumps(_answer().to_dict()))
    # the same id again replaces the turns, it never appends twice
    store.keep(kept.id, "session-0001", [Turn("Who won?", _answer()), Turn("Why?", _answer("Why?"))])
    assert len(store.get(kept.id).turns) == 2  # type: ignore[union-attr]
    assert [c.id for c in store.list("session-0001")] == [kept.id]
    assert store.list("session-other") == []


def test_write_is_atomic_and_leaves_no_temporary_files(tmp_path: Path, monkeypatch) -> None:
    store = ConversationStore(tmp_path)
    kept = store.keep(None, "session-0001", [Turn("Who won?", _answer())])
    before = (tmp_path / "conversations" / f"{kept.id}.json").read_text()

    def broken(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    kept.name = "renamed"
    with pytest.raises(OSError):
        store.save(kept)
    # the old file is whole, and the partial one is gone
    assert (tmp_path / "conversations" / f"{kept.id}.json").read_text() == before
    assert [p.name for p in (tmp_path / "conversations").iterdir()
            if p.name.startswith(".conversation-")] == []


def test_corrupt_and_foreign_files_are_skipped_with_a_log_line(tmp_path: Path, caplog) -> None:
    store = ConversationStore(tmp_path)
    good = store.keep(None, "session-0001", [Turn("Who won?", _answer())])
    folder = tmp_path / "conversations"
    (folder / "deadbeefdeadbeef.json").write_text("{not json")
    (folder / "0123456789abcdef.json").write_text(json.dumps({"id": "0123456789abcdef"}))
    (folder / "notes.txt").write_text("ignored")
    with caplog.at_level(logging.WARNING, logger="ui.conversations"):
        listed = store.list()
    assert [c.id for c in listed] == [good.id]
    skipped = [r.getMessage() for r in caplog.records]
    assert len(skipped) == 2 and all("skipped" in m for m in skipped)
    assert not any("Traceback" in m for m in skipped)


@pytest.mark.parametrize("bad", ["../../etc/passwd", "..", "a/b", "short", "x" * 65,
                                 "abc def ghi", "", None, "..%2f..%2fsecret", "\\..\\x.json"])
def test_ids_that_could_name_another_path_are_refused(tmp_path: Path, bad: object) -> None:
    store = ConversationStore(tmp_path)
    with pytest.raises(InputError):
        check_id(bad)
    with pytest.raises(InputError):
        store.get(bad)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        store.delete(bad)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        store.save(Conversation(id=bad))  # type: ignore[arg-type]


def test_rename_and_delete(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path)
    kept = store.keep(None, "session-0001", [Turn("Who won?", _answer())])
    assert store.rename(kept.id, "  Match report  ").title == "Match report"  # type: ignore[union-attr]
    assert store.delete(kept.id) is True
    assert store.delete(kept.id) is False
    assert store.get(kept.id) is None
    assert store.rename(kept.id, "x") is None


def test_the_browser_key_is_kept(tmp_path: Path) -> None:
    assert ConversationStore(tmp_path).browser_key() == ConversationStore(tmp_path).browser_key()


@pytest.mark.integration
def test_rest_lists_gets_and_deletes_conversations(client) -> None:  # noqa: ANN001
    store = client.app.state.library.conversations
    kept = store.keep(None, "session-rest-01", [Turn("Who won?", _answer(), "extractive")])
    listed = client.get("/api/conversations", params={"session": "session-rest-01"}).json()
    assert [c["id"] for c in listed] == [kept.id] and listed[0]["turns"] == 1
    assert kept.id in [c["id"] for c in client.get("/api/conversations").json()]
    got = client.get(f"/api/conversations/{kept.id}").json()
    assert Answer.from_dict(got["turns"][0]["answer"]).to_dict() == _answer().to_dict()
    assert client.get("/api/conversations", params={"session": "../x"}).status_code == 400
    assert client.get("/api/conversations/bad..id").status_code == 400
    assert client.get("/api/conversations/%2e%2e%2f%2e%2e%2fmanifest").status_code in (400, 404)
    assert client.get("/api/conversations/ffffffffffffffff").status_code == 404
    assert client.delete(f"/api/conversations/{kept.id}").json() == {"deleted": kept.id}
    assert client.delete(f"/api/conversations/{kept.id}").status_code == 404
