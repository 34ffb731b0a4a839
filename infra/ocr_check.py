"""OCR as provisioning reports it: installed or not, in which languages. Nothing to change:
OCR comes with the image or slug (Dockerfile, Aptfile), never at run time."""

from __future__ import annotations

from core import ocr_support
from core.settings import Settings
from infra.report import FAILED, OK, WARNING, Outcome


def provision(settings: Settings, apply: bool) -> list[Outcome]:
    found = ocr_support.status(
        settings.tessdata_prefix, settings.ocr_default, settings.ocr_languages
    )
    if not found["available"]:
        why = "no tesserocr" if not ocr_support.binding_installed() else "no Tesseract data"
        return [
            Outcome(
                "ocr",
                WARNING,
                f"not available ({why}): scanned pages get no text; install tesseract-ocr "
                "and tesseract-ocr-eng (docs/ocr.md)",
            )
        ]
    missing = ocr_support.missing_languages(settings.ocr_languages, settings.tessdata_prefix)
    languages = "+".join(found["languages"])
    if missing:
        return [
            Outcome(
                "ocr",
                FAILED,
                f"OCR_LANGUAGES={settings.ocr_languages} but {', '.join(missing)} is not "
                f"installed (installed: {languages}); install tesseract-ocr-<lang>",
            )
        ]
    return [
        Outcome(
            "ocr",
            OK,
            f"available, languages {languages} in {found['tessdata']}; "
            f"ocr={found['default']} by default, in {settings.ocr_languages}",
        )
    ]
