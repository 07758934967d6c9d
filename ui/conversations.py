"""Conversations of the web chat kept in the data folder: `conversations/<id>.json`, one file
each, written atomically; every answer is stored as `Answer.to_dict()`."""
from __future__ import annotations

import json
import logging
import os
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import InputError
from core.records import Answer

logger = logging.getLogger(__name__)

FOLDER = "conversations"
_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")  # conversation and browser-session ids
MAX_NAME = 120


def check_id(value: object, what: str = "conversation id") -> str:
    """`value` when it is a plain id (letters, digits, - and _; 8 to 64 characters), else
    InputError: an id names a file, so it can never hold a path."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise InputError(f"not a valid {what}")
    return value


def new_id() -> str:
    return secrets.token_hex(8)


@dataclass
class Turn:
    """A question, its checked answer and the engine the question asked for ('' = default)."""

    question: str
    answer: Answer
    engine: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"question": self.question, "engine": self.engine,
                "answer": self.answer.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Turn:
        return cls(question=str(data["question"]), answer=Answer.from_dict(data["answer"]),
                   engine=str(data.get("engine") or ""))


@dataclass
class Conversation:
    id: str
    session: str = ""  # the browser session that holds it ('' for none)
    name: str = ""  # a name the user gave it; else its first question is its title
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    turns: list[Turn] = field(default_factory=list)

    @property
    def title(self) -> str:
        if self.name:
            return self.name
        return self.turns[0].question if self.turns else "New conversation"

    def summary(self) -> dict[str, Any]:
        """What a list shows: no answers."""
        return {"id": self.id, "session": self.session, "name": self.name, "title": self.title,
                "created": self.created, "updated": self.updated, "turns": len(self.turns)}

    def to_dict(self) -> dict[str, Any]:
        return {**self.summary(), "turns": [t.to_dict() for t in self.turns]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Conversation:
        return cls(id=check_id(data["id"]), session=str(data.get("session") or ""),
                   name=str(data.get("name") or ""), created=float(data["created"]),
                   updated=float(data["updated"]),
                   turns=[Turn.from_dict(t) for t in data.get("turns") or []])


class ConversationStore:
    """The conversations of one data folder. A file that cannot be read is skipped (one log
    line), never an error for the whole list."""

    def __init__(self, data_dir: Path | str) -> None:
        self.folder = Path(data_dir) / FOLDER
        self._lock = threading.Lock()

    def _path(self, conversation_id: str) -> Path:
        return self.folder / f"{check_id(conversation_id)}.json"

    def get(self, conversation_id: str) -> Conversation | None:
        path = self._path(conversation_id)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            conversation = Conversation.from_dict(data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError, InputError) as exc:
            logger.warning("skipped the unreadable conversation file %s: %s", path.name,
                           type(exc).__name__)
            return None
        if conversation.id != conversation_id:
            logger.warning("skipped the conversation file %s: it holds another id", path.name)
            return None
        return conversation

    def list(self, session: str | None = None) -> list[Conversation]:
        """Every readable conversation (of `session`, when given), the latest first."""
        if session is not None:
            check_id(session, "session id")
        out = []
        try:
            paths = sorted(self.folder.glob("*.json"))
        except OSError:
            return []
        for path in paths:
            if not _ID.fullmatch(path.stem):
                continue
            conversation = self.get(path.stem)
            if conversation is not None and (session is None or conversation.session == session):
                out.append(conversation)
        return sorted(out, key=lambda c: c.updated, reverse=True)

    def save(self, conversation: Conversation) -> Conversation:
        """Write it whole (a temporary file renamed over the old one)."""
        path = self._path(conversation.id)
        conversation.name = conversation.name.strip()[:MAX_NAME]
        data = json.dumps(conversation.to_dict(), ensure_ascii=False)
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".conversation-", suffix=".tmp", dir=self.folder)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return conversation

    def keep(self, conversation_id: str | None, session: str, turns: Sequence[Turn]
             ) -> Conversation:
        """Store `turns` as the whole of a conversation (a new one when `conversation_id` is
        empty or gone); saving the same turns again changes nothing but the time."""
        conversation = self.get(conversation_id) if conversation_id else None
        if conversation is None:
            conversation = Conversation(id=conversation_id or new_id(), session=session)
        conversation.turns = list(turns)
        conversation.updated = time.time()
        return self.save(conversation)

    def browser_key(self) -> str:
        """The key the web page's browser storage is sealed with, kept in the folder so a
        browser's session outlives a server restart."""
        path = self.folder / ".browser-key"
        try:
            return path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            pass
        key = secrets.token_hex(32)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            path.write_text(key, encoding="ascii")
            os.chmod(path, 0o600)
        except OSError as exc:
            logger.warning("cannot keep the browser key in %s: %s", self.folder, exc)
        return key

    def rename(self, conversation_id: str, name: str) -> Conversation | None:
        conversation = self.get(conversation_id)
        if conversation is None:
            return None
        conversation.name = name
        return self.save(conversation)

    def delete(self, conversation_id: str) -> bool:
        try:
            self._path(conversation_id).unlink()
        except FileNotFoundError:
            return False
        return True
