"""Extraction options: validated once at the edge, stored in the job record, read by the worker.

A PDF password never rests in clear: it is encrypted with Fernet (key derived from
OPTIONS_SECRET) before it enters the record, decrypted only by the worker, and handed to the
sandboxed child in memory. Views show `"password": true` instead of the value.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re

from cryptography.fernet import Fernet, InvalidToken

from core import engine_registry
from core.errors import BadRequest, Encrypted
from core.settings import Settings

FIELDS = ("pages", "password", "layout", "laparams", "max_pages")
# pdfminer.layout.LAParams arguments a job may set, with their types.
LAPARAMS = {
    "line_overlap": float,
    "char_margin": float,
    "line_margin": float,
    "word_margin": float,
    "boxes_flow": float,
    "detect_vertical": bool,
    "all_texts": bool,
}
_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")
MAX_RANGE_PAGES = 100_000


def parse(body: dict, *, strings: bool = False) -> dict:
    """The options in `body` (JSON values, or form strings when `strings`), validated.

    Unknown keys are ignored here (the caller checks its own field list); a bad value is a
    400 that names its field. The password is returned in clear under "password": callers
    pass the result through seal() before storing it.
    """
    options: dict = {}
    if body.get("pages") not in (None, ""):
        options["pages"] = _pages(body["pages"])
    if body.get("password") not in (None, ""):
        if not isinstance(body["password"], str):
            raise BadRequest("Field 'password' must be a string.")
        options["password"] = body["password"]
    if body.get("layout") is not None:
        options["layout"] = _bool("layout", body["layout"], strings)
    if body.get("laparams") not in (None, ""):
        raw = body["laparams"]
        if strings:
            try:
                raw = json.loads(raw)
            except (ValueError, RecursionError):  # thousands of '[' exhaust the stack
                raise BadRequest("Field 'laparams' must be a JSON object.") from None
        options["laparams"] = _laparams(raw)
    if body.get("max_pages") not in (None, ""):
        options["max_pages"] = _positive("max_pages", body["max_pages"], strings)
    return options


def _pages(value) -> str:
    """'1-3,7' kept as written (normalized); each range checked."""
    if not isinstance(value, str):
        raise BadRequest("Field 'pages' must be a string of page ranges such as '1-3,7'.")
    parts = []
    for part in value.split(","):
        match = _RANGE.match(part)
        if not match:
            raise BadRequest(f"Field 'pages': {part.strip()!r} is not a page or a range (1-3).")
        first, last = int(match[1]), int(match[2] or match[1])
        if first < 1 or last < first or last - first > MAX_RANGE_PAGES:
            raise BadRequest(f"Field 'pages': {part.strip()!r} is not a valid range.")
        parts.append(f"{first}-{last}" if last != first else str(first))
    return ",".join(parts)


def engine(value: str | None, default: str) -> str:
    """The engine a job asks for (`default` when it names none); 400 naming the choices."""
    name = value or default
    if name not in engine_registry.NAMES:
        raise BadRequest(f"engine must be one of {', '.join(engine_registry.NAMES)}; got {name!r}.")
    return name


def _bool(name: str, value, strings: bool) -> bool:
    if isinstance(value, bool):
        return value
    if strings and isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise BadRequest(f"Field {name!r} must be true or false.")


def _positive(name: str, value, strings: bool) -> int:
    if strings and isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadRequest(f"Field {name!r} must be a whole number of at least 1.")
    return value


def _laparams(raw) -> dict:
    if not isinstance(raw, dict):
        raise BadRequest("Field 'laparams' must be a JSON object.")
    values = {}
    for name, value in raw.items():
        kind = LAPARAMS.get(name)
        if kind is None:
            raise BadRequest(
                f"Field 'laparams.{name}' is not a LAParams setting; they are "
                f"{', '.join(LAPARAMS)}."
            )
        if kind is bool and not isinstance(value, bool):
            raise BadRequest(f"Field 'laparams.{name}' must be true or false.")
        if kind is float:
            if name == "boxes_flow" and value is None:
                values[name] = None
                continue
            # Python's JSON reads NaN, Infinity, 1e400 (inf) and 400-digit integers (too large
            # for a float): none is a margin, and inf/NaN would make the job's view invalid JSON.
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) <= 1e300:
                value = float(value)
            if not isinstance(value, float) or not math.isfinite(value):
                raise BadRequest(f"Field 'laparams.{name}' must be a number.")
            if name == "boxes_flow" and not -1 <= value <= 1:
                raise BadRequest("Field 'laparams.boxes_flow' must be between -1 and 1, or null.")
        values[name] = value
    return values


# --- the password, encrypted at rest ---


def _fernet(settings: Settings) -> Fernet:
    digest = hashlib.sha256(settings.options_secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(options: dict, settings: Settings) -> dict:
    """The options as stored: the password replaced by its Fernet token."""
    sealed = dict(options)
    password = sealed.pop("password", None)
    if password is not None:
        if not settings.options_secret:
            raise BadRequest(
                "Field 'password' cannot be accepted: this deployment has no OPTIONS_SECRET "
                "to encrypt it with."
            )
        token = _fernet(settings).encrypt(password.encode()).decode()
        sealed["password_encrypted"] = token
    return sealed


def merged(stored: dict, new: dict, settings: Settings) -> dict:
    """Stored options updated with new ones (a reprocess); a new password replaces the old."""
    result = dict(stored)
    sealed = seal(new, settings)
    result.update(sealed)
    return result


def password(options: dict, settings: Settings) -> str:
    """The clear password for the worker ('' when the job has none)."""
    token = options.get("password_encrypted")
    if not token:
        return ""
    try:
        return _fernet(settings).decrypt(token.encode()).decode()
    except InvalidToken:
        raise Encrypted(
            "The job's password cannot be decrypted: OPTIONS_SECRET changed since it was "
            "stored; reprocess the job with the password again."
        ) from None


def public(options: dict) -> dict:
    """The options as views show them: whether a password was given, never its value."""
    shown = {k: v for k, v in options.items() if k != "password_encrypted"}
    if "password_encrypted" in options:
        shown["password"] = True
    return shown


def dedup_view(options: dict | None) -> dict:
    """The stored options that change the extracted text: all but the password's token,
    which differs at every seal (and a wrong password fails the job rather than change it)."""
    return {k: v for k, v in (options or {}).items() if k != "password_encrypted"}


def selects_pages(options: dict | None) -> bool:
    """True when the job extracts only some pages (then it runs in one piece, not in parts)."""
    return bool((options or {}).get("pages") or (options or {}).get("max_pages"))
