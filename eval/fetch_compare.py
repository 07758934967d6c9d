"""Compare the HTML loader with trafilatura on article pages: boilerplate left, text lost, fields.

    python -m eval.fetch_compare [--markdown]

Pages: eval/corpus/web/*.html (invented pages with known boilerplate) and the sample corpus's
HTML files; eval/corpus/web/truth.json says what each should yield. Three extractors:

- parser+clean: the hand-written BeautifulSoup parser (`index.formats.parse_html`), then
  `index.clean`: how .html files loaded before trafilatura;
- trafilatura: its main text and metadata alone;
- htmldate: the publication date alone;
- now: `index.html_extract.extract_page` (each field from the extractor that did better),
  then `index.clean`: how fetched pages and .html files load now.

Citable text is the article text an extractor keeps (cleaned-off lines are metadata, not
citable). Text lost: share of the page's body paragraphs not found whole in the citable text;
boilerplate left: known boilerplate snippets found in it.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from core.records import Article
from index.formats import Meta, collapse_space
from index.formats import parse_html
from index.html_extract import byline, extract_page, htmldate_published, trafilatura_page
from index.load import build_article

WEB = Path(__file__).resolve().parent / "corpus" / "web"


@dataclass
class Row:
    page: str
    extractor: str
    lost: int
    body: int
    left: int
    boilerplate: int
    title: bool
    published: bool
    source: bool
    author: bool
    left_snippets: tuple[str, ...] = ()


def _norm(text: str | None) -> str:
    text = collapse_space((text or "").replace("’", "'").replace("“", '"').replace("”", '"'))
    return text


def _date(value: object) -> str | None:
    match = re.match(r"\d{4}-\d{2}-\d{2}", str(value or ""))
    return match.group(0) if match else None


def _score(page: str, name: str, truth: dict[str, object], text: str, title: str | None,
           published: object, source: str | None, author: str | None) -> Row:
    citable = _norm(text)
    body = [_norm(str(p)) for p in truth["body"]]  # type: ignore[attr-defined]
    junk = [str(b) for b in truth["boilerplate"]]  # type: ignore[attr-defined]
    lost = sum(1 for p in body if p not in citable)
    left = tuple(b for b in junk if _norm(b) in citable)
    return Row(page, name, lost, len(body), len(left), len(junk),
               _norm(title) == _norm(str(truth["title"])),
               _date(published) == truth["published"],
               (source or None) == truth["source"],
               (author or None) == truth["author"], left)


def _cleaned(path: Path, meta: Meta, blocks: list[str], author: str | None) -> Article | None:
    got = build_article(str(path), path.name, str(path), meta, blocks, [], path.stem,
                        byline(author))
    return got if isinstance(got, Article) else None


def compare(web: Path = WEB) -> list[Row]:
    truth = json.loads((web / "truth.json").read_text(encoding="utf-8"))
    rows: list[Row] = []
    for name, expected in truth.items():
        if name.startswith("_"):
            continue
        path = (web / name).resolve()
        html = path.read_text(encoding="utf-8")
        shown = path.name
        before = _cleaned(path, *parse_html(html), None)
        rows.append(_score(shown, "parser+clean", expected, before.text if before else "",
                           before.title if before else None,
                           before.published if before else None,
                           before.source if before else None, None))
        raw = trafilatura_page(html)
        rows.append(_score(shown, "trafilatura", expected,
                           "\n".join(raw.blocks) if raw else "",
                           raw.meta.title if raw else None, raw.meta.published if raw else None,
                           raw.meta.source if raw else None, raw.author if raw else None))
        rows.append(_score(shown, "htmldate", expected, "", None,
                           htmldate_published(html), None, None))
        page = extract_page(html)
        cleaned = _cleaned(path, page.meta, list(page.blocks), page.author)
        rows.append(_score(shown, "now", expected, cleaned.text if cleaned else "",
                           cleaned.title if cleaned else None,
                           cleaned.published if cleaned else None,
                           cleaned.source if cleaned else None, page.author))
    return rows


def _totals(rows: list[Row], extractor: str) -> dict[str, int]:
    mine = [r for r in rows if r.extractor == extractor]
    return {"pages": len(mine), "lost": sum(r.lost for r in mine),
            "body": sum(r.body for r in mine), "left": sum(r.left for r in mine),
            "boilerplate": sum(r.boilerplate for r in mine),
            "title": sum(r.title for r in mine), "published": sum(r.published for r in mine),
            "source": sum(r.source for r in mine), "author": sum(r.author for r in mine)}


def render(rows: list[Row]) -> str:
    names = ["parser+clean", "trafilatura", "htmldate", "now"]
    out = ["| extractor | body paragraphs lost | boilerplate snippets left | title | date | "
           "site name | author |", "|---|---|---|---|---|---|---|"]
    for name in names:
        t = _totals(rows, name)
        if name == "htmldate":
            out.append(f"| htmldate (date only) | - | - | - | {t['published']}/{t['pages']} "
                       "| - | - |")
            continue
        author = "-" if name == "parser+clean" else f"{t['author']}/{t['pages']}"
        out.append(f"| {name} | {t['lost']}/{t['body']} | {t['left']}/{t['boilerplate']} | "
                   f"{t['title']}/{t['pages']} | {t['published']}/{t['pages']} | "
                   f"{t['source']}/{t['pages']} | {author} |")
    out += ["", "Per page (lost body paragraphs / boilerplate left; fields wrong):", "",
            "| page | parser+clean | trafilatura | now |", "|---|---|---|---|"]
    pages = list(dict.fromkeys(r.page for r in rows))
    for page in pages:
        cells = []
        for name in ("parser+clean", "trafilatura", "now"):
            r = next(x for x in rows if x.page == page and x.extractor == name)
            wrong = [f for f in ("title", "published", "source", "author")
                     if not getattr(r, f) and not (name == "parser+clean" and f == "author")]
            cells.append(f"{r.lost}/{r.body} lost, {r.left} left"
                         + (f"; wrong: {', '.join(wrong)}" if wrong else ""))
        out.append(f"| {page} | " + " | ".join(cells) + " |")
    out += ["", "Boilerplate left in the citable text:", ""]
    for r in rows:
        if r.left_snippets:
            out.append(f"- {r.extractor}, {r.page}: " + "; ".join(f"\"{b}\"" for b in r.left_snippets))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.fetch_compare",
                                     description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--web", type=Path, default=WEB, help="folder of pages and truth.json")
    args = parser.parse_args(argv)
    print(render(compare(args.web)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
