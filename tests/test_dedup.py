"""Content-addressed dedup (core/jobs/dedup.py, and its use in consumer/pipeline.py): the same
bytes with the same engine and options are extracted once per tenant, a later job reuses the
earlier result, presigned uploads are hashed by the worker, and DEDUP_ENABLED turns it off."""

import pytest

from consumer import parts, pipeline
from core import keys
from core.jobs import dedup
from core.jobs import options as job_options
from core.jobs.model import JobStatus
from tests.support.api import complete, post_to_storage, presign, upload
from tests.support.corpus import BAD, GOOD
from tests.support.jobs import result_pages, result_text, stored_job


def test_the_same_bytes_reuse_the_earlier_result_without_extracting(services, monkeypatch):
    path = GOOD / "pdfminer_pagelabels.pdf"
    first = stored_job(services, path, sha256="a" * 64)
    assert pipeline.process(services, first.source_key) is JobStatus.SUCCEEDED

    def no_extraction(*args, **kwargs):
        raise AssertionError("extracted again")

    monkeypatch.setattr(parts, "extract", no_extraction)
    second = stored_job(services, path, sha256="a" * 64)
    assert pipeline.process(services, second.source_key) is JobStatus.SUCCEEDED
    assert result_text(services, second) == result_text(services, first)
    assert result_pages(services, second) == result_pages(services, first)
    reused = services.records.get(second.id, "public").result
    assert reused["reused_from"] == first.id
    assert reused["key"].startswith(keys.results_prefix("public", second.id))


def test_a_reused_result_is_copied_in_the_store_never_read_whole(services, monkeypatch):
    path = GOOD / "pdfjs_tracemonkey.pdf"
    first = stored_job(services, path, sha256="e" * 64)
    assert pipeline.process(services, first.source_key) is JobStatus.SUCCEEDED
    read = []
    for name in ("get_bytes", "get_json", "stream", "download_to"):
        real = getattr(services.storage, name)
        monkeypatch.setattr(
            services.storage,
            name,
            lambda key, *a, real=real, **k: read.append(key) or real(key, *a, **k),
        )
    second = stored_job(services, path, sha256="e" * 64)
    assert pipeline.process(services, second.source_key) is JobStatus.SUCCEEDED
    assert [key for key in read if key.startswith(keys.RESULTS_PREFIX)] == []
    monkeypatch.undo()
    keys_ = [services.records.get(j.id, "public").result["key"] for j in (first, second)]
    assert keys_[0] != keys_[1]
    assert services.storage.get_bytes(keys_[1]) == services.storage.get_bytes(keys_[0])


def test_presigned_uploads_are_hashed_by_the_worker_and_deduplicated(services):
    path = GOOD / "pdfminer_jo.pdf"
    first = stored_job(services, path)  # no sha256: as a presigned upload arrives
    pipeline.process(services, first.source_key)
    assert services.records.get(first.id, "public").sha256 is not None
    second = stored_job(services, path)
    pipeline.process(services, second.source_key)
    assert services.records.get(second.id, "public").result["reused_from"] == first.id


def test_dedup_is_per_tenant_and_per_engine(services):
    path = GOOD / "pdfminer_jo.pdf"
    first = stored_job(services, path, sha256="b" * 64)
    pipeline.process(services, first.source_key)
    other_tenant = stored_job(services, path, tenant="acme", sha256="b" * 64)
    other_engine = stored_job(services, path, sha256="b" * 64, engine="pdfium")
    for job in (other_tenant, other_engine):
        pipeline.process(services, job.source_key)
        assert "reused_from" not in services.records.get(job.id, job.tenant).result


@pytest.mark.env(DEDUP_ENABLED="false")
def test_dedup_can_be_turned_off(services):
    path = GOOD / "pdfminer_jo.pdf"
    for _ in range(2):
        job = stored_job(services, path, sha256="c" * 64)
        pipeline.process(services, job.source_key)
    assert "reused_from" not in services.records.get(job.id, "public").result


def test_a_pointer_whose_result_is_gone_is_a_miss_and_the_bytes_are_extracted(services):
    path = GOOD / "pdfminer_jo.pdf"
    first = stored_job(services, path, sha256="d" * 64)
    pipeline.process(services, first.source_key)
    services.storage.delete(services.records.get(first.id, "public").result["key"])  # expired
    second = stored_job(services, path, sha256="d" * 64)
    assert pipeline.process(services, second.source_key) is JobStatus.SUCCEEDED
    assert "reused_from" not in services.records.get(second.id, "public").result
    assert result_text(services, second)


def test_the_index_keys_the_bytes_downloaded_not_the_hash_recorded_earlier(services):
    jo, labels = GOOD / "pdfminer_jo.pdf", GOOD / "pdfminer_pagelabels.pdf"
    first = stored_job(services, jo)
    pipeline.process(services, first.source_key)
    jo_hash = services.records.get(first.id, "public").sha256
    # A record that claims jo's hash (a re-run of a source replaced since), over other bytes.
    lying = stored_job(services, labels, sha256=jo_hash)
    assert pipeline.process(services, lying.source_key) is JobStatus.SUCCEEDED
    after = services.records.get(lying.id, "public")
    assert "reused_from" not in after.result
    assert result_text(services, lying) != result_text(services, first)
    assert after.sha256 == dedup.file_sha256(labels)


def test_a_file_swapped_through_a_still_valid_upload_url_is_never_read_or_indexed(client, services):
    jo, other = (GOOD / "pdfminer_jo.pdf"), (GOOD / "pdfminer_pagelabels.pdf")
    job = presign(client, filename="jo.pdf")
    assert post_to_storage(job, jo.read_bytes()).status_code == 204
    assert complete(client, job).status_code == 202  # extracted at once (immediate queue)
    jo_text = result_text(services, services.records.get(job["id"], "public"))
    assert post_to_storage(job, other.read_bytes()).status_code == 204  # the URL still works

    response = client.post(f"/api/v1/pdf/jobs/{job['id']}/reprocess", json={})
    assert response.status_code == 202
    rerun = services.records.get(job["id"], "public")
    assert (rerun.status, rerun.error["code"]) == (JobStatus.FAILED, "source_missing")
    assert "replaced" in rerun.error["message"]

    again = upload(client, jo)  # jo once more: whatever it reuses must be jo's own text
    assert result_text(services, services.records.get(again["id"], "public")) == jo_text


@pytest.mark.env(OPTIONS_SECRET="an-options-secret-long-enough")
def test_an_encrypted_pdf_opened_once_is_not_reused_without_its_password(services):
    path, settings = BAD / "pdfminer_aes-128.pdf", services.settings
    opened = stored_job(services, path, options=job_options.seal({"password": "baz"}, settings))
    assert pipeline.process(services, opened.source_key) is JobStatus.SUCCEEDED
    wrong = job_options.seal({"password": "not-it"}, settings)
    for options in ({}, wrong):
        job = stored_job(services, path, options=options)
        assert pipeline.process(services, job.source_key) is JobStatus.FAILED
        assert services.records.get(job.id, "public").error["code"] == "encrypted"
    again = stored_job(services, path, options=job_options.seal({"password": "baz"}, settings))
    pipeline.process(services, again.source_key)
    reused = services.records.get(again.id, "public")
    assert reused.result["reused_from"] == opened.id
    pointer = keys.dedup_key("public", reused.sha256, reused.result["dedup"])
    assert services.state.get(pointer).startswith(opened.id) and "baz" not in pointer
