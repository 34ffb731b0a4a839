"""Issue 7: page-parallel extraction, content-addressed dedup and the pdfium engine."""

import json

import pytest

from consumer import engines, parallel, pipeline
from consumer.extract import extract
from core import dedup, keys, services
from core.errors import PdfqError
from core.jobs import JobStatus
from tests.corpus import BAD, GOOD, NONDETERMINISTIC


@pytest.fixture
def store(s3):
    return services.jobs()


def stored_job(store, path, tenant="public", sha256=None, engine=None):
    job_id = keys.new_job_id()
    store.storage.put_bytes(keys.source_key(tenant, job_id), path.read_bytes())
    return store.create(
        job_id=job_id,
        tenant=tenant,
        filename=path.name,
        size=path.stat().st_size,
        sha256=sha256,
        engine=engine,
    )


def result_text(store, job, tenant="public"):
    return store.storage.get_bytes(keys.result_key(tenant, job.id, "text.txt")).decode()


def result_pages(store, job, tenant="public"):
    raw = store.storage.get_bytes(keys.result_key(tenant, job.id, "pages.jsonl"))
    return [json.loads(line) for line in raw.splitlines()]


def test_pages_split_into_consecutive_ranges_that_cover_the_document():
    assert parallel.split(10, 4) == [(1, 4), (5, 8), (9, 10)]
    assert parallel.split(4, 4) == [(1, 4)]


@pytest.mark.parametrize("name", ["pdfminer_dmca.pdf", "pdfjs_tracemonkey.pdf"])
def test_a_page_range_extracts_the_same_pages_as_the_whole_document(name):
    assert name not in NONDETERMINISTIC
    whole = extract(GOOD / name).pages
    part = extract(GOOD / name, pages=(3, 7)).pages
    assert [(p.number, p.text) for p in part] == [(p.number, p.text) for p in whole[2:7]]


@pytest.mark.parametrize("name", ["pdfminer_dmca.pdf", "pdfjs_tracemonkey.pdf"])
def test_page_parallel_result_equals_single_pass_extraction(store, setenv, name):
    setenv(PARALLEL_MIN_PAGES="2", PART_PAGES="4")
    store = services.jobs()
    job = stored_job(store, GOOD / name)
    assert pipeline.process(job.source_key) is JobStatus.SUCCEEDED
    single = extract(GOOD / name)
    assert result_text(store, job) == single.text
    assert [p["page"] for p in result_pages(store, job)] == [p.number for p in single.pages]
    done = store.get(job.id, "public")
    assert done.pages_done == done.pages_total == len(single.pages)
    # The parts are merged and removed: nothing is left under parts/.
    assert list(store.storage.list_keys(keys.PARTS_PREFIX)) == []


def test_a_part_held_by_a_dead_worker_is_extracted_again_alone(store, setenv):
    setenv(PARALLEL_MIN_PAGES="2", PART_PAGES="5", LEASE_SECONDS="3")
    store, inflight = services.jobs(), services.inflight()
    job = stored_job(store, GOOD / "pdfminer_dmca.pdf")  # 18 pages: 4 parts
    run = parallel._run_id("pdfminer", job)
    # A worker took pages 6-10 and died: its lease runs out, and no one else may take it first.
    assert inflight.acquire(f"{job.id}.{run}.6-10", "ghost:1:MainThread")
    assert pipeline.process(job.source_key) is JobStatus.SUCCEEDED
    assert result_text(store, job) == extract(GOOD / "pdfminer_dmca.pdf").text


def test_a_corrupt_part_fails_the_whole_job(store, setenv):
    setenv(PARALLEL_MIN_PAGES="1", PART_PAGES="1")
    store = services.jobs()
    job = stored_job(store, BAD / "truncated_tail_test_2861.pdf")
    assert pipeline.process(job.source_key) is JobStatus.FAILED
    assert store.get(job.id, "public").error["code"] in ("corrupt", "no_pages", "unsupported")


def test_the_same_bytes_reuse_the_earlier_result_without_extracting(store, monkeypatch):
    path = GOOD / "pdfminer_pagelabels.pdf"
    first = stored_job(store, path, sha256="a" * 64)
    assert pipeline.process(first.source_key) is JobStatus.SUCCEEDED

    def no_extraction(*args, **kwargs):
        raise AssertionError("extracted again")

    monkeypatch.setattr(parallel, "extract", no_extraction)
    second = stored_job(store, path, sha256="a" * 64)
    assert pipeline.process(second.source_key) is JobStatus.SUCCEEDED
    assert result_text(store, second) == result_text(store, first)
    assert result_pages(store, second) == result_pages(store, first)
    summary, _ = store.storage.get_json(keys.result_key("public", second.id, "result.json"))
    assert summary["job_id"] == second.id
    assert store.get(second.id, "public").result["reused_from"] == first.id


def test_presigned_uploads_are_hashed_by_the_worker_and_deduplicated(store, monkeypatch):
    path = GOOD / "pdfminer_jo.pdf"
    first = stored_job(store, path)  # no sha256: as a presigned upload arrives
    pipeline.process(first.source_key)
    assert store.get(first.id, "public").sha256 is not None
    second = stored_job(store, path)
    pipeline.process(second.source_key)
    assert store.get(second.id, "public").result["reused_from"] == first.id


def test_dedup_is_per_tenant_and_per_engine(store):
    path = GOOD / "pdfminer_jo.pdf"
    first = stored_job(store, path, sha256="b" * 64)
    pipeline.process(first.source_key)
    other_tenant = stored_job(store, path, tenant="acme", sha256="b" * 64)
    other_engine = stored_job(store, path, sha256="b" * 64, engine="pdfium")
    for job in (other_tenant, other_engine):
        pipeline.process(job.source_key)
        assert "reused_from" not in store.get(job.id, job.tenant).result


def test_dedup_can_be_turned_off(store, setenv):
    setenv(DEDUP_ENABLED="false")
    store = services.jobs()
    path = GOOD / "pdfminer_jo.pdf"
    for _ in range(2):
        job = stored_job(store, path, sha256="c" * 64)
        pipeline.process(job.source_key)
    assert "reused_from" not in store.get(job.id, "public").result


@pytest.mark.parametrize("name", ["pdfminer_dmca.pdf", "pdfjs_tracemonkey.pdf"])
def test_pdfium_gives_the_same_result_format_with_every_page(name):
    pdfium = engines.extract("pdfium", GOOD / name)
    pdfminer = extract(GOOD / name)
    assert [p.number for p in pdfium.pages] == [p.number for p in pdfminer.pages]
    assert pdfium.text.count("\f") == len(pdfium.pages)
    assert sum(p.chars for p in pdfium.pages) > 0.5 * sum(p.chars for p in pdfminer.pages)
    assert pdfium.metadata == pdfminer.metadata
    assert pdfium.warnings == []


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("pdfminer_rc4-40.pdf", "encrypted"),
        ("pdfminer_aes-128.pdf", "encrypted"),
        ("truncated_tail_test_2861.pdf", "corrupt"),
    ],
)
def test_pdfium_reports_unreadable_files_with_pdfq_codes(name, code):
    with pytest.raises(PdfqError) as error:
        engines.extract("pdfium", BAD / name)
    assert error.value.code == code


def test_a_job_with_engine_pdfium_records_the_engine(store):
    job = stored_job(store, GOOD / "pdfminer_dmca.pdf", engine="pdfium")
    assert pipeline.process(job.source_key) is JobStatus.SUCCEEDED
    summary, _ = store.storage.get_json(keys.result_key("public", job.id, "result.json"))
    assert summary["engine"] == "pypdfium2"
    assert summary["page_count"] == 18
    assert store.get(job.id, "public").engine == "pdfium"


def test_post_documents_takes_the_engine_as_a_form_field(client, s3):
    path = GOOD / "pdfminer_jo.pdf"
    with open(path, "rb") as fp:
        response = client.post(
            "/api/v1/pdf/documents", data={"file": (fp, path.name), "engine": "pdfium"}
        )
    assert response.status_code == 202, response.get_json()
    job = services.jobs().get(response.get_json()["id"], "public")
    assert job.engine == "pdfium"
    assert job.status is JobStatus.SUCCEEDED  # immediate Huey in the tests
    summary, _ = s3.get_json(keys.result_key("public", job.id, "result.json"))
    assert summary["engine"] == "pypdfium2"


def test_an_unknown_engine_is_refused_before_anything_is_stored(client, s3):
    path = GOOD / "pdfminer_jo.pdf"
    with open(path, "rb") as fp:
        response = client.post(
            "/api/v1/pdf/documents", data={"file": (fp, path.name), "engine": "ocr"}
        )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"
    assert list(s3.list_keys(keys.SOURCES_PREFIX)) == []


def test_the_default_engine_comes_from_the_settings(client, setenv, s3):
    setenv(DEFAULT_ENGINE="pdfium")
    path = GOOD / "pdfminer_jo.pdf"
    with open(path, "rb") as fp:
        response = client.post("/api/v1/pdf/documents", data={"file": (fp, path.name)})
    assert services.jobs().get(response.get_json()["id"], "public").engine == "pdfium"


def test_reused_pages_keep_characters_that_python_counts_as_line_breaks(store):
    storage = store.storage
    earlier = keys.new_job_id()
    text = "one\u2028two\x85three\x1cfour"
    storage.put_bytes(
        keys.result_key("public", earlier, "pages.jsonl"),
        (
            json.dumps({"page": 1, "text": text, "chars": len(text)}, ensure_ascii=False) + "\n"
        ).encode(),
    )
    storage.put_json(keys.result_key("public", earlier, "result.json"), {"page_count": 1})
    dedup.remember(storage, "public", "d" * 64, "digest", earlier)
    found = dedup.find(storage, "public", "d" * 64, "digest", keys.new_job_id())
    assert found.pages[0]["text"] == text
