"""Settings: string paths, validation and the TOML/environment layering."""
from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.settings import Settings, load_settings


def test_settings_accept_string_paths():
    s = Settings(data_dir=".newscite", llm_model_path="~/m.gguf")
    assert s.data_dir == Path(".newscite") and s.llm_model_path == Path.home() / "m.gguf"


def test_invalid_values_are_config_errors():
    with pytest.raises(ConfigError, match="engine"):
        Settings(engine="gpt")
    with pytest.raises(ConfigError, match="top_k"):
        Settings(top_k=0)
    with pytest.raises(ConfigError, match="misnumbered"):
        Settings(misnumbered="fix")
    with pytest.raises(ConfigError, match="chroma_url"):
        Settings(chroma_url="localhost:8000")


def test_toml_then_environment_then_overrides(tmp_path):
    config = tmp_path / "n.toml"
    config.write_text('[newscite]\ntop_k = 4\nengine = "extractive"\nrerank = false\n')
    s = load_settings(config, env={"NEWSCITE_TOP_K": "5"}, data_dir=tmp_path / "d")
    assert (s.top_k, s.engine, s.rerank, s.data_dir) == (5, "extractive", False, tmp_path / "d")
    config.write_text("[newscite]\nbogus = 1\n")
    with pytest.raises(ConfigError, match="unknown settings"):
        load_settings(config, env={})
