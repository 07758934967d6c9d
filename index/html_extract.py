"""Article pages: main text and metadata (title, author, date, site name) with trafilatura and htmldate."""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from functools import cache
from typing import Any

from index.formats import Meta, collapse_space, parse_html

logger = logging.getLogger(__name__)

__all__ = ["Extracted", "byline", "extract_page", "trafilatura_page"]

@dataclass(frozen=True)
class Extracted:
    """What one extractor found in a page: metadata and the body's paragraphs."""

    meta: Meta
    blocks: tuple[str, ...]
    author: str | None = None


def trafilatura_page(html: str, url: str | None = None) -> Extracted | None:
    """trafilatura's main text (its paragraphs, headings, list items and quotes, a line break
    inside one read as a space), title, author, date and site name; None when it finds no
    main text."""
    import trafilatura  # lazy: only HTML needs it

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            doc = trafilatura.bare_extraction(
                html, url=url, with_metadata=True, include_comments=False,
                include_tables=False, include_images=False, include_links=False,
                config=_config())
        except Exception as exc:  # noqa: BLE001 - a page it cannot parse falls back
            logger.info("trafilatura failed on %s: %s", url or "a page", exc)
            return None
    if doc is None or isinstance(doc, dict) or doc.body is None:
        return None
    blocks = tuple(_blocks(doc.body))
    if not blocks:
        return None
    meta = Meta(title=_clean(doc.title), source=_clean(doc.sitename), url=_clean(doc.url),
                published=_clean(doc.date))
    return Extracted(meta, blocks, _clean(doc.author))


_BLOCKS = frozenset({"p", "head", "item", "quote", "cell"})


def _blocks(body: Any) -> list[str]:
    """The text of each innermost block of trafilatura's output tree."""
    for lb in body.iter("lb"):  # a line break inside a block: a space
        lb.tail = " " + (lb.tail or "")
    out = []
    for el in body.iter(*_BLOCKS):
        if any(child is not el for child in el.iter(*_BLOCKS)):
            continue  # a block holding blocks: its inner ones are read instead
        text = collapse_space("".join(el.itertext()))
        if text:
            out.append(text)
    return out


@cache
def _config() -> Any:
    """trafilatura's settings, but keeping a short article's text: by default a main text
    under 250 characters makes it fall back to a whole-page reading that runs paragraphs,
    captions and forms together."""
    from trafilatura.settings import use_config

    config = use_config()
    config.set("DEFAULT", "MIN_EXTRACTED_SIZE", "1")
    config.set("DEFAULT", "MIN_OUTPUT_SIZE", "1")
    return config


def _clean(value: object) -> str | None:
    return collapse_space(value)[:300] or None if isinstance(value, str) else None


def htmldate_published(html: str, url: str | None = None) -> str | None:
    """The page's original publication date (YYYY-MM-DD) by htmldate, or None."""
    from htmldate import find_date

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            found = find_date(html, original_date=True, extensive_search=False, url=url)
        except Exception as exc:  # noqa: BLE001 - no date is a normal outcome
            logger.info("htmldate failed on %s: %s", url or "a page", exc)
            return None
    return found if isinstance(found, str) else None


def extract_page(html: str, url: str | None = None) -> Extracted:
    """An article page, each field from the extractor that measured better
    (eval/reports/fetch/): body, title and author from trafilatura, which left less
    boilerplate and read titles without the site's suffix; the date from trafilatura, else
    htmldate, else the page's meta tags; site name and canonical address from the meta tags,
    else trafilatura. When trafilatura finds no main text, the HTML loader's parser
    (`index.formats.parse_html`) reads the body."""
    own_meta, own_blocks = parse_html(html)
    found = trafilatura_page(html, url)
    if found is None:
        blocks: tuple[str, ...] = tuple(own_blocks)
        author = None
        extra = Meta()
    else:
        blocks, author, extra = found.blocks, found.author, found.meta
    published = extra.published or htmldate_published(html, url) or own_meta.published
    meta = Meta(title=extra.title or own_meta.title, source=own_meta.source or extra.source,
                url=own_meta.url or extra.url, published=published)
    return Extracted(meta, blocks, author)


def byline(author: str | None) -> tuple[str, ...]:
    """The author as a metadata line of the article ("By NAME"), never citable text."""
    return (f"By {author}",) if author else ()
