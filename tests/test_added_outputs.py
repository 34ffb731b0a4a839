"""Outputs asked for after a job finished: made from its stored PDF beside its result, without
extracting the text again or rewriting the result object, and recorded on the job."""

import json

import pytest

from consumer import added_outputs, parts
from core.jobs import added
from core.jobs.model import JobStatus
from tests.support import figure_pdfs
from tests.support.corpus import GOOD
from tests.support.figure_pdfs import Image, Page
from tests.test_options import JOBS, submit
from tests.test_tables import RULED, one_page, texts


def lines(response) -> list[dict]:
    return [json.loads(line) for line in response.get_data(as_text=True).splitlines()]


def test_tables_and_figures_asked_for_later_are_made_beside_the_untouched_result(
    client, tmp_path, services, monkeypatch
):
    path = one_page(tmp_path / "report.pdf", RULED)
    job = submit(client, path)
    refused = client.get(f"{JOBS}/{job['id']}/result?format=tables")
    assert refused.status_code == 409
    assert f"POST /jobs/{job['id']}/outputs" in refused.get_json()["error"]["message"]
    record = services.records.get(job["id"], "public")
    before = services.storage.get_bytes(record.result["key"])

    def no_text(*args, **kwargs):
        raise AssertionError("the text was extracted again")

    monkeypatch.setattr(parts, "sandboxed", no_text)
    response = client.post(f"{JOBS}/{job['id']}/outputs", json={"outputs": ["tables", "figures"]})
    assert response.status_code == 202, response.get_json()
    now = client.get(f"{JOBS}/{job['id']}").get_json()
    assert now["status"] == "succeeded" and now["outputs_pending"] == []
    assert {"tables", "figures"} <= set(now["outputs"])
    found = lines(client.get(f"{JOBS}/{job['id']}/result?format=tables"))
    assert [texts(t) for t in found] == [RULED.rows]
    csv = client.get(found[0]["csv"]).get_data(as_text=True)
    assert csv.splitlines()[1] == "Region,Units,Price,Note"
    markdown = client.get(f"{JOBS}/{job['id']}/result?format=markdown")
    assert markdown.status_code == 409  # blocks are the text's layout: a re-run makes them
    assert client.get(f"{JOBS}/{job['id']}/result?format=figures").status_code == 200
    after = services.storage.get_bytes(record.result["key"])
    assert after == before
    again = client.post(f"{JOBS}/{job['id']}/outputs", json={"outputs": ["tables"]})
    assert again.status_code == 200  # nothing to make


def test_added_tables_join_the_markdown_and_chunks_of_a_job_that_has_blocks(client, tmp_path):
    path = one_page(tmp_path / "report.pdf", RULED)
    job = submit(client, path, outputs="markdown,chunks")
    markdown = client.get(f"{JOBS}/{job['id']}/result?format=markdown").get_data(as_text=True)
    assert "| Region |" not in markdown
    assert client.post(f"{JOBS}/{job['id']}/outputs", json={"outputs": "tables"}).status_code == 202
    markdown = client.get(f"{JOBS}/{job['id']}/result?format=markdown").get_data(as_text=True)
    assert "| Region | Quarter 1 Units | Price | Note |" in markdown
    chunks = lines(client.get(f"{JOBS}/{job['id']}/result?format=chunks"))
    assert [c["kind"] for c in chunks].count("table") == 1


def test_outputs_that_need_the_text_or_a_finished_job_are_refused(client, services):
    job = submit(client, GOOD / "pdfminer_jo.pdf")
    url = f"{JOBS}/{job['id']}/outputs"
    for body, status, words in (
        ({"outputs": ["chunks"]}, 409, "reprocess"),
        ({"outputs": ["pictures"]}, 400, "not an output"),
        ({}, 400, "outputs"),
        ({"outputs": ["tables"], "delay": 3}, 400, "Unknown field"),
    ):
        response = client.post(url, json=body)
        assert response.status_code == status, (body, response.get_json())
        assert words in response.get_json()["error"]["message"]
    record = services.records.get(job["id"], "public")
    services.storage.delete(record.source_key)
    gone = client.post(url, json={"outputs": ["tables"]})
    assert gone.status_code == 410


def test_a_re_run_drops_what_was_added_to_the_run_before(client, tmp_path, services):
    path = figure_pdfs.write(tmp_path / "doc.pdf", [Page([Image(200, 100, (100, 500, 300, 600))])])
    job = submit(client, path)
    client.post(f"{JOBS}/{job['id']}/outputs", json={"outputs": ["figures"]})
    assert "figures" in client.get(f"{JOBS}/{job['id']}").get_json()["outputs"]
    client.post(f"{JOBS}/{job['id']}/reprocess", json={})
    now = client.get(f"{JOBS}/{job['id']}").get_json()
    assert now["status"] == "succeeded" and "figures" not in now["outputs"]
    assert client.get(f"{JOBS}/{job['id']}/result?format=figures").status_code == 409


def test_a_failure_to_make_an_output_is_recorded_and_asking_again_retries(
    client, tmp_path, services, monkeypatch
):
    from core.errors import ExtractionTimeout

    job = submit(client, one_page(tmp_path / "report.pdf", RULED))
    calls = []

    def slow(*args, **kwargs):
        calls.append(1)
        raise ExtractionTimeout("too slow")

    monkeypatch.setattr(added_outputs.sandbox, "extras", slow)
    client.post(f"{JOBS}/{job['id']}/outputs", json={"outputs": ["tables"]})
    now = client.get(f"{JOBS}/{job['id']}").get_json()
    assert now["outputs_failed"]["tables"]["code"] == "timeout" and "tables" not in now["outputs"]
    message = client.get(f"{JOBS}/{job['id']}/result?format=tables").get_json()["error"]["message"]
    assert "timeout" in message
    monkeypatch.undo()
    client.post(f"{JOBS}/{job['id']}/outputs", json={"outputs": ["tables"]})
    now = client.get(f"{JOBS}/{job['id']}").get_json()
    assert now["outputs_failed"] == {} and "tables" in now["outputs"]


def test_a_pending_output_answers_not_ready_and_belongs_to_its_result(client, tmp_path, services):
    job = services.records.get(submit(client, GOOD / "pdfminer_jo.pdf")["id"], "public")
    pending = services.records.transition(
        job, JobStatus.SUCCEEDED, expect=JobStatus.SUCCEEDED, added=added.pending(job, ["tables"])
    )
    response = client.get(f"{JOBS}/{job.id}/result?format=tables")
    assert (
        response.status_code == 409 and response.get_json()["error"]["code"] == "result_not_ready"
    )
    moved = dict(pending.result, key="results/public/other.jsonl")
    assert added.of(pending.__class__(**{**pending.__dict__, "result": moved}))["pending"] == []


@pytest.mark.parametrize(
    ("spec", "count", "expected"),
    [(None, 3, [1, 2, 3]), ("2-4,9", 4, [2, 3, 4, 9]), ("1-10", 2, [1, 2])],
)
def test_page_numbers_follow_the_job_s_page_selection(spec, count, expected):
    assert added_outputs.page_numbers({"pages": spec} if spec else {}, count) == expected
    assert added_outputs.page_numbers({"max_pages": 2}, 2) == [1, 2]


def test_outputs_that_cannot_be_queued_are_not_left_pending(client, services, monkeypatch):
    from core.errors import QueueUnavailable

    job = submit(client, GOOD / "pdfminer_jo.pdf")

    def down(*args, **kwargs):
        raise QueueUnavailable("Redis is down")

    monkeypatch.setattr(services.queue, "put", down)
    response = client.post(f"{JOBS}/{job['id']}/outputs", json={"outputs": ["tables"]})
    assert response.status_code == 503
    now = client.get(f"{JOBS}/{job['id']}").get_json()
    assert now["outputs_pending"] == [] and now["outputs_failed"]["tables"]["code"] == (
        "queue_unavailable"
    )
