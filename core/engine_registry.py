"""The extraction engines, by name: the registry that settings, the API, the OpenAPI document
and the docs read.

Each engine is one module of the engines/ package with the interface of engines/base.py (its
page count, its extraction of a page range; its version is its package's). Adding one is a
new module there and one line in ENGINES here. Nothing here imports an engine: the sandbox
loads each by name, in the child process that runs it.
"""

from __future__ import annotations

import functools
import importlib
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _installed_version
from types import ModuleType

# name -> (module, the package it runs on: results name it, and its version keys dedup)
ENGINES = {
    "pdfminer": ("engines.pdfminer_engine", "pdfminer.six"),
    "pdfium": ("engines.pdfium_engine", "pypdfium2"),
    # Tesseract through tesserocr, pages rendered by PDFium: see docs/ocr.md.
    "ocr": ("engines.ocr_engine", "tesserocr"),
}
NAMES = tuple(ENGINES)
DEFAULT = "pdfminer"


def load(name: str) -> ModuleType:
    """The engine's module (imported on first use)."""
    return importlib.import_module(ENGINES[name][0])


def package(name: str) -> str:
    """The package the engine runs on, as result.json and the job summary name it."""
    return ENGINES[name][1]


@functools.cache
def version(name: str) -> str:
    """The installed version of the engine's package: part of the dedup key ('' when the
    package is not installed: an optional engine such as OCR). Read once a process: reading
    a package's metadata costs a millisecond or two, and every job asks."""
    try:
        return _installed_version(package(name))
    except PackageNotFoundError:
        return ""
