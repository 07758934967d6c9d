"""The news desk with the packaged local model: a "latest" question gets the dated lead."""
from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import Settings


@pytest.mark.llm
@pytest.mark.slow
def test_local_engine_latest_answer_is_dated_and_cited(model_path: Path, model_cache: Path,
                                                      sample_dir: Path, tmp_path: Path) -> None:
    from rag.assistant import Assistant

    assistant = Assistant(Settings(data_dir=tmp_path / "data", engine="local",
                                   cache_dir=model_cache, llm_max_tokens=60, top_k=3))
    try:
        assistant.ingest([sample_dir / "ceasefire-update.html",
                          sample_dir / "strike-first-reports.md"])
        answer = assistant.ask("How many Turkish soldiers have been killed in the February 27 "
                               "air strike so far?")
        assert not answer.refused, answer.text
        # the newest relevant article leads, and its date is said outside the quote
        assert answer.text.startswith("As of "), answer.text
        for c in answer.citations:
            article = assistant.article(c.article_id)
            assert article is not None and article.text[c.start:c.end] == c.quote
        assert {c.value for c in answer.outlets} >= {"34", "22"}
    finally:
        assistant.close()
