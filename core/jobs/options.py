"""Extraction options: validated once at the edge, stored in the job record, read by the worker.

A PDF password never rests in clear: it is encrypted with Fernet (key derived from
OPTIONS_SECRET) before it enters the record, decrypted only by the worker, and handed to the
sandboxed child in memory. Views show `"password": true` instead of the value. OPTIONS_SECRET
can be rotated: passwords sealed under an earlier value listed in OPTIONS_SECRET_OLD still
open (MultiFernet); new ones are sealed under OPTIONS_SECRET.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from core import engine_registry, ocr_support
from core.errors import BadRequest, Encrypted
from core.jobs import chunking
from core.settings import Settings

FIELDS = (
    "pages",
    "password",
    "layout",
    "laparams",
    "max_pages",
    "ocr",
    "ocr_languages",
    "outputs",
    "chunk_chars",
)
# Results beyond the text and pages, computed only for jobs that ask for them: each page's
# text blocks with their kinds, the document as Markdown (made from those blocks), each
# page's tables, the document as chunks for retrieval, the document's and each page's
# language, the images its pages show as PNG files (docs/structure.md).
OUTPUTS = ("blocks", "markdown", "tables", "chunks", "languages", "figures")
# The outputs made from the text blocks: asking for one computes the blocks.
BLOCK_OUTPUTS = ("blocks", "markdown", "chunks")
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
# What one option may hold, as sent: every entry point (/documents, /uploads, reprocess)
# validates through parse(), so a job record stays a few KB whatever a client sends. A PDF
# password is at most 127 bytes; no Tesseract spec or page list a person writes comes near.
MAX_CHARS = {"pages": 1000, "password": 256, "ocr_languages": 200, "laparams": 1000}
MAX_PAGES_OPTION = 1_000_000  # max_pages
# The options and callback URL of one job together, as UTF-8 JSON: above what the fields'
# own bounds add up to, so that no option added later escapes a bound.
MAX_OPTIONS_BYTES = 8192
# ocr_languages: Tesseract's languages picked for the document (engines/languages.py).
AUTO_LANGUAGES = "auto"


def parse(body: dict, *, strings: bool = False, settings: Settings | None = None) -> dict:
    """The options in `body` (JSON values, or form strings when `strings`), validated.

    Unknown keys are ignored here (the caller checks its own field list); a bad value is a
    400 that names its field. The password is returned in clear under "password": callers
    pass the result through seal() before storing it. With `settings`, OCR options are also
    checked against what this machine has installed.
    """
    for name, limit in MAX_CHARS.items():
        value = body.get(name)
        if isinstance(value, str) and len(value) > limit:
            raise BadRequest(
                f"Field {name!r} is {len(value)} characters long; it may have {limit} at most."
            )
    options: dict = {}
    if body.get("ocr") not in (None, ""):
        if body["ocr"] not in ocr_support.MODES:
            raise BadRequest(f"Field 'ocr' must be one of {', '.join(ocr_support.MODES)}.")
        options["ocr"] = body["ocr"]
    if body.get("ocr_languages") not in (None, ""):
        options["ocr_languages"] = _ocr_languages(body["ocr_languages"], settings)
    if settings is not None and options.get("ocr") == "auto":
        require_ocr(settings, "Field 'ocr': auto")
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
    if body.get("outputs") not in (None, "", []):
        options["outputs"] = _outputs(body["outputs"])
    if body.get("chunk_chars") not in (None, ""):
        options["chunk_chars"] = _chunk_chars(body["chunk_chars"], strings)
    _check_total(options, body.get("callback_url"))
    return options


def _outputs(value) -> list[str]:
    """'markdown,blocks' (a form field) or ["markdown"] (JSON), as a sorted list."""
    names = value.split(",") if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise BadRequest("Field 'outputs' must be a list of outputs such as 'blocks,markdown'.")
    wanted = {name.strip() for name in names if name.strip()}
    unknown = sorted(wanted - set(OUTPUTS))
    if unknown:
        raise BadRequest(
            f"Field 'outputs': {unknown[0]!r} is not an output; they are {', '.join(OUTPUTS)} "
            "(the text and pages always come)."
        )
    return sorted(wanted)


def _chunk_chars(value, strings: bool) -> int:
    if strings and isinstance(value, str) and value.strip().isdigit() and len(value) <= 9:
        value = int(value)
    low, high = chunking.MIN_CHARS, chunking.MAX_CHARS
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadRequest(f"Field 'chunk_chars' must be a whole number from {low} to {high}.")
    return value


def wants_structure(options: dict | None) -> bool:
    """Whether the job computes its blocks (for the blocks and markdown formats)."""
    return bool(set((options or {}).get("outputs") or ()) & set(BLOCK_OUTPUTS))


def wants(options: dict | None, output: str) -> bool:
    """Whether the job's `outputs` name `output` (a job that names none computes no extra)."""
    return output in ((options or {}).get("outputs") or ())


def _check_total(options: dict, callback_url) -> None:
    """400 when the options and the callback URL together are over MAX_OPTIONS_BYTES."""
    size = len(json.dumps(options, ensure_ascii=False).encode())
    if isinstance(callback_url, str):
        size += len(callback_url.encode("utf-8", "replace"))
    if size > MAX_OPTIONS_BYTES:
        raise BadRequest(
            f"The job's options and callback_url take {size} bytes together; they may take "
            f"{MAX_OPTIONS_BYTES} at most: shorten 'pages' or the callback URL."
        )


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


def engine(value: str | None, default: str, settings: Settings | None = None) -> str:
    """The engine a job asks for (`default` when it names none); 400 naming the choices."""
    name = value or default
    if name not in engine_registry.NAMES:
        shown = name[:40] if isinstance(name, str) else name
        raise BadRequest(
            f"engine must be one of {', '.join(engine_registry.NAMES)}; got {shown!r}."
        )
    if name == "ocr" and settings is not None:
        require_ocr(settings, "engine ocr")
    return name


def require_ocr(settings: Settings, asked: str):
    """400 when this deployment cannot OCR (no tesserocr, or no language data)."""
    if not ocr_support.available(settings.tessdata_prefix):
        raise BadRequest(
            f"{asked} needs OCR, which is not installed here: install Tesseract "
            "(apt-get install tesseract-ocr tesseract-ocr-eng) and the tesserocr package."
        )


def _ocr_languages(value, settings: Settings | None) -> str:
    if not isinstance(value, str) or not ocr_support.valid_spec(value.strip()):
        raise BadRequest(
            "Field 'ocr_languages' must be languages such as 'eng' or 'eng+deu', or 'auto'."
        )
    value = value.strip()
    if value == AUTO_LANGUAGES:
        if settings is not None:
            require_ocr(settings, "Field 'ocr_languages'")
        return value
    if settings is not None:
        require_ocr(settings, "Field 'ocr_languages'")
        missing = ocr_support.missing_languages(value, settings.tessdata_prefix)
        if missing:
            installed = ", ".join(ocr_support.languages(settings.tessdata_prefix))
            raise BadRequest(
                f"Field 'ocr_languages': {', '.join(missing)} is not installed; "
                f"installed: {installed}."
            )
    return value


def for_engine(stored: dict | None, engine: str, settings: Settings) -> dict:
    """The options a sandboxed engine runs with: the job's, plus how OCR applies on this
    machine ("ocr": all | auto | off, its languages, resolution and version). They also key
    dedup and the parts of a run, since they change the text."""
    resolved = dict(stored or {})
    installed = ocr_support.available(settings.tessdata_prefix)
    if engine == "ocr":
        mode = "all"
    elif not installed:
        mode = "off"  # the default, or a job stored while OCR was installed
    else:
        mode = resolved.get("ocr") or settings.ocr_default
    resolved["ocr"] = mode
    if mode != "off":
        resolved["ocr_languages"] = resolved.get("ocr_languages") or settings.ocr_languages
        if resolved["ocr_languages"] == AUTO_LANGUAGES:  # the first guess, where none is told
            resolved["ocr_fallback"] = settings.ocr_languages
        resolved["ocr_dpi"] = settings.ocr_dpi
        resolved["ocr_tessdata"] = str(ocr_support.tessdata_dir(settings.tessdata_prefix))
        resolved["ocr_version"] = engine_registry.version("ocr") if installed else ""
    return resolved


def _bool(name: str, value, strings: bool) -> bool:
    if isinstance(value, bool):
        return value
    if strings and isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise BadRequest(f"Field {name!r} must be true or false.")


def _positive(name: str, value, strings: bool) -> int:
    if strings and isinstance(value, str) and value.strip().isdigit() and len(value) <= 20:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PAGES_OPTION:
        raise BadRequest(f"Field {name!r} must be a whole number from 1 to {MAX_PAGES_OPTION}.")
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


def _fernet(secret: str) -> Fernet:
    digest = hashlib.sha256(secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _keys(settings: Settings) -> MultiFernet | None:
    """OPTIONS_SECRET's key first (it seals), then OPTIONS_SECRET_OLD's (they still open)."""
    secrets = [s for s in (settings.options_secret, *settings.options_secret_old) if s]
    return MultiFernet([_fernet(s) for s in secrets]) if secrets else None


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
        token = _fernet(settings.options_secret).encrypt(password.encode()).decode()
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
    keys = _keys(settings)
    try:
        if keys is None:
            raise InvalidToken
        return keys.decrypt(token.encode()).decode()
    except InvalidToken:
        raise Encrypted(
            "The job's password cannot be decrypted: OPTIONS_SECRET changed since it was "
            "stored. List the earlier value in OPTIONS_SECRET_OLD, or reprocess the job with "
            "the password again."
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
    hidden = ("password_encrypted", "ocr_tessdata")  # where the data lies changes no text
    return {k: v for k, v in (options or {}).items() if k not in hidden}


def selects_pages(options: dict | None) -> bool:
    """True when the job extracts only some pages (then it runs in one piece, not in parts)."""
    return bool((options or {}).get("pages") or (options or {}).get("max_pages"))
