"""Export the indexed articles as JSON Lines and import such a file into another index."""
from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.errors import IndexError_, InputError
from core.records import (
    ID_CHARS,
    Article,
    IngestReport,
    Progress,
    Skipped,
    content_hash,
)
from index.load import web_url
from index.manifest import Manifest
from index.pipeline import Indexer

logger = logging.getLogger(__name__)

FORMAT = 1  # the "newscite_export" field of every line


def _records(manifest: Manifest) -> Iterator[dict[str, Any]]:
    keys: dict[str, list[str]] = {}
    for key, aid in manifest.db.execute("SELECT key, article_id FROM keys ORDER BY key"):
        keys.setdefault(aid, []).append(key)
    for aid in manifest.article_ids():  # sorted by id: the same index exports the same bytes
        article = manifest.article(aid)
        if article is None:
            continue
        yield {"newscite_export": FORMAT, "id": article.id, "title": article.title,
               "source": article.source, "url": article.url, "published": article.published,
               "text": article.text, "path": article.path, "key": article.key,
               "keys": keys.get(aid, []), "boilerplate": list(article.boilerplate),
               "content_hash": article.content_hash}


def export_jsonl(manifest: Manifest, path: str | Path) -> int:
    """Write every indexed article (text and all metadata) to `path`, one JSON object a line,
    sorted by id; returns the number written. The file is replaced atomically."""
    target = Path(path)
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    count = 0
    try:
        with open(partial, "w", encoding="utf-8", newline="\n") as out:
            for record in _records(manifest):
                out.write(json.dumps(record, ensure_ascii=False, sort_keys=False) + "\n")
                count += 1
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise IndexError_(f"cannot write the export file {target}: {exc.strerror}") from exc
    logger.info("exported %d articles to %s", count, target)
    return count


def _article(obj: object, where: str, warnings: list[str]) -> Article | Skipped:
    if not isinstance(obj, dict):
        return Skipped(where, "not a JSON object")
    title, text = obj.get("title"), obj.get("text")
    if not isinstance(text, str) or not text.strip():
        return Skipped(where, "no article text")
    if not isinstance(title, str):
        return Skipped(where, "no title")
    optional = {}
    for name in ("source", "url", "published", "path", "key"):
        value = obj.get(name)
        if value is not None and not isinstance(value, str):
            return Skipped(where, f"{name} must be a string")
        optional[name] = value or None
    boilerplate = obj.get("boilerplate") or []
    if not isinstance(boilerplate, list) or not all(isinstance(b, str) for b in boilerplate):
        return Skipped(where, "boilerplate must be a list of strings")
    digest = content_hash(title, text)
    article_id = digest[:ID_CHARS]
    given = obj.get("id")
    if given is not None and given != article_id:
        # ids are content-derived: an edited text gets the id its content has
        warnings.append(f"{where}: id {str(given)[:40]!r} does not match the text; "
                        f"imported as {article_id}")
    key = optional["key"] or f"import:{article_id}"
    return Article(id=article_id, title=title, text=text,
                   path=optional["path"] or key, key=key, source=optional["source"],
                   url=web_url(optional["url"]), published=optional["published"],
                   content_hash=digest, boilerplate=tuple(boilerplate))


def read_jsonl(path: str | Path) -> tuple[list[tuple[Article, list[str]]], list[Skipped],
                                          list[str]]:
    """Articles (each with all its source keys), skipped lines and warnings from an export."""
    source = Path(path)
    try:
        lines = source.read_text(encoding="utf-8").split("\n")
    except FileNotFoundError as exc:
        raise InputError(f"import file not found: {source}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the import file {source}: {exc}") from exc
    items: list[tuple[Article, list[str]]] = []
    skipped: list[Skipped] = []
    warnings: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{source.name}#{number}"
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            skipped.append(Skipped(where, "invalid JSON"))
            continue
        got = _article(obj, where, warnings)
        if isinstance(got, Skipped):
            skipped.append(got)
            continue
        extra = obj.get("keys") if isinstance(obj.get("keys"), list) else []
        keys = sorted({got.key, *(k for k in extra if isinstance(k, str) and k)})
        items.append((got, keys))
    return items, skipped, warnings


def import_jsonl(indexer: Indexer, path: str | Path, progress: Progress | None = None
                 ) -> IngestReport:
    """Index the articles of an export file as they are (no re-cleaning: same ids, texts,
    metadata and source keys); articles already indexed are left alone."""
    started = time.perf_counter()
    items, skipped, warnings = read_jsonl(path)
    report = indexer.ingest_articles([a for a, _ in items], progress,
                                     keys={k: a.id for a, ks in items for k in ks})
    return replace(report, skipped=tuple(skipped), warnings=tuple(warnings),
                   seconds=time.perf_counter() - started)
