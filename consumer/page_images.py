"""Page images for the viewer: one page of a finished job drawn by PDFium, on demand, kept.

The web asks here (GET /jobs/{id}/pages/{n}.png). An image already drawn is read from
storage, beside the job's result (keys.page_image_key: it expires with the result and is
erased with the job). Otherwise the job's PDF is copied to a scratch folder and the page is
drawn in a warm sandbox child (consumer/sandbox.py `render`), under PAGE_IMAGE_TIMEOUT_SECONDS
and EXTRACT_MEMORY_MB: the web process never parses a PDF itself. The copy is kept for the
next pages for a minute (consumer/page_sources.py). Widths are rounded up to
a multiple of WIDTH_STEP and capped at PAGE_IMAGE_MAX_WIDTH, so one page has at most a few
dozen sizes in storage whatever widths clients ask for.
"""

from __future__ import annotations

import io
from pathlib import Path

from consumer import page_sources, sandbox, scratch
from core import keys
from core.errors import BadRequest, ObjectMissing
from core.jobs import options, results, retention
from core.jobs.model import Job
from core.services import Services

WIDTH_STEP = 100
MIN_WIDTH = 100
DEFAULT_WIDTH = 800
POINTS = "page-points"  # the image's metadata: the page's size in PDF points


def width_of(asked: str | None, max_width: int) -> int:
    """The width drawn for `?width=`: a whole number, rounded up to a step, within bounds."""
    if asked is None or asked == "":
        return min(DEFAULT_WIDTH, max_width)
    try:
        value = int(asked)
    except ValueError:
        raise BadRequest(f"width must be a whole number of pixels; got {asked!r}.") from None
    if value < 1:
        raise BadRequest(f"width must be at least 1; got {value}.")
    stepped = -(-value // WIDTH_STEP) * WIDTH_STEP
    return max(MIN_WIDTH, min(stepped, max_width))


def image(services: Services, job: Job, page: int, width: int) -> tuple[bytes, str]:
    """(the PNG of page `page` of a succeeded job, `width` pixels wide (from width_of), the
    page's size in PDF points as "<width> <height>", kept with the image as its metadata)."""
    settings, storage = services.settings, services.storage
    results.require_succeeded(job)
    result = results.result_key(job)
    if result is None:
        raise retention.result_expired(job, settings.result_retention_days)
    key = keys.page_image_key(result, page, width)
    try:
        body, metadata = storage.get_with_metadata(key)
        return body, metadata.get(POINTS, "")
    except ObjectMissing:
        pass

    def fetch(path: Path):
        try:
            with open(path, "wb") as file:
                storage.download_to(keys.source_key(job.tenant, job.id), file)
        except ObjectMissing:
            raise retention.source_expired(job, settings.source_retention_days) from None

    with (
        page_sources.copy_of(_copy_name(job), fetch) as pdf,
        scratch.job_folder("page-") as folder,
    ):
        out = Path(folder) / "page.png"
        drawn = sandbox.render(
            pdf,
            out,
            page=page,
            width=width,
            timeout=settings.page_image_timeout,
            memory_mb=settings.extract_memory_mb,
            password=options.password(job.options, settings),
            recycle=sandbox.Recycle(settings.sandbox_max_requests, settings.sandbox_max_rss_mb),
        )
        body = out.read_bytes()
    points = " ".join(f"{value:g}" for value in drawn["points"])
    storage.upload_file(key, io.BytesIO(body), "image/png", {POINTS: points})
    return body, points


def forget(job: Job):
    """Drop this process's copy of the job's PDF now (the job was erased through it)."""
    page_sources.forget(_copy_name(job))


def _copy_name(job: Job) -> str:
    return f"{job.tenant}/{job.id}"
