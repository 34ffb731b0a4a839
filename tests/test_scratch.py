"""The worker's temp folders (consumer/scratch.py): a worker killed with SIGKILL leaves its
folders behind, and the next worker to start removes them, never those of a live worker."""

import os
import signal
import subprocess
import sys
import time

from consumer import scratch
from tests.support.servers import ROOT

# A worker process in miniature: makes a job folder with a file in it, says where, waits.
WORKER = """
from consumer import scratch
held = scratch.job_folder("job-")  # kept: its finalizer would remove it
folder = held.name
open(folder + "/source.pdf", "wb").write(b"%PDF-1.4")
print(folder, flush=True)
import time
time.sleep(600)
"""


def _worker(tmp_path) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "-c", WORKER], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    return process, process.stdout.readline().strip()


def test_a_starting_worker_removes_what_a_killed_worker_left_and_nothing_a_live_one_uses(
    tmp_path,
):
    dead, dead_folder = _worker(tmp_path)
    live, live_folder = _worker(tmp_path)
    try:
        dead.send_signal(signal.SIGKILL)
        dead.wait()
        assert os.path.exists(dead_folder)  # SIGKILL: no cleanup ran
        assert scratch.clean_leftovers(tmp_path) == 1
        assert not os.path.exists(os.path.dirname(dead_folder))
        assert os.path.exists(live_folder)
    finally:
        live.kill()
        live.wait()
        dead.stdout.close()
        live.stdout.close()
    assert scratch.clean_leftovers(tmp_path) == 1  # once its worker is gone too
    assert list(tmp_path.iterdir()) == []


def test_an_unlocked_folder_is_left_alone_until_it_is_stale(tmp_path):
    folder = tmp_path / "pdfq-job-abc"
    folder.mkdir()
    other = tmp_path / "not-pdfq"
    other.mkdir()
    assert scratch.clean_leftovers(tmp_path) == 0
    stale = time.time() - scratch.UNLOCKED_GRACE_SECONDS - 60
    os.utime(folder, (stale, stale))
    assert scratch.clean_leftovers(tmp_path) == 1
    assert not folder.exists() and other.exists()


def test_the_workers_job_folders_live_under_its_own_locked_folder():
    with scratch.job_folder("job-") as folder:
        assert os.path.dirname(folder) == str(scratch.root())
        assert (scratch.root() / scratch.LOCK).exists()
        assert scratch.clean_leftovers(scratch.root().parent) >= 0
        assert os.path.exists(folder)  # its own folder is never taken for a dead one
