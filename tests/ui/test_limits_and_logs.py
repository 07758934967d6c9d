"""One wording for the upload limit; start-up log lines are INFO, not warnings."""
from __future__ import annotations

import inspect
import re

from ui import server, service, uploads, web
from ui.service import size_text


def test_the_upload_limit_has_one_wording() -> None:
    assert size_text(5_000_000) == "5 MB"
    assert size_text(50_000) == "0.05 MB"
    for module in (service, uploads, web):
        source = inspect.getsource(module).replace(inspect.getsource(size_text), "")
        assert not re.search(r"1e6|\bMb\b|2 ?\*\* ?20", source), module.__name__


def test_start_up_lines_are_info() -> None:
    source = inspect.getsource(server._serve) + inspect.getsource(server._warm_engine_in_background)
    for line in ("newscite is serving", "indexed %s", "syncing %d feeds", "answer engine is loaded"):
        call = next(c for c in source.split("logger.")[1:] if line in c.split("\n", 1)[0]
                    or line in c[:120])
        assert call.startswith("info("), line
