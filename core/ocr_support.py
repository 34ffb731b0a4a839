"""Whether this machine can OCR, and in which languages: the edge, /health and provisioning
ask here without loading Tesseract.

OCR needs two things installed: the tesserocr binding (a Python package) and Tesseract's
language data (`<lang>.traineddata` files, from the OS packages tesseract-ocr-eng, -deu...).
Nothing is ever downloaded at run time: a language is available when its file is there.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from pathlib import Path

# Where Debian's packages put the language data (Tesseract 5, then 4), and where Heroku's
# apt buildpack unpacks the same packages.
STANDARD_TESSDATA = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/app/.apt/usr/share/tesseract-ocr/5/tessdata",
    "/app/.apt/usr/share/tesseract-ocr/4.00/tessdata",
)
NOT_LANGUAGES = {"osd", "equ"}  # orientation/script detection and equations: not languages
_LANGUAGES = re.compile(r"^[A-Za-z_]+(\+[A-Za-z_]+)*$")
MODES = ("auto", "off")


@functools.cache
def tessdata_dir(configured: str = "") -> Path | None:
    """The folder of traineddata files: TESSDATA_PREFIX when set, else the first standard one."""
    for candidate in (configured, *STANDARD_TESSDATA) if configured else STANDARD_TESSDATA:
        if candidate and any(Path(candidate).glob("*.traineddata")):
            return Path(candidate)
    return None


@functools.cache
def binding_installed() -> bool:
    return importlib.util.find_spec("tesserocr") is not None


def languages(configured: str = "") -> tuple[str, ...]:
    """The installed OCR languages (empty when OCR is not available)."""
    folder = tessdata_dir(configured)
    if folder is None or not binding_installed():
        return ()
    found = {path.stem for path in folder.glob("*.traineddata")}
    return tuple(sorted(found - NOT_LANGUAGES))


def available(configured: str = "") -> bool:
    return bool(languages(configured))


def missing_languages(spec: str, configured: str = "") -> list[str]:
    """The languages of `spec` ('eng+deu') that are not installed."""
    installed = set(languages(configured))
    return [name for name in spec.split("+") if name not in installed]


def valid_spec(spec: str) -> bool:
    """'eng', 'eng+deu': Tesseract's language syntax."""
    return bool(_LANGUAGES.match(spec))


def status(configured: str, default_mode: str, default_languages: str) -> dict:
    """OCR as /health and `provision --check` report it."""
    found = languages(configured)
    folder = tessdata_dir(configured)
    return {
        "available": bool(found),
        "languages": list(found),
        "tessdata": str(folder) if folder else None,
        "default": default_mode if found else "off",
        "default_languages": default_languages,
    }
