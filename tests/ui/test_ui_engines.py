"""Only usable engines are offered (local when installed, openai when a server is configured);
`serve` takes the OpenAI-compatible server's options; a gradio_client follow-up without
`engine=` keeps the conversation's engine (real server processes)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from ui_helpers import QUESTION

from core.settings import Settings

pytestmark = [pytest.mark.server, pytest.mark.integration]


class _Assistant:
    """The two things Library.engines reads."""

    def __init__(self, **settings: Any) -> None:
        self.settings = Settings(data_dir=Path("unused"), **settings)


@pytest.mark.parametrize(("local", "url", "expected"), [
    (False, None, ["auto", "extractive"]),
    (True, None, ["auto", "extractive", "local"]),
    (False, "http://127.0.0.1:9/v1", ["auto", "extractive", "openai"]),
    (True, "http://127.0.0.1:9/v1", ["auto", "extractive", "local", "openai"]),
])
def test_engines_offered_are_the_usable_ones(monkeypatch, local, url, expected):
    import rag.llm
    from ui.service import Library

    monkeypatch.setattr(rag.llm, "is_local_available", lambda: local)
    library = Library(_Assistant(engine="extractive", openai_base_url=url))  # type: ignore[arg-type]
    assert library.engines() == expected


def test_the_configured_default_engine_is_always_offered(monkeypatch):
    import rag.llm
    from ui.service import Library

    monkeypatch.setattr(rag.llm, "is_local_available", lambda: False)
    library = Library(_Assistant(engine="local"))  # type: ignore[arg-type]
    assert library.engines() == ["auto", "extractive", "local"]


def test_serve_takes_openai_options_before_and_after_the_command():
    from ui.cli import _settings, build_parser

    for argv in (["serve", "--openai-url", "http://127.0.0.1:9/v1", "--openai-model", "m"],
                 ["--openai-url", "http://127.0.0.1:9/v1", "--openai-model", "m", "serve"]):
        settings = _settings(build_parser().parse_args(argv))
        assert (settings.openai_base_url, settings.openai_model) == ("http://127.0.0.1:9/v1",
                                                                     "m")
    env = {"NEWSCITE_OPENAI_BASE_URL": "http://127.0.0.1:8/v1"}
    from core.settings import load_settings
    assert load_settings(env=env).openai_base_url == "http://127.0.0.1:8/v1"


def _engine_choices(server) -> list[str]:  # noqa: ANN001
    config = httpx.get(server.url + "/config", timeout=30).json()
    radio = next(c for c in config["components"] if c["props"].get("elem_id") == "nc-engine")
    return [value for _, value in radio["props"]["choices"]]


def test_the_web_chat_offers_openai_only_with_a_server_configured(live_server, openai_server):
    from rag.llm import is_local_available

    local = ["local"] if is_local_available() else []
    assert _engine_choices(live_server) == ["auto", "extractive", *local]
    assert _engine_choices(openai_server) == ["auto", "extractive", *local, "openai"]
    assert httpx.get(openai_server.url + "/api/health", timeout=30).json()["engine"] == "openai"


def test_a_follow_up_without_engine_keeps_the_conversations_engine(openai_server):
    from gradio_client import Client

    failed = "The openai engine failed"  # the default engine has no server behind it here
    client = Client(openai_server.url + "/", verbose=False)
    first = client.predict(question=QUESTION, engine="extractive", api_name="/ask")[0]
    assert first["engine"] == "extractive" and first["citations"]
    assert not any(failed in n for n in first["notices"])
    follow = client.predict(question="Who is the governor of Hatay?", api_name="/ask")[0]
    assert "Dogan" in follow["text"]
    assert not any(failed in n for n in follow["notices"]), follow["notices"]
    # a new conversation without engine= gets the server's default (which fails over to an
    # extractive answer, saying so)
    fresh = Client(openai_server.url + "/", verbose=False).predict(question=QUESTION,
                                                                   api_name="/ask")[0]
    assert any(failed in n for n in fresh["notices"]), fresh["notices"]
