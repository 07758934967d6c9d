"""Tests for index.load: every format, the seed articles, bad input and loader properties."""
from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.records import Article, Skipped
from index.clean import is_boilerplate
from index.formats import unwrap_inline_markup
from index.injection import strip_invisible
from index.load import load_file, load_paths

# The seeds are read in place from ../shared/corpus/seeds (the `seeds_dir` fixture in
# tests/conftest.py skips with a clear reason when shared/ is not beside the project).
SEED_000 = "000_39dc9dd94238abea.txt"
SEED_003 = "003_7a5f10418e31d292.txt"


def one(path: Path, **kwargs: int) -> Article | Skipped:
    items, _ = load_file(path, **kwargs)
    assert len(items) == 1
    return items[0]


def article(path: Path) -> Article:
    item = one(path)
    assert isinstance(item, Article), item
    return item


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def paragraphs(text: str) -> list[str]:
    return text.split("\n\n")


def raw_blocks(path: Path) -> list[str]:
    raw = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    return [block.strip() for block in re.split(r"\n\s*\n", raw) if block.strip()]


# --------------------------------------------------------------------------------- seed articles


def test_seed_000_reprint_with_share_line_note_and_footer(seeds_dir: Path) -> None:
    seed = seeds_dir / SEED_000
    art = article(seed)
    blocks = raw_blocks(seed)
    dropped = ("SHARE", "Editor's Note", "Copyright")
    expected = [block for block in blocks if not block.startswith(dropped)]
    assert len(expected) == len(blocks) - 3
    assert paragraphs(art.text) == expected  # every other paragraph verbatim, in order
    assert art.source == "Radio Free Europe/Radio Free Liberty"
    # The title is the lede's first sentence cut at a word; the lede stays in the body.
    assert art.title.endswith("…") and 40 <= len(art.title) <= 91
    assert expected[0].startswith(art.title[:-1]) and expected[0][len(art.title) - 1] == " "
    assert [line.split()[0] for line in art.boilerplate] == ["SHARE", "Editor's", "Copyright"]
    assert art.published is None and art.url is None
    assert art.key == str(seed.resolve()) and art.path == str(seed)


def test_seed_003_headline_tag_line_caption_and_developing_story(seeds_dir: Path) -> None:
    art = article(seeds_dir / SEED_003)
    blocks = raw_blocks(seeds_dir / SEED_003)
    headline = blocks[0]
    assert art.title == headline and len(headline) < 100 and not headline.endswith(".")

    def is_dropped(block: str) -> bool:
        first = block.split("\n")[0]
        tag_line = first.count(",") >= 3 and first == first.lower()
        return block == headline or tag_line or block.startswith("This is a developing story")

    expected = [block for block in blocks if not is_dropped(block)]
    assert len(expected) == len(blocks) - 3
    assert paragraphs(art.text) == expected
    tag_line, caption, developing = art.boilerplate
    assert tag_line.count(",") >= 3 and tag_line == tag_line.lower()
    assert re.search(r"\. AFP/Getty Images/[A-Z ]+$", caption) and "\n" not in caption
    assert developing.startswith("This is a developing story")
    assert "Getty" not in art.text
    assert art.source is None


def test_seed_text_has_no_boilerplate_and_ids_are_content_hashes(seeds_dir: Path) -> None:
    arts = [item for item in load_paths([seeds_dir]) if isinstance(item, Article)]
    assert [Path(a.path).name for a in arts] == sorted(p.name for p in seeds_dir.glob("*.txt"))
    for art in arts:
        assert not any(is_boilerplate(p) for p in paragraphs(art.text))
        assert not any(line in art.text for line in art.boilerplate)
        assert len(art.id) == 16 and art.content_hash.startswith(art.id)
    assert [a.id for a in arts] == [a.id for a in load_paths([seeds_dir]) if isinstance(a, Article)]


# ----------------------------------------------------------------------------------------- .txt


def test_txt_headline_byline_date_and_crlf(tmp_path: Path) -> None:
    content = (
        "Ceasefire Talks Stall in Moscow\r\n"
        "By Jane Example and John Sample\r\n"
        "Published: February 28, 2020\r\n\r\n"
        "Talks between the two delegations ended without a deal.\r\n"
        "A second line of the same paragraph.\r\n\r\n"
        "Officials said they would meet again.\r\n"
    )
    art = article(write(tmp_path, "talks.txt", content))
    assert art.title == "Ceasefire Talks Stall in Moscow"
    assert art.published == "2020-02-28"
    assert paragraphs(art.text) == [
        "Talks between the two delegations ended without a deal.\nA second line of the same paragraph.",
        "Officials said they would meet again.",
    ]
    assert art.boilerplate == ("By Jane Example and John Sample", "Published: February 28, 2020")
    assert "\r" not in art.text


def test_txt_lede_title_stays_in_body_and_is_cut_at_a_word(tmp_path: Path) -> None:
    lede = ("Officials in the northern province said on Thursday that dozens of families had fled "
            "their homes overnight as shelling intensified near the border. More followed.")
    art = article(write(tmp_path, "lede.txt", lede + "\n\nSecond paragraph."))
    assert paragraphs(art.text) == [lede, "Second paragraph."]
    assert art.title.endswith("…") and len(art.title) <= 91
    assert lede.startswith(art.title[:-1]) and not art.title[:-1].endswith(" ")


def test_txt_short_lede_title_is_its_first_sentence(tmp_path: Path) -> None:
    art = article(write(tmp_path, "short.txt", "Dr. Example resigned. The board met later.\n"))
    assert art.title == "Dr. Example resigned"
    assert art.text == "Dr. Example resigned. The board met later."


def test_txt_hard_wrapped_lede_is_not_a_headline(tmp_path: Path) -> None:
    content = "Officials said on Thursday that the talks\nhad collapsed after two days.\n\nMore text."
    art = article(write(tmp_path, "wrapped.txt", content))
    assert art.text.startswith("Officials said on Thursday that the talks\nhad")
    assert art.title == "Officials said on Thursday that the talks had collapsed after two days"


def test_txt_byline_before_headline(tmp_path: Path) -> None:
    art = article(write(tmp_path, "by.txt", "By Jane Example\n\nThe Headline Here\nDate: 28 Feb 2020\n\nBody.\n"))
    assert (art.title, art.text, art.published) == ("The Headline Here", "Body.", "2020-02-28")
    assert art.boilerplate == ("By Jane Example", "Date: 28 Feb 2020")


def test_txt_headline_only_is_skipped(tmp_path: Path) -> None:
    assert one(write(tmp_path, "h.txt", "Just A Headline\n")) == Skipped(
        str(tmp_path / "h.txt"), "no article text after cleaning")


def test_txt_only_boilerplate_is_skipped(tmp_path: Path) -> None:
    item = one(write(tmp_path, "b.txt", "SHARE\n\nAdvertisement\n\nAll rights reserved.\n"))
    assert isinstance(item, Skipped) and item.reason == "no article text after cleaning"


# ------------------------------------------------------------------------------------------ .md


def test_markdown_front_matter_and_light_markup(tmp_path: Path) -> None:
    content = (
        "---\ntitle: \"A *Strike* in the North\"\noutlet: Levant Ledger\ndate: 2020-02-28\n"
        "link: https://example.org/strike\nauthor: Jane Example\n---\n"
        "# A *Strike* in the North\n\n"
        "Officials said **nine** soldiers were [wounded](https://example.org/w) on _Thursday_.\n"
        "![a photo](photo.jpg)\n\n"
        "## Reaction\n\n"
        "Share this article\n\n"
        "The snake_case_name and 2*3*4 stay as written.\n"
    )
    art = article(write(tmp_path, "strike.md", content))
    assert art.title == "A Strike in the North"
    assert (art.source, art.published, art.url) == ("Levant Ledger", "2020-02-28", "https://example.org/strike")
    assert paragraphs(art.text) == [
        "Officials said nine soldiers were wounded on Thursday.",
        "Reaction",
        "The snake_case_name and 2*3*4 stay as written.",
    ]
    assert art.boilerplate == ("Share this article",)


def test_markdown_invalid_yaml_still_loads_body_with_warning(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.md", "---\ntitle: [unclosed\nsource: x: y\n---\nBody sentence here.\n")
    items, warnings = load_file(path)
    assert isinstance(items[0], Article) and items[0].text == "Body sentence here."
    assert len(warnings) == 1 and "YAML" in warnings[0]


def test_markdown_front_matter_scalars_stay_strings(tmp_path: Path) -> None:
    path = write(tmp_path, "s.md", "---\ntitle: No\ndate: 2020-02-30\nsource: {name: Outlet}\n---\nBody.\n")
    items, warnings = load_file(path)
    art = items[0]
    assert isinstance(art, Article)
    assert (art.title, art.source, art.published) == ("No", "Outlet", None)
    assert warnings == [f"{path}: unparseable date '2020-02-30'; published left empty"]


def test_markdown_title_falls_back_to_first_heading(tmp_path: Path) -> None:
    art = article(write(tmp_path, "h.md", "# Heading Title\n\nBy Jane Example\n\nBody paragraph.\n"))
    assert art.title == "Heading Title"
    assert art.text == "Body paragraph."


# ---------------------------------------------------------------------------------------- .html


HTML = """<!doctype html><html><head><title>Fallback Title</title>
<meta property="og:title" content="Strike Kills 33 &amp; Wounds 32">
<meta property="og:site_name" content="Example News">
<meta property="article:published_time" content="2020-02-28T18:00:00+03:00">
<link rel="canonical" href="https://example.org/strike">
<script>var tracking = "do not index";</script><style>p { color: red }</style></head>
<body><nav><p>Home | World</p></nav><header><h1>Strike</h1></header>
<article><p>First   paragraph&nbsp;with <b>bold</b> text and<br>a line break.</p>
<figure><img src="x.jpg"><figcaption>A caption. REUTERS/Jane Example</figcaption></figure>
<h2>Reaction</h2><ul><li><p>Item one.</p></li><li>Item two.</li></ul>
<blockquote>Quoted &ldquo;words&rdquo;.</blockquote><aside><p>Related stories</p></aside>
<form><p>Subscribe</p></form><p>Advertisement</p></article>
<footer><p>&copy; 2020 Example News</p></footer></body></html>"""


def test_html_meta_and_block_text(tmp_path: Path) -> None:
    art = article(write(tmp_path, "strike.html", HTML))
    assert art.title == "Strike Kills 33 & Wounds 32"
    assert (art.source, art.published, art.url) == ("Example News", "2020-02-28", "https://example.org/strike")
    assert paragraphs(art.text) == [
        "First paragraph with bold text and a line break.",
        "Reaction", "Item one.", "Item two.", "Quoted “words”.",
    ]
    assert art.boilerplate == ("Advertisement",)


def test_html_fallbacks_title_h1_time_and_og_url(tmp_path: Path) -> None:
    html = ("<html><head><meta property='og:url' content='https://example.org/x'></head><body>"
            "<main><h1>Main Headline</h1><time datetime='2020-03-01T09:00Z'>1 March</time>"
            "<p>Only paragraph.</p></main></body></html>")
    art = article(write(tmp_path, "x.htm", html))
    assert (art.title, art.published, art.url, art.text) == (
        "Main Headline", "2020-03-01", "https://example.org/x", "Only paragraph.")


def test_html_without_block_elements_uses_text_lines(tmp_path: Path) -> None:
    art = article(write(tmp_path, "plain.html", "<html><body><div>Plain Title</div><div>Some text.</div></body></html>"))
    assert art.title == "Plain Title" and art.text == "Some text."


# --------------------------------------------------------------------------------- .json/.jsonl


def test_jsonl_records_bad_line_and_blank_lines(tmp_path: Path) -> None:
    lines = [
        json.dumps({"title": "One", "text": "Body one.\r\n\r\nMore.", "date": "28 Feb 2020",
                    "source": {"name": "Src"}, "url": "https://example.org/1"}),
        "",
        "{bad json",
        json.dumps({"title": "No text"}),
        json.dumps({"content": "Lede sentence here. Second sentence.", "published": "sometime"}),
        json.dumps(["not", "an", "object"]),
    ]
    path = write(tmp_path, "feed.jsonl", "\n".join(lines) + "\n")
    items, warnings = load_file(path)
    assert [type(i).__name__ for i in items] == ["Article", "Skipped", "Skipped", "Article", "Skipped"]
    first, bad, missing, fourth, not_object = items
    assert isinstance(first, Article) and isinstance(fourth, Article)
    assert (first.title, first.text, first.source, first.published) == ("One", "Body one.\n\nMore.", "Src", "2020-02-28")
    assert first.key == f"{path.resolve()}#1" and fourth.key == f"{path.resolve()}#5"
    assert bad.path == f"{path}#3" and bad.reason.startswith("invalid JSON: ")
    assert missing.path == f"{path}#4" and "text" in missing.reason
    assert not_object.path == f"{path}#6"
    assert fourth.title == "Lede sentence here" and fourth.published is None
    assert warnings == [f"{path}#5: unparseable date 'sometime'; published left empty"]


def test_json_list_and_single_object(tmp_path: Path) -> None:
    records = [{"title": "L1", "body": "First body."},
               {"headline": "L2", "content": ["p1.", "p2."], "published_at": "2020/02/28", "outlet": "O"},
               {"title": "missing text"}]
    path = write(tmp_path, "list.json", json.dumps(records))
    items, _ = load_file(path)
    assert [getattr(i, "key", getattr(i, "path", "")) for i in items] == [
        f"{path.resolve()}#1", f"{path.resolve()}#2", f"{path}#3"]
    second = items[1]
    assert isinstance(second, Article)
    assert (second.title, second.text, second.published, second.source) == ("L2", "p1.\n\np2.", "2020-02-28", "O")
    single = write(tmp_path, "one.json", json.dumps({"title": "T", "text": "Body.", "link": "https://e.org"}))
    art = article(single)
    assert art.key == str(single.resolve()) and art.url == "https://e.org"


def test_json_lone_surrogates_are_replaced(tmp_path: Path) -> None:
    art = article(write(tmp_path, "s.json", '{"title": "T\\ud800", "text": "A\\udc00B."}'))
    assert (art.title, art.text) == ("T\ufffd", "A\ufffdB.")
    art.text.encode("utf-8")


@pytest.mark.parametrize(("content", "reason"), [
    ("{not json", "invalid JSON"),
    ("42", "JSON is neither an object nor a list of objects"),
    ("[]", "no records in JSON list"),
    ('{"title": "x"}', "no article text"),
])
def test_json_unusable(tmp_path: Path, content: str, reason: str) -> None:
    item = one(write(tmp_path, "bad.json", content))
    assert isinstance(item, Skipped) and item.reason.startswith(reason)


# ------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(("name", "content", "reason"), [
    ("empty.txt", b"", "empty file"),
    ("blank.md", b"  \n\t\r\n  \n", "empty file"),
    ("bom-only.txt", b"\xef\xbb\xbf\n", "empty file"),
    ("nul.txt", b"Headline\n\nText with a \x00 NUL byte.", "binary file"),
    ("control.txt", bytes(range(1, 9)) * 100, "binary file"),
    ("image.html", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
])
def test_unusable_files_are_skipped(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    assert one(write(tmp_path, name, content)) == Skipped(str(tmp_path / name), reason)


def test_invalid_utf8_falls_back_with_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path, "cp.txt", b"Caf\xe9 Owners Protest\n\nThey said \x93enough\x94 on Monday.\n")
    with caplog.at_level(logging.WARNING, logger="index.load"):
        items, warnings = load_file(path)
    art = items[0]
    assert isinstance(art, Article)
    assert art.title == "Café Owners Protest" and art.text == "They said “enough” on Monday."
    assert warnings == [f"{path}: not valid UTF-8, decoded as cp1252"]
    assert warnings[0] in caplog.text


def test_bom_and_utf16_are_decoded(tmp_path: Path) -> None:
    art = article(write(tmp_path, "bom.txt", b"\xef\xbb\xbfHeadline\n\nBody.\n"))
    assert art.title == "Headline"
    art16 = article(write(tmp_path, "u16.txt", "Headline\r\n\r\nBody.\r\n".encode("utf-16")))
    assert (art16.title, art16.text) == ("Headline", "Body.")


def test_cr_only_line_endings(tmp_path: Path) -> None:
    art = article(write(tmp_path, "mac.txt", b"Headline\r\rFirst.\rSecond line.\r\rThird."))
    assert paragraphs(art.text) == ["First.\nSecond line.", "Third."]


def test_file_too_large(tmp_path: Path) -> None:
    item = one(write(tmp_path, "big.txt", "Headline\n\n" + "word " * 1000), max_bytes=1000)
    assert isinstance(item, Skipped) and item.reason.startswith("file too large (")


def test_ten_megabyte_article_loads_quickly(tmp_path: Path) -> None:
    paragraph = ("Officials said the convoy crossed the border on Thursday, and residents reported "
                 "heavy shelling near the town overnight, according to a local monitor. ") * 4
    count = 10_000_000 // (len(paragraph) + 2) + 1
    body = "\n\n".join(f"{i} {paragraph.strip()}" for i in range(count))
    path = write(tmp_path, "huge.txt", "A Very Long Report\n\n" + body)
    assert path.stat().st_size >= 10_000_000
    started = time.perf_counter()
    art = article(path)
    assert time.perf_counter() - started < 2.0
    assert art.title == "A Very Long Report" and len(art.text) == len(body)


@pytest.mark.parametrize("ext", ["txt", "md", "jsonl", "html"])
@pytest.mark.parametrize("line", ["x" * 100_000, "[" * 100_000, "*a" * 50_000, "# " + "y" * 100_000,
                                  "-" * 100_000, "a " * 50_000])
def test_huge_single_line_is_linear(tmp_path: Path, ext: str, line: str) -> None:
    content = json.dumps({"text": line}) if ext == "jsonl" else line
    path = write(tmp_path, f"long.{ext}", content)
    started = time.perf_counter()
    items, _ = load_file(path)
    assert time.perf_counter() - started < 1.0
    assert len(items) == 1


def test_unparseable_published_line_is_a_warning_not_a_skip(tmp_path: Path) -> None:
    path = write(tmp_path, "d.txt", "Headline\nPublished: the other day\n\nBody text.\n")
    items, warnings = load_file(path)
    assert isinstance(items[0], Article) and items[0].published is None
    assert warnings == [f"{path}: unparseable date 'the other day'; published left empty"]


def test_missing_paths_and_unsupported_files(tmp_path: Path) -> None:
    write(tmp_path, "notes.xyz", "ignored in a folder")
    named = write(tmp_path, "named.xyz", "x")
    missing = tmp_path / "nope"
    items = list(load_paths([missing, tmp_path, named, tmp_path / "gone.txt"]))
    assert items == [
        Skipped(str(missing), "not found"),
        Skipped(str(named), "unsupported file type .xyz"),
        Skipped(str(tmp_path / "gone.txt"), "not found"),
    ]
    assert load_file(tmp_path / "README") == ([Skipped(str(tmp_path / "README"), "not found")], [])


def test_folder_walk_is_sorted_skips_hidden_and_dedupes(tmp_path: Path) -> None:
    for name in ["b.txt", "a.md", "sub/c.txt", "sub/.hidden.txt", ".git/d.txt", "z/.e/f.txt"]:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"Headline {path.stem}\n\nBody of {name}.\n", encoding="utf-8")
    warnings: list[str] = []
    items = list(load_paths([tmp_path, tmp_path / "b.txt"], warnings=warnings))
    assert [Path(i.path).relative_to(tmp_path).as_posix() for i in items] == ["a.md", "b.txt", "sub/c.txt"]
    assert all(isinstance(i, Article) for i in items) and warnings == []


def test_hidden_file_named_explicitly_is_loaded(tmp_path: Path) -> None:
    assert isinstance(one(write(tmp_path, ".draft.txt", "Headline\n\nBody.\n")), Article)


# ----------------------------------------------------------------------------------- properties

PIECES = st.sampled_from([
    "\n", "\n\n", "\r\n", "\r", " ", "SHARE", "By Jane Example", "Published: 2020-02-28",
    "Photo: x", "war, idlib, turkey", "Soldiers wait. AFP/Getty Images/JOHN EXAMPLE", "Headline",
    "Said the minister.", "\ufeff", "\t", "© 2020 Outlet. All rights reserved.", "—", "…",
])
ARBITRARY = st.lists(st.text() | PIECES, max_size=12).map("".join)
PLAIN = st.lists(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="#*_[]()!>`~-=|<&")) | PIECES,
                 max_size=12).map("".join)
PROPERTY = settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])


def decoded_source(text: str) -> str:
    """The text as the loaders read it: no BOM, \\n line ends, inline markup unwrapped and
    invisible characters dropped (both documented normalisations)."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return strip_invisible(unwrap_inline_markup(text))


def loaded(path: Path) -> list[Article | Skipped]:
    """Load a file and check the loader neither raised nor hid an unexpected error."""
    items, warnings = load_file(path)
    assert all(isinstance(item, (Article, Skipped)) for item in items)
    assert all(isinstance(w, str) for w in warnings)
    assert not any(isinstance(i, Skipped) and i.reason.startswith("could not be parsed") for i in items)
    return items


def check_loaded(path: Path, source: str) -> None:
    items = loaded(path)
    again, _ = load_file(path)
    assert [getattr(i, "id", None) for i in items] == [getattr(i, "id", None) for i in again]
    for item in items:
        if isinstance(item, Article):
            assert item.text and item.title
            for paragraph in paragraphs(item.text):
                assert paragraph and paragraph in source


@PROPERTY
@given(text=ARBITRARY)
def test_txt_never_raises_and_paragraphs_are_verbatim(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, "p.txt", text.encode("utf-8"))
    check_loaded(path, decoded_source(text))


@PROPERTY
@given(text=ARBITRARY)
def test_md_never_raises(tmp_path: Path, text: str) -> None:
    items = loaded(write(tmp_path, "p.md", text.encode("utf-8")))
    assert all(isinstance(i, Skipped) or i.text for i in items)


@PROPERTY
@given(text=st.lists(ARBITRARY | st.sampled_from(["<p>", "</p>", "<article>", "<br>", "<script>", "<h1>",
                                                  "<meta property='og:title' content='x'>", "&amp;"]),
                     max_size=10).map("".join))
def test_html_never_raises(tmp_path: Path, text: str) -> None:
    items = loaded(write(tmp_path, "p.html", text.encode("utf-8")))
    assert all(isinstance(i, Skipped) or i.text for i in items)


@PROPERTY
@given(text=PLAIN)
def test_md_without_markup_keeps_paragraphs_verbatim(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, "q.md", text.encode("utf-8"))
    check_loaded(path, decoded_source(text))


@PROPERTY
@given(text=ARBITRARY)
def test_jsonl_never_raises_on_arbitrary_text(tmp_path: Path, text: str) -> None:
    loaded(write(tmp_path, "p.jsonl", text.encode("utf-8")))


@PROPERTY
@given(records=st.lists(st.fixed_dictionaries(
    {"text": ARBITRARY}, optional={"title": st.text(max_size=40), "date": st.text(max_size=20)}), max_size=4))
def test_jsonl_records_keep_paragraphs_verbatim(tmp_path: Path, records: list[dict[str, str]]) -> None:
    path = write(tmp_path, "r.jsonl", "\n".join(json.dumps(r) for r in records))
    items = loaded(path)
    for item in items:
        if isinstance(item, Article):
            number = int(item.key.rsplit("#", 1)[1])
            source = decoded_source(records[number - 1]["text"])
            assert all(p in source for p in paragraphs(item.text))


@pytest.mark.parametrize("suffix", [".txt", ".md", ".json"])
def test_inline_html_stays_inside_its_sentence(tmp_path: Path, suffix: str) -> None:
    body = ("The Morrow canal lock was <b>rebuilt</b> at a cost of <i>12 million</i> "
            "euros, the <a href='https://example.org/x'>river authority</a> said.<br>"
            "It <span class=\"x\">reopens</span> in <em>May</em>.")
    path = tmp_path / f"canal{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps({"title": "Canal lock rebuilt", "text": body}))
    else:
        path.write_text(f"Canal lock rebuilt\n\n{body}\n")
    got = article(path)
    assert ("The Morrow canal lock was rebuilt at a cost of 12 million euros, the river "
            "authority said.") in got.text
    assert "It reopens in May." in got.text
    assert "<" not in got.text and not got.boilerplate


@pytest.mark.parametrize("url,kept", [
    ("https://example.org/a", True), ("HTTP://example.org/a", True),
    ("javascript:alert(1)", False), ("data:text/html,<b>x</b>", False),
    ("file:///etc/passwd", False), ("  JavaScript:alert(1)", False), ("example.org/a", False),
])
def test_only_web_addresses_are_kept_as_urls(tmp_path: Path, url: str, kept: bool) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"title": "Canal", "url": url,
                                "text": "The canal reopened on Monday after repairs."}))
    assert (article(path).url is not None) is kept


def test_a_time_tag_detached_while_parsing_keeps_its_date(tmp_path: Path) -> None:
    """A fuzzed page (from the project's web fixtures) whose <time> the <br> rewrite
    detaches: the loader reads its date instead of skipping the file as unparseable."""
    from index.load import load_file

    page = tmp_path / "page.html"
    page.write_bytes((Path(__file__).parent / "data" / "time-tag-detached.html").read_bytes())
    items, _ = load_file(page, max_bytes=1_000_000)
    assert [type(i).__name__ for i in items] == ["Article"]
