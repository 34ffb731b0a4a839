"""Provisioning, safe on every release: create the bucket if missing, check that Redis answers.

python -m infra.provision
"""

from __future__ import annotations

import sys

from core import services
from core.errors import PdfqError
from core.redisconn import redacted
from core.settings import get_settings
from infra.cors import ensure_cors


def provision() -> list[str]:
    """Do what is missing and return one line per check; raises PdfqError on the first failure."""
    settings = get_settings()
    report = []
    created = services.storage().ensure_bucket()
    report.append(f"bucket {settings.s3_bucket}: {'created' if created else 'exists'}")
    report.append(ensure_cors(services.storage(), settings.cors_origins))
    if settings.redis_url:
        services.state().ping()
        report.append(f"redis {redacted(settings.redis_url)}: answers")
    else:
        report.append(f"queue: embedded SQLite in {settings.data_dir} (no Redis URL set)")
    return report


def main() -> int:
    try:
        for line in provision():
            print(f"provision: {line}")
    except PdfqError as exc:
        print(f"provision failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
