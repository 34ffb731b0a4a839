"""Kinds of text blocks and the document as Markdown; outline titles come out as headings."""

import io

import pytest

from bench import structure_rows
from core.jobs import structure
from tests.support.corpus import GOOD


def block(text, size=10.0, font="Times-Roman", bold=False):
    return {"text": text, "bbox": [0, 0, 1, 1], "size": size, "font": font, "bold": bold}


def page(number, *blocks):
    return {"page": number, "blocks": list(blocks)}


BODY = "A paragraph of body text that goes on for a while.\nAnd a second line of it.\n"


def test_kinds_follow_size_weight_and_markers_relative_to_the_body():
    pages = structure.classify(
        [
            page(
                1,
                block("A Title\n", size=20),
                block(BODY),
                block("Section\n", size=14),
                block(BODY),
                block("Bold run-in heading\n", bold=True),
                block("• first point\n"),
                block("2) second point\n"),
                block("Figure 3: a plot\n"),
                block("2.1 Tokenizer\n"),
                block("INTRODUCTION\n", size=8),
                block("12\n"),
                block(BODY),
            )
        ]
    )
    kinds = [(b["kind"], b.get("level")) for b in pages[0]["blocks"]]
    assert kinds == [
        ("heading", 1),
        ("paragraph", None),
        ("heading", 2),
        ("paragraph", None),
        ("heading", 3),
        ("list_item", None),
        ("list_item", None),
        ("caption", None),
        ("heading", 3),
        ("heading", 3),
        ("other", None),
        ("paragraph", None),
    ]


def test_table_of_contents_lines_and_sentences_are_not_headings():
    pages = structure.classify(
        [
            page(
                1,
                block(BODY),
                block(BODY),
                block("2.2 Model . . . . . . 4\n"),
                block("Done.\n", bold=True),
            )
        ]
    )
    assert [b["kind"] for b in pages[0]["blocks"]] == ["paragraph"] * 4


def test_markdown_has_the_outline_page_comments_headings_and_items():
    pages = structure.classify(
        [
            page(1, block("Intro\n", size=16), block("word-\nbreak " + BODY), block("- item\n")),
            page(2, block("Next\n", size=16), block(BODY)),
        ]
    )
    outline = [{"level": 1, "title": "Intro", "page": 1}, {"level": 2, "title": "Next", "page": 2}]
    text = structure.markdown(pages, outline)
    assert text.startswith("## Contents\n\n- Intro (p. 1)\n  - Next (p. 2)\n")
    assert "<!-- page 1 -->\n\n# Intro\n" in text
    assert "wordbreak A paragraph of body text" in text
    assert "- item\n" in text and "- - item" not in text
    assert "<!-- page 2 -->\n\n# Next\n" in text


@pytest.mark.parametrize("outline", [[], [{"level": 1, "title": "Intro", "page": 1}]])
def test_markdown_written_a_page_at_a_time_is_the_same_bytes(outline):
    pages = structure.classify(
        [
            page(1, block("Intro\n", size=16), block("word-\nbreak " + BODY), block("12\n")),
            page(2),
            page(3, block("Next\n", size=16), block("- item\n"), block(BODY)),
        ]
    )
    written = io.BytesIO()
    structure.write_markdown(written, iter(pages), outline, title="T")
    assert written.getvalue().decode("utf-8") == structure.markdown(pages, outline, title="T")
    empty = io.BytesIO()
    structure.write_markdown(empty, iter([]), [])
    assert empty.getvalue().decode("utf-8") == structure.markdown([], [])


def test_pages_without_blocks_fall_back_to_their_paragraphs():
    blocks = structure.fallback_blocks("one\ntwo\n\n\nthree\n")
    assert [b["text"] for b in blocks] == ["one\ntwo\n", "three\n"]
    assert all(b["bbox"] is None for b in blocks)


# The share of outline titles that come out as Markdown headings, per corpus file with an
# outline (bench row n measures the two books as well): the goal is 0.8.
@pytest.mark.parametrize("name", structure_rows.OUTLINED)
def test_outline_titles_come_out_as_markdown_headings(name):
    found, total = structure_rows.heading_share(GOOD / name)
    assert total >= 4
    assert found / total >= structure_rows.HEADING_SHARE_GOAL, (name, found, total)


HOSTILE = [
    "<img src=x onerror=alert(1)> and <script>alert(2)</script>",
    "[click me](javascript:alert(3)) and ![x](javascript:alert(4)) and <javascript:alert(5)>",
    "a comment ends here --> and one starts here <!-- so the next page hides",
    "```",
    "[ref]: javascript:alert(6)",
    "&lt;script&gt;alert(7)&lt;/script&gt; and &#60;b&#62;",
]


def test_markdown_carries_hostile_text_as_text_and_its_page_comments_stay_whole():
    """Rendered by a CommonMark renderer with HTML on (as many are): nothing of the PDF's
    text runs or links, every page comment is still a comment, and the text reads as it was."""
    from markdown_it import MarkdownIt

    blocks = [block(text + "\n") for text in HOSTILE]
    pages = structure.classify(
        [page(1, *blocks), page(2, block(BODY)), page(3, block("- [x](javascript:y)\n"))]
    )
    outline = [{"level": 1, "title": "<b onmouseover=alert(8)>Intro</b>", "page": 1}]
    text = structure.markdown(pages, outline, title="<iframe src=javascript:alert(9)>")
    html = MarkdownIt("commonmark").render(text)
    for running in ("<img", "<script", "<iframe", "<b ", "<a ", "<code", "<pre"):
        assert running not in html, running
    for number in (1, 2, 3):
        assert html.count(f"<!-- page {number} -->\n") == 1
    assert "A paragraph of body text" in html  # page 2 was not swallowed by a comment
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # shown, as it was
    assert "[click me](javascript:alert(3))" in html
    assert "&amp;lt;script&amp;gt;" in html  # an entity in the text stays those characters


@pytest.mark.parametrize(
    ("text", "shown"),
    [("# not a heading", "<p># not a heading</p>"), ("+ not a list", "<p>+ not a list</p>")],
)
def test_a_paragraph_that_starts_like_markdown_stays_a_paragraph(text, shown):
    from markdown_it import MarkdownIt

    pages = structure.classify([page(1, block(BODY), block(text + " of some words.\n"))])
    html = MarkdownIt("commonmark").render(structure.markdown(pages, []))
    assert shown.replace("</p>", " of some words.</p>") in html
