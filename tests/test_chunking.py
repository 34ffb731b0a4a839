"""Chunks for retrieval (core/jobs/chunking.py): heading paths, the size budget, sentences and
table rows kept whole, tables as chunks of their own, and the same chunks run after run."""

import json

from core.jobs import chunking
from tests.support.corpus import GOOD
from tests.test_options import JOBS, submit


def block(text, kind="paragraph", level=None, bbox=(50, 700, 550, 720)):
    found = {"text": text + "\n", "kind": kind, "bbox": list(bbox)}
    if level:
        found["level"] = level
    return found


SENTENCES = [f"Sentence number {n} says a little more about the subject." for n in range(40)]
TABLE = {
    "bbox": [50, 300, 550, 400],
    "header_rows": 1,
    "rows": [[{"text": "Name"}, {"text": "Value"}]]
    + [[{"text": f"row {n}"}, {"text": str(n * 7)}] for n in range(60)],
}
PAGES = [
    {
        "page": 1,
        "blocks": [
            block("Report", "heading", 1),
            block("An opening paragraph."),
            block("Methods", "heading", 2),
            block(" ".join(SENTENCES)),
            block("3", "other"),
        ],
    },
    {
        "page": 2,
        "blocks": [block("A short closing paragraph.", bbox=(50, 600, 550, 620))],
        "tables": [TABLE],
    },
    {"page": 3, "blocks": [block("Results", "heading", 2), block("It worked.")]},
]


def test_chunks_carry_their_heading_path_pages_and_boxes():
    made = list(chunking.chunks(PAGES, budget=500))
    assert made[0]["text"] == "An opening paragraph." and made[0]["headings"] == ["Report"]
    methods = [c for c in made if c["headings"] == ["Report", "Methods"]]
    assert methods[0]["pages"] == [1] and methods[0]["bboxes"][0]["page"] == 1
    assert made[-1] == {**made[-1], "text": "It worked.", "headings": ["Report", "Results"]}
    assert all(c["text"] != "3" for c in made), "page numbers are left out"


def test_chunks_stay_within_the_budget_without_cutting_a_sentence():
    made = list(chunking.chunks(PAGES, budget=500))
    assert all(c["chars"] == len(c["text"]) <= 500 for c in made)
    text = [c for c in made if c["kind"] == "text" and c["headings"][-1] == "Methods"]
    pieces = [s for c in text for s in c["text"].split("\n\n")]
    joined = " ".join(pieces)
    assert all(sentence in joined for sentence in SENTENCES)
    for piece in pieces[:-1]:
        assert piece.endswith(".") or piece == "A short closing paragraph."


def test_a_table_is_its_own_chunks_cut_between_rows_each_with_its_header():
    made = list(chunking.chunks(PAGES, budget=300))
    tables = [c for c in made if c["kind"] == "table"]
    assert len(tables) > 1
    rows = []
    for chunk in tables:
        lines = chunk["text"].splitlines()
        assert lines[:2] == ["| Name | Value |", "| --- | --- |"]
        assert chunk["chars"] <= 300 and chunk["pages"] == [2]
        rows += lines[2:]
    assert rows == [f"| row {n} | {n * 7} |" for n in range(60)]
    whole = list(chunking.chunks(PAGES, budget=5000))
    [table] = [c for c in whole if c["kind"] == "table"]
    assert table["text"].count("\n") == 61


def test_the_same_pages_give_the_same_chunks_and_ids_and_ids_follow_position():
    first = list(chunking.chunks(json.loads(json.dumps(PAGES)), budget=400))
    again = list(chunking.chunks(json.loads(json.dumps(PAGES)), budget=400))
    assert first == again
    assert len({c["id"] for c in first}) == len(first)
    moved = json.loads(json.dumps(PAGES))
    moved[2]["page"] = 4
    ids = {c["text"]: c["id"] for c in chunking.chunks(moved, budget=400)}
    assert ids["It worked."] != next(c["id"] for c in first if c["text"] == "It worked.")


def test_a_word_longer_than_the_budget_is_cut_to_it():
    made = list(chunking.chunks([{"page": 1, "blocks": [block("x" * 700)]}], budget=200))
    assert [c["chars"] for c in made] == [200]


def test_chunks_format_through_the_api_is_deterministic_and_within_chunk_chars(client):
    path = GOOD / "pdfjs_tracemonkey.pdf"
    job = submit(client, path, pages="1-3", outputs="chunks", chunk_chars="800")
    assert job["options"]["chunk_chars"] == 800
    url = f"{JOBS}/{job['id']}/result?format=chunks"
    response = client.get(url)
    assert response.status_code == 200
    assert response.content_type == "application/x-ndjson; charset=utf-8"
    made = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert made and all(c["chars"] <= 800 for c in made)
    assert {p for c in made for p in c["pages"]} == {1, 2, 3}
    assert any(c["headings"] for c in made)
    assert client.get(url).get_data() == response.get_data()
    again = submit(client, path, pages="1-3", outputs="chunks", chunk_chars="800")
    assert client.get(f"{JOBS}/{again['id']}/result?format=chunks").get_data() == (
        response.get_data()
    )
    refused = submit(client, GOOD / "pdfminer_jo.pdf")
    answer = client.get(f"{JOBS}/{refused['id']}/result?format=chunks")
    assert answer.status_code == 409 and "outputs" in answer.get_json()["error"]["message"]


def test_chunk_chars_is_checked(client):
    from core.errors import BadRequest
    from core.jobs import options

    assert options.parse({"chunk_chars": "600"}, strings=True)["chunk_chars"] == 600
    for wrong in ("12", "abc", 10**9, True):
        try:
            options.parse({"chunk_chars": wrong}, strings=isinstance(wrong, str))
        except BadRequest as error:
            assert "chunk_chars" in error.message
        else:
            raise AssertionError(f"{wrong!r} accepted")
