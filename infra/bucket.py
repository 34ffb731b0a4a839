"""The bucket: it exists, its lifecycle rules expire what the retention settings say, and
(only when S3_EVENTS_ARN is set) new sources are announced to that topic or queue.

Each step compares what the bucket has with what the settings want and changes only the
difference, so it is safe on every release. pdfq's own rules and notification are told
apart by their `pdfq-` ids; anything else on the bucket is left as it is.
"""

from __future__ import annotations

from core import keys
from core.adapters.storage import Storage
from core.errors import StorageUnavailable
from core.settings import Settings
from infra.report import CHANGED, OK, PENDING, Outcome

OURS = "pdfq-"
# A multipart upload that never completes keeps its parts (and their cost) forever.
ABORT_INCOMPLETE_UPLOADS_DAYS = 1
NOTIFICATION_ID = "pdfq-source-created"
INBOX_NOTIFICATION_ID = "pdfq-inbox-created"
# Presigned uploads land in sources/ (their event completes the job); any tool may drop
# files of any name into inbox/<tenant>/ (each becomes a job: functions/inbox.py).
_NOTIFICATIONS = {
    NOTIFICATION_ID: (("prefix", keys.SOURCES_PREFIX), ("suffix", ".pdf")),
    INBOX_NOTIFICATION_ID: (("prefix", keys.INBOX_PREFIX),),
}
_NOTIFICATION_KINDS = {  # ARN service -> (configuration list, ARN field)
    "sns": ("TopicConfigurations", "TopicArn"),
    "sqs": ("QueueConfigurations", "QueueArn"),
    "lambda": ("LambdaFunctionConfigurations", "LambdaFunctionArn"),
}


def provision(storage: Storage, settings: Settings, apply: bool) -> list[Outcome]:
    subject = f"bucket {storage.bucket}"
    exists = _exists(storage)
    if exists:
        outcomes = [Outcome(subject, OK, "exists")]
    elif apply:
        _create(storage, settings)
        exists = True
        outcomes = [Outcome(subject, CHANGED, "created")]
    else:
        outcomes = [Outcome(subject, PENDING, "would create")]
    outcomes.append(_lifecycle(storage, settings, apply, exists))
    outcomes.append(_notifications(storage, settings, apply, exists))
    return outcomes


def _exists(storage: Storage) -> bool:
    try:
        storage.ping()
    except StorageUnavailable as exc:
        if "does not exist" in exc.message:
            return False
        raise
    return True


def _create(storage: Storage, settings: Settings):
    where = {}
    if settings.s3_region != "us-east-1":  # us-east-1 refuses its own name as a constraint
        where["CreateBucketConfiguration"] = {"LocationConstraint": settings.s3_region}
    storage.configure(f"create bucket {storage.bucket}", "create_bucket", **where)


# --- lifecycle rules ---


def lifecycle_rules(settings: Settings) -> list[dict]:
    """pdfq's rules for these settings: expire sources and results; drop stale uploads."""
    rules = [
        {
            "ID": f"{OURS}abort-incomplete-uploads",
            "Filter": {"Prefix": ""},
            "Status": "Enabled",
            "AbortIncompleteMultipartUpload": {
                "DaysAfterInitiation": ABORT_INCOMPLETE_UPLOADS_DAYS
            },
        }
    ]
    for kind, prefix, days in (
        ("sources", keys.SOURCES_PREFIX, settings.source_retention_days),
        ("results", keys.RESULTS_PREFIX, settings.result_retention_days),
    ):
        if days:  # 0 keeps them forever
            rules.append(
                {
                    "ID": f"{OURS}expire-{kind}",
                    "Filter": {"Prefix": prefix},
                    "Status": "Enabled",
                    "Expiration": {"Days": days},
                }
            )
    return rules


def _rule_shape(rule: dict) -> tuple:
    """What matters in a rule, however S3 spells it back (Filter or legacy Prefix)."""
    prefix = (rule.get("Filter") or {}).get("Prefix", rule.get("Prefix", ""))
    return (
        rule["ID"],
        rule.get("Status"),
        prefix,
        (rule.get("Expiration") or {}).get("Days"),
        (rule.get("AbortIncompleteMultipartUpload") or {}).get("DaysAfterInitiation"),
    )


def _describe_rules(rules: list[dict]) -> str:
    parts = []
    for rule in rules:
        _, _, prefix, expire, abort = _rule_shape(rule)
        if expire:
            parts.append(f"{prefix} expire after {expire} days")
        if abort:
            parts.append(f"unfinished uploads dropped after {abort} day(s)")
    return "; ".join(parts)


def _lifecycle(storage: Storage, settings: Settings, apply: bool, exists: bool) -> Outcome:
    subject = f"bucket {storage.bucket} lifecycle"
    current = []
    if exists:
        answer = storage.configure(
            "read the lifecycle rules",
            "get_bucket_lifecycle_configuration",
            missing_code="NoSuchLifecycleConfiguration",
        )
        current = (answer or {}).get("Rules", [])
    theirs = [r for r in current if not r.get("ID", "").startswith(OURS)]
    ours = sorted(_rule_shape(r) for r in current if r.get("ID", "").startswith(OURS))
    wanted = lifecycle_rules(settings)
    summary = _describe_rules(wanted) + (f" (+{len(theirs)} rules not pdfq's)" if theirs else "")
    if ours == sorted(_rule_shape(r) for r in wanted):
        return Outcome(subject, OK, summary)
    if not apply:
        return Outcome(subject, PENDING, f"would set: {summary}")
    storage.configure(
        "set the lifecycle rules",
        "put_bucket_lifecycle_configuration",
        LifecycleConfiguration={"Rules": theirs + wanted},
    )
    return Outcome(subject, CHANGED, f"set: {summary}")


# --- event notifications (optional) ---


def notifications(settings: Settings) -> list[tuple[str, dict]]:
    """(configuration list, entry) pairs announcing new sources and inbox files to
    S3_EVENTS_ARN; empty when it is unset."""
    arn = settings.s3_events_arn
    if not arn:
        return []
    service = arn.split(":")[2]
    if service not in _NOTIFICATION_KINDS:  # MinIO: arn:minio:sqs::<id>:webhook
        service = next(kind for kind in _NOTIFICATION_KINDS if f":{kind}:" in arn)
    listing, field = _NOTIFICATION_KINDS[service]
    wanted = []
    for entry_id, filters in _NOTIFICATIONS.items():
        rules = [{"Name": name, "Value": value} for name, value in filters]
        entry = {
            "Id": entry_id,
            field: arn,
            "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": rules}},
        }
        wanted.append((listing, entry))
    return wanted


def _entry_shape(entry: dict) -> tuple:
    rules = (entry.get("Filter") or {}).get("Key", {}).get("FilterRules", [])
    arn = next((v for k, v in entry.items() if k.endswith("Arn")), None)
    return (
        arn,
        tuple(sorted(entry.get("Events", []))),
        tuple(sorted((r["Name"].lower(), r["Value"]) for r in rules)),
    )


def _shapes(pairs: list[tuple[str, dict]]) -> list[tuple]:
    return sorted((listing, e.get("Id"), _entry_shape(e)) for listing, e in pairs)


def _notifications(storage: Storage, settings: Settings, apply: bool, exists: bool) -> Outcome:
    subject = f"bucket {storage.bucket} events"
    current: dict = {}
    if exists:
        current = storage.configure(
            "read the event notifications", "get_bucket_notification_configuration"
        )
        current = {k: v for k, v in current.items() if k != "ResponseMetadata"}
    ours = [
        (listing, e)
        for listing, entries in current.items()
        if isinstance(entries, list)
        for e in entries
        if e.get("Id") in _NOTIFICATIONS
    ]
    wanted = notifications(settings)
    if not wanted and not ours:
        return Outcome(subject, OK, "none (S3_EVENTS_ARN is not set)")
    what = "new sources/*.pdf and inbox/ files"
    if wanted and _shapes(ours) == _shapes(wanted):
        return Outcome(subject, OK, f"{what} announced to {settings.s3_events_arn}")
    doing = (
        f"announce {what} to {settings.s3_events_arn}"
        if wanted
        else "stop announcing new files (S3_EVENTS_ARN was cleared)"
    )
    if not apply:
        return Outcome(subject, PENDING, f"would {doing}")
    config = {
        listing: [e for e in entries if e.get("Id") not in _NOTIFICATIONS]
        for listing, entries in current.items()
        if isinstance(entries, list)
    }
    for listing, entry in wanted:
        config.setdefault(listing, []).append(entry)
    config = {k: v for k, v in config.items() if v}
    if "EventBridgeConfiguration" in current:
        config["EventBridgeConfiguration"] = current["EventBridgeConfiguration"]
    storage.configure(
        "set the event notifications",
        "put_bucket_notification_configuration",
        NotificationConfiguration=config,
    )
    return Outcome(subject, CHANGED, doing)
