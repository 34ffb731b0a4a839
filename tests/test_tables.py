"""Tables (engines/tables.py): ruled and unruled tables found exactly on generated pages, in
the result's tables, CSV and Markdown formats, and no table work for a job that asks none."""

import dataclasses
import json
import sys
from unittest.mock import Mock

import pytest

from bench import table_pdfs
from consumer import sandbox, sandbox_child
from core.jobs import results, structure
from engines import tables
from engines.base import Page, PageFile
from tests.support.corpus import GOOD
from tests.test_options import JOBS, submit

pytest.importorskip("pdfplumber")

RULED = table_pdfs.Table(
    rows=[
        ["", "Quarter 1", "", ""],
        ["Region", "Units", "Price", "Note"],
        ["North", "1,200", "3.50", ""],
        ["South east", "", "12.25", "late"],
        ["West", "87", "0.99", "new"],
    ],
    header_rows=2,
    ruled=True,
    spans={(0, 1): 3},
)
UNRULED = table_pdfs.Table(
    rows=[
        ["", "Quarter 2", ""],
        ["Item", "Count", "Share"],
        ["Apples", "14", "0.25"],
        ["Dried pears", "", "0.50"],
        ["Plums", "1,024", "12.00"],
        ["Kiwi", "3", ""],
    ],
    header_rows=2,
    ruled=False,
    font="Times-Roman",
    size=9,
    spans={(0, 1): 2},
)


def one_page(path, *drawn):
    canvas = table_pdfs.Canvas()
    y = table_pdfs.prose(canvas, table_pdfs.PAGE_H - 60, 3)
    for table in drawn:
        y = table_pdfs.draw_table(canvas, table, 60, y - 18) - 14
        y = table_pdfs.prose(canvas, y, 2)
    table_pdfs.write_pdf(path, [canvas])
    return path


def texts(table: dict) -> list[list[str]]:
    return [[cell["text"] for cell in row] for row in table["rows"]]


def test_a_ruled_and_an_unruled_table_come_out_cell_for_cell(tmp_path):
    path = one_page(tmp_path / "two.pdf", RULED, UNRULED)
    [ruled, unruled] = tables.extract(path, "", [1])[1]
    assert ruled["ruled"] and not unruled["ruled"]
    assert texts(ruled) == RULED.rows and texts(unruled) == UNRULED.rows
    assert ruled["header_rows"] == 2 and unruled["header_rows"] == 2
    assert ruled["columns"] == 4 and unruled["columns"] == 3
    assert ruled["rows"][0][1]["colspan"] == 3 and ruled["rows"][0][2]["bbox"] is None
    assert unruled["rows"][0][1]["colspan"] == 2
    for found, drawn in ((ruled, RULED), (unruled, UNRULED)):
        x0, y0, x1, y1 = found["bbox"]  # PDF points, origin bottom left, as blocks have
        assert drawn.bbox[0] - 1 <= x0 and x1 <= drawn.bbox[2] + 1
        assert drawn.bbox[1] - 1 <= y0 and y1 <= drawn.bbox[3] + 1
        for row in found["rows"]:
            for cell in row:
                if cell["text"]:
                    bx0, by0, bx1, by1 = cell["bbox"]
                    assert x0 - 1 <= bx0 < bx1 <= x1 + 1 and y0 - 1 <= by0 < by1 <= y1 + 1


def test_running_text_has_no_table(tmp_path):
    canvas = table_pdfs.Canvas()
    table_pdfs.prose(canvas, table_pdfs.PAGE_H - 60, 40)
    table_pdfs.write_pdf(tmp_path / "prose.pdf", [canvas])
    assert tables.extract(tmp_path / "prose.pdf", "", [1]) == {1: []}


def test_a_table_takes_the_place_of_its_blocks_in_the_markdown():
    table = {
        "bbox": [50, 400, 300, 500],
        "header_rows": 1,
        "rows": [
            [{"text": "Name"}, {"text": "A|B"}],
            [{"text": "x"}, {"text": "1"}],
        ],
    }
    blocks = [
        {"text": "Intro\n", "bbox": [50, 520, 300, 540], "kind": "paragraph"},
        {"text": "Name x\n", "bbox": [50, 450, 120, 500], "kind": "paragraph"},
        {"text": "A|B 1\n", "bbox": [200, 450, 300, 500], "kind": "paragraph"},
        {"text": "After\n", "bbox": [50, 300, 300, 320], "kind": "paragraph"},
    ]
    pieces = structure.markdown_page({"page": 1, "blocks": blocks, "tables": [table]})
    assert pieces == [
        "<!-- page 1 -->\n",
        "Intro\n",
        "| Name | A\\|B |\n| --- | --- |\n| x | 1 |\n",
        "After\n",
    ]
    # Blocks with no position (PDFium's): the lines made of the table's words are the
    # table's, and it takes their place between the lines before and after them.
    loose = [{"text": "Intro\nName A|B\nx 1\nAfter x\n", "bbox": None, "kind": "paragraph"}]
    pieces = structure.markdown_page({"page": 1, "blocks": loose, "tables": [table]})
    assert pieces[1:] == [
        "Intro\n",
        "| Name | A\\|B |\n| --- | --- |\n| x | 1 |\n",
        "After x\n",
    ]


def test_csv_is_one_row_a_line_with_spanned_positions_empty():
    found = {"rows": [[{"text": "a, b"}, {"text": ""}], [{"text": 'say "hi"'}, {"text": "2"}]]}
    assert results.tables_csv(found) == b'"a, b",\r\n"say ""hi""",2\r\n'


def test_tables_csv_and_markdown_formats_through_the_api(client, tmp_path):
    path = one_page(tmp_path / "report.pdf", RULED, UNRULED)
    job = submit(client, path, outputs="tables,markdown")
    assert job["status"] == "succeeded", job
    response = client.get(f"{JOBS}/{job['id']}/result?format=tables")
    assert response.content_type == "application/x-ndjson; charset=utf-8"
    found = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert [(t["table"], t["page"]) for t in found] == [(1, 1), (2, 1)]
    assert texts(found[1]) == UNRULED.rows
    csv = client.get(found[1]["csv"])
    assert csv.content_type == "text/csv; charset=utf-8"
    assert csv.get_data(as_text=True).splitlines()[2] == "Apples,14,0.25"
    assert client.get(f"{JOBS}/{job['id']}/result?format=csv&table=3").status_code == 404
    markdown = client.get(f"{JOBS}/{job['id']}/result?format=markdown").get_data(as_text=True)
    assert "| Region | Quarter 1 Units | Price | Note |" in markdown
    assert "| Dried pears |  | 0.50 |" in markdown
    assert markdown.count("Dried pears") == 1, "the cells are not repeated as loose text"
    assert markdown.index("| Region") < markdown.index("| Item") < markdown.rindex("quarter")
    pages = client.get(f"{JOBS}/{job['id']}/result?format=pages").get_data(as_text=True)
    assert '"tables"' not in pages and '"blocks"' not in pages


def test_a_job_without_tables_says_how_to_ask_for_them(client):
    job = submit(client, GOOD / "pdfminer_jo.pdf")
    response = client.get(f"{JOBS}/{job['id']}/result?format=tables")
    assert response.status_code == 409
    assert "outputs" in response.get_json()["error"]["message"]


@pytest.mark.parametrize("engine", ["pdfminer", "pdfium"])
def test_a_job_that_asks_for_no_tables_or_languages_does_none_of_that_work(
    tmp_path, monkeypatch, engine
):
    path = one_page(tmp_path / "report.pdf", RULED)
    # The child's own steps, run here: with pdfplumber and langdetect unimportable, any
    # table or language work fails.
    monkeypatch.setitem(sys.modules, "pdfplumber", None)
    monkeypatch.setitem(sys.modules, "langdetect", None)
    child = sandbox_child._Request(Mock(), 0)
    caps = dataclasses.asdict(sandbox.Caps())
    run = lambda outputs: child.run(  # noqa: E731
        str(path), engine, "", str(tmp_path / "p.jsonl"), None, {"outputs": outputs}, False, caps
    )
    for outputs in (None, [], ["blocks", "markdown"]):
        run(outputs)
        [page] = PageFile(tmp_path / "p.jsonl", 1)
        assert page.tables is None and page.language is None
        assert {"tables", "language"}.isdisjoint(json.loads((tmp_path / "p.jsonl").read_text()))
    for extra in (["tables"], ["languages"]):
        with pytest.raises(ImportError):
            run(extra)


def test_a_part_s_pages_get_their_own_tables_and_a_failing_page_keeps_its_text(tmp_path):
    first, second = table_pdfs.Canvas(), table_pdfs.Canvas()
    table_pdfs.draw_table(first, RULED, 60, 700)
    table_pdfs.draw_table(second, UNRULED, 60, 700)
    table_pdfs.write_pdf(tmp_path / "two.pdf", [first, second])
    [page] = tables.attach(tmp_path / "two.pdf", "", [Page(2, "text")])
    assert [texts(t) for t in page.tables] == [UNRULED.rows]
    [gone] = tables.attach(tmp_path / "two.pdf", "", [Page(3, "past the end")])
    assert gone.tables == [] and gone.warnings == ["tables_failed"] and gone.text


def test_the_tables_file_link_keeps_each_table_s_csv_path_and_a_csv_has_no_link(client, tmp_path):
    path = one_page(tmp_path / "report.pdf", RULED)
    job = submit(client, path, outputs="tables")
    link = client.get(f"{JOBS}/{job['id']}/result/link?format=tables")
    assert link.status_code == 200 and link.get_json()["bytes"] > 0
    refused = client.get(f"{JOBS}/{job['id']}/result/link?format=csv")
    assert (
        refused.status_code == 400 and "format=csv&table=" in refused.get_json()["error"]["message"]
    )
    assert client.get(f"{JOBS}/{job['id']}/result?format=csv").status_code == 400
    assert client.get(f"{JOBS}/{job['id']}/result?format=csv&table=x").status_code == 400
