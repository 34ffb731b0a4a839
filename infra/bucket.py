"""The bucket: it exists, its lifecycle rules expire what the retention settings say, and
(only when S3_EVENTS_ARN is set) new sources are announced to that topic or queue.

Each step compares what the bucket has with what the settings want and changes only the
difference, so it is safe on every release. First it probes what the store honours
(core/adapters/capabilities.py) and records it in the bucket for the web and the worker;
a store without lifecycle rules or notifications gets a warning naming what it lacks and
what pdfq does instead (docs/reliability.md), not a failure. pdfq's own rules and
notification are told apart by their `pdfq-` ids; anything else on the bucket is left as
it is.
"""

from __future__ import annotations

from core import keys
from core.adapters.capabilities import Capabilities, describe
from core.adapters.storage import Storage
from core.errors import ObjectMissing, StorageUnavailable
from core.settings import Settings
from infra.report import CHANGED, FAILED, OK, PENDING, WARNING, Outcome

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
    capabilities = None
    if exists:
        capabilities = storage.probe_capabilities()
        outcomes += _record(storage, capabilities, apply)
    outcomes.append(_lifecycle(storage, settings, apply, exists, capabilities))
    outcomes.append(_notifications(storage, settings, apply, exists, capabilities))
    return outcomes


# --- what the store honours ---

# What pdfq does in place of each feature a store lacks (docs/reliability.md).
INSTEAD = {
    "conditional_create": "job records are created under a lock in the state store",
    "conditional_replace": "job records are rewritten under a lock in the state store",
    "copy_conditions": "inbox copies check the source's ETag just before copying",
    "lifecycle": "pdfq's retention task deletes expired sources and results",
    "notifications": "uploads are completed by the client's POST .../complete or by recovery",
    "cors": "browsers on another origin cannot upload; serve the page from the store's origin",
}
# Lacks whose stand-in does the same job, with nothing for an operator to do: said once, as
# information, on the line that reports what the store honours (moto lacks copy conditions,
# so `make run` would otherwise warn on every start about something no one can act on).
QUIET = {"copy_conditions"}


def _record(storage: Storage, capabilities: Capabilities, apply: bool) -> list[Outcome]:
    subject = f"bucket {storage.bucket} store"
    try:
        recorded = Capabilities.from_dict(storage.get_json(keys.CAPABILITIES_KEY)[0])
    except ObjectMissing:
        recorded = None
    outcomes = []
    same = recorded is not None and recorded.lacking() == capabilities.lacking()
    quiet = [f"{name}: {INSTEAD[name]}" for name in capabilities.lacking() if name in QUIET]
    honours = describe(capabilities) + (f" ({'; '.join(quiet)})" if quiet else "")
    if same:
        outcomes.append(Outcome(subject, OK, honours))
    elif apply:
        storage.record_capabilities(capabilities)
        outcomes.append(Outcome(subject, CHANGED, f"recorded: {honours}"))
    else:
        outcomes.append(Outcome(subject, PENDING, f"would record: {honours}"))
    for name in capabilities.lacking():
        if name not in QUIET:
            outcomes.append(Outcome(subject, WARNING, f"lacks {name}: {INSTEAD[name]}"))
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


def _lifecycle(
    storage: Storage, settings: Settings, apply: bool, exists: bool, caps: Capabilities | None
) -> Outcome:
    subject = f"bucket {storage.bucket} lifecycle"
    if caps is not None and not caps.lifecycle:
        wanted = _describe_rules(lifecycle_rules(settings))
        return Outcome(
            subject,
            WARNING,
            f"the store has no lifecycle rules: pdfq's retention task applies them ({wanted}); "
            "unfinished multipart uploads are not dropped",
        )
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


def _notifications(
    storage: Storage, settings: Settings, apply: bool, exists: bool, caps: Capabilities | None
) -> Outcome:
    subject = f"bucket {storage.bucket} events"
    if caps is not None and not caps.notifications:
        if settings.s3_events_arn:
            return Outcome(
                subject,
                FAILED,
                f"the store has no event notifications, so nothing can announce new files to "
                f"{settings.s3_events_arn}: unset S3_EVENTS_ARN (clients complete their uploads)",
            )
        return Outcome(subject, OK, "none (S3_EVENTS_ARN is not set; the store has none)")
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
