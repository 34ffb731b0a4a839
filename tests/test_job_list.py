"""GET /api/v1/pdf/jobs (functions/job_list.py over core/jobs/listing.py): a tenant's jobs
newest first, by status and time, in cursor pages whose cost does not grow with history."""

import base64
import json
import time

import pytest

from core import keys
from core.jobs.model import JobStatus
from tests.support.jobs import moved, recorded_job
from tests.support.requests_count import counted

JOBS = "/api/v1/pdf/jobs"


def make_jobs(services, count: int, tenant: str = "public") -> list[str]:
    """`count` queued jobs, created one after another; their ids, oldest first."""
    ids = []
    for _ in range(count):
        ids.append(recorded_job(services, tenant).id)
        time.sleep(0.002)  # distinct milliseconds, so creation order is the listed order
    return ids


def pages(client, query: str = "") -> list[list[str]]:
    """Every page's job ids, following next_cursor to the end."""
    found, url = [], f"{JOBS}?{query}"
    while True:
        response = client.get(url)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        found.append([job["id"] for job in body["jobs"]])
        if body["next_cursor"] is None:
            assert body["links"] == {}
            return found
        url = body["links"]["next"]


def test_jobs_are_listed_newest_first_in_pages_that_follow_the_cursor(client, services):
    ids = make_jobs(services, 7)
    assert pages(client, "limit=3") == [ids[:3:-1], ids[3:0:-1], ids[:1]]
    body = client.get(JOBS).get_json()
    assert [job["id"] for job in body["jobs"]] == ids[::-1]  # the default page holds 50
    assert body["jobs"][0]["status"] == "queued"
    assert body["jobs"][0]["links"]["self"] == f"{JOBS}/{ids[-1]}"  # each as GET /jobs/<id>


def test_a_page_asks_storage_the_same_with_20_or_200_jobs(client, services, monkeypatch):
    def cost_of_two_pages() -> list[dict]:
        costs, url = [], f"{JOBS}?limit=10"
        for _ in range(2):
            with counted(services, monkeypatch) as calls:
                body = client.get(url).get_json()
            assert len(body["jobs"]) == 10
            costs.append(dict(calls))
            url = body["links"].get("next")
        return costs

    make_jobs(services, 20)
    with_20 = cost_of_two_pages()
    make_jobs(services, 180)
    with_200 = cost_of_two_pages()
    assert with_20 == with_200
    # One listing, and one state-store read for the jobs shown (their live copies).
    assert with_200[0] == {"ListObjectsV2": 1, "state.get_many": 1}


def test_status_lists_jobs_by_when_they_entered_it_and_since_bounds_that(client, services):
    first, second, third = (recorded_job(services) for _ in range(3))
    boundary = moved(services, second, JobStatus.FAILED).status_changed_at
    time.sleep(0.01)
    moved(services, first, JobStatus.FAILED)  # created first, failed last: listed first
    failed = client.get(f"{JOBS}?status=failed").get_json()["jobs"]
    assert [job["id"] for job in failed] == [first.id, second.id]
    recent = client.get(f"{JOBS}?status=failed&since={after(boundary)}").get_json()["jobs"]
    assert [job["id"] for job in recent] == [first.id]
    queued = client.get(f"{JOBS}?status=queued").get_json()["jobs"]
    assert [job["id"] for job in queued] == [third.id]


def after(timestamp: str) -> str:
    """A moment just after `timestamp` (one millisecond), as a query value."""
    seconds, millis = timestamp.rstrip("Z").rsplit(".", 1)
    return f"{seconds}.{int(millis) + 1:03d}Z"


def test_since_lists_the_jobs_created_since_and_a_cursor_keeps_it(client, services):
    old = make_jobs(services, 2)
    since = after(services.records.get(old[-1], "public").created_at)
    time.sleep(0.01)
    new = make_jobs(services, 3)
    assert pages(client, f"since={since}&limit=2") == [new[:0:-1], new[:1]]
    listed = [job["id"] for job in client.get(JOBS).get_json()["jobs"]]
    assert listed == (old + new)[::-1]


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=ten", "limit"),
        ("limit=%C2%B2", "limit"),  # a superscript two: a digit to str.isdigit, not to int
        ("status=done", "status"),
        ("since=yesterday", "since"),
        ("cursor=not-a-cursor", "cursor"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(client, query, named):
    response = client.get(f"{JOBS}?{query}")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "bad_request"
    assert named in error["message"]


@pytest.mark.parametrize(
    "after",
    [
        "index/public/all/\ud800",  # a lone surrogate: no store can take it as a key
        "index/public/all/\u0000",
        "index/public/all/0000000000000-" + "0" * 32 + "\n",
        "index/public/all/" + "\u0660" * 13 + "-" + "0" * 32,  # Arabic-Indic digits
        "index/public/all/",
    ],
)
def test_a_forged_cursor_is_400_whatever_it_holds(client, services, after):
    make_jobs(services, 2)
    forged = json.dumps({"after": after, "since": None}).encode()
    cursor = base64.urlsafe_b64encode(forged).decode().rstrip("=")
    response = client.get(f"{JOBS}?cursor={cursor}")
    assert response.status_code == 400, response.get_json()
    assert "cursor" in response.get_json()["error"]["message"]


def test_a_limit_of_thousands_of_digits_is_400_without_echoing_them(client):
    response = client.get(f"{JOBS}?limit={'9' * 5000}")
    assert response.status_code == 400, response.get_json()
    assert "limit" in response.get_json()["error"]["message"]
    assert len(response.get_json()["error"]["message"]) < 200


def test_a_cursor_serves_only_the_listing_it_came_from(client, services):
    make_jobs(services, 3)
    cursor = client.get(f"{JOBS}?limit=1").get_json()["next_cursor"]
    assert client.get(f"{JOBS}?cursor={cursor}").status_code == 200
    other = client.get(f"{JOBS}?status=failed&cursor={cursor}")
    assert other.status_code == 400
    assert "cursor" in other.get_json()["error"]["message"]


def test_entries_a_crash_left_are_skipped_and_the_page_still_fills(client, services):
    ids = make_jobs(services, 4)
    index = services.records.index
    # A record write that never happened: an entry, newest of all, with no record.
    index.add(keys.index_key("public", None, 10**13 - 1, keys.new_job_id()))
    # A move whose old entry was never removed: listed as failed, but the job is queued.
    index.add(keys.index_key("public", "failed", 10**13 - 1, ids[0]))
    assert pages(client, "limit=2") == [ids[:1:-1], ids[1::-1]]
    assert pages(client, "status=failed") == [[]]
