"""The bucket's CORS rules, so that pages on the configured origins can upload straight to it.

S3 answers a browser's cross-origin POST or PUT only if a CORS rule allows the page's origin.
pdfq owns one rule, identified by its ID; rules that others added to the bucket are kept.
"""

from __future__ import annotations

from core.storage import Storage

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


def ensure_cors(storage: Storage, origins: tuple[str, ...]) -> str:
    """Make pdfq's rule allow exactly `origins`, writing only on a change; one report line."""
    if not origins:
        return "cors: not managed (CORS_ORIGINS is empty)"
    current = storage.cors_rules()
    wanted = [rule for rule in current if rule.get("ID") != RULE_ID] + [upload_rule(origins)]
    if _normal(current) == _normal(wanted):
        return f"cors: unchanged ({', '.join(origins)})"
    storage.set_cors_rules(wanted)
    return f"cors: set for {', '.join(origins)}"


def _normal(rules: list[dict]) -> list[dict]:
    """Rules compared as sets: S3 may give back lists in another order."""
    return [{k: sorted(v) if isinstance(v, list) else v for k, v in r.items()} for r in rules]
