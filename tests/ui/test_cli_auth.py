"""The server's token comes from a file or the environment; --auth on the command line warns."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pytest

from core.errors import ConfigError
from ui.cli import _auth_token


def _args(auth: str | None = None, auth_file: Path | None = None) -> argparse.Namespace:
    return argparse.Namespace(auth=auth, auth_file=auth_file)


def test_token_from_a_file_the_environment_or_the_command_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    secret = tmp_path / "token"
    secret.write_text("file-token-0123456789abcdef\n")
    monkeypatch.setenv("NEWSCITE_AUTH_TOKEN", "env-token-0123456789abcdef")
    assert _auth_token(_args(auth_file=secret)) == "file-token-0123456789abcdef"
    assert _auth_token(_args()) == "env-token-0123456789abcdef"
    with caplog.at_level(logging.WARNING):
        assert _auth_token(_args(auth="cli-token-0123456789abcdef")) == "cli-token-0123456789abcdef"
    assert "process list" in caplog.text
    monkeypatch.delenv("NEWSCITE_AUTH_TOKEN")
    assert _auth_token(_args()) is None
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ConfigError, match="empty"):
        _auth_token(_args(auth_file=tmp_path / "empty"))
    with pytest.raises(ConfigError, match="cannot read"):
        _auth_token(_args(auth_file=tmp_path / "missing"))
