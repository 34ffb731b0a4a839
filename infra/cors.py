"""The bucket's CORS rules, so that pages on the configured origins can upload straight to it.

S3 answers a browser's cross-origin POST or PUT only if a CORS rule allows the page's origin.
pdfq owns one rule, identified by its ID; rules that others added to the bucket are kept.

CORS_ORIGINS defaults to the service's own URL where the platform gives it (core/settings.py).
With none, pdfq leaves the rules alone but says whether a page could upload at all: if no rule
lets any origin POST, `--check` fails naming CORS_ORIGINS (a release only warns: the API and
scripts work without CORS).
"""

from __future__ import annotations

from core.adapters.storage import Storage
from core.errors import StorageUnavailable
from core.settings import Settings
from infra.report import CHANGED, FAILED, OK, PENDING, WARNING, Outcome

RULE_ID = "pdfq-uploads"


def upload_rule(origins: tuple[str, ...]) -> dict:
    return {
        "ID": RULE_ID,
        "AllowedOrigins": list(origins),
        "AllowedMethods": ["POST", "PUT"],
        "AllowedHeaders": ["*"],
        # Readable by the page, e.g. to check what it uploaded.
        "ExposeHeaders": ["ETag"],
        # Browsers cache the preflight answer this long (they cap it: Chromium at 2 h).
        "MaxAgeSeconds": 3600,
    }


def provision(storage: Storage, settings: Settings, apply: bool) -> list[Outcome]:
    """The provisioning step: with apply=False, only report what would change."""
    return [_apply(storage, settings.cors_origins, apply)]


def _rules(storage: Storage) -> list[dict]:
    answer = storage.configure(
        "read the CORS rules", "get_bucket_cors", missing_code="NoSuchCORSConfiguration"
    )
    return (answer or {}).get("CORSRules", [])


def _unmanaged(storage: Storage, apply: bool) -> Outcome:
    """No origins configured: report which origins the bucket's own rules let upload."""
    try:
        rules = _rules(storage)
    except StorageUnavailable as exc:  # no bucket yet (--check), or a store without CORS rules
        return Outcome("cors", WARNING, f"not managed (CORS_ORIGINS is empty); {exc.message}")
    allowed = sorted(
        {o for r in rules if "POST" in r.get("AllowedMethods", []) for o in r["AllowedOrigins"]}
    )
    if allowed:
        listed = ", ".join(allowed)
        return Outcome(
            "cors", OK, f"not managed (CORS_ORIGINS is empty); uploads allowed from {listed}"
        )
    problem = (
        "the upload page cannot upload to the bucket: no CORS rule allows its origin. "
        "Set CORS_ORIGINS to the page's origin (e.g. https://pdfq.example.com) and provision"
    )
    return Outcome("cors", WARNING if apply else FAILED, problem)


def _apply(storage: Storage, origins: tuple[str, ...], apply: bool) -> Outcome:
    if not origins:
        return _unmanaged(storage, apply)
    try:
        current = _rules(storage)
    except StorageUnavailable:
        if apply:
            raise
        current = []  # --check before the bucket exists: everything is still to do
    wanted = [rule for rule in current if rule.get("ID") != RULE_ID] + [upload_rule(origins)]
    listed = ", ".join(origins)
    if _normal(current) == _normal(wanted):
        return Outcome("cors", OK, f"unchanged ({listed})")
    if not apply:
        return Outcome("cors", PENDING, f"would set for {listed}")
    storage.configure(
        "set the CORS rules", "put_bucket_cors", CORSConfiguration={"CORSRules": wanted}
    )
    return Outcome("cors", CHANGED, f"set for {listed}")


def _normal(rules: list[dict]) -> list[dict]:
    """Rules compared as sets: S3 may give back lists in another order."""
    return [{k: sorted(v) if isinstance(v, list) else v for k, v in r.items()} for r in rules]
