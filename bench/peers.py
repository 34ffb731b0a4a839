"""Row j: what a user would pick instead of pdfq's engines for text extraction, on the same
files and one core each: pages/s per core, and how close each text is to pdfminer.six's.

Peers: poppler's pdftotext and Apache PDFBox (Debian's poppler-utils and libpdfbox2-java),
extractous and pypdf (PyPI), beside pdfq's own pdfminer.six and pdfium engines. A peer that
is not installed is reported as missing, never skipped silently.
"""

from __future__ import annotations

import difflib
import logging
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

PDFBOX_JARS = ("pdfbox2.jar", "fontbox2.jar", "commons-logging.jar")
JAVA_LIBS = Path("/usr/share/java")
JAVA_SOURCE = Path(__file__).with_name("java") / "PdfBoxText.java"


def normalized(text: str) -> str:
    """Text with every run of whitespace made one space: layout differences aside."""
    return " ".join(text.split())


def similarity(reference: str, other: str) -> float:
    """Word-sequence similarity (difflib's ratio over the words), 1.0 for equal texts."""
    a, b = reference.split(), other.split()
    if a == b:
        return 1.0
    return difflib.SequenceMatcher(None, a, b).ratio()


def _timed(extract: Callable[[Path], str], files: list[Path]) -> tuple[float, list[str]]:
    texts, started = [], time.perf_counter()
    for path in files:
        try:
            texts.append(extract(path))
        except Exception:  # noqa: BLE001 - a peer that fails on a file scores 0 on it
            texts.append("")
    return time.perf_counter() - started, texts


def _pdfminer(files):
    from pdfminer.high_level import extract_text

    logging.getLogger("pdfminer").setLevel(logging.ERROR)
    return _timed(lambda path: extract_text(path), files)


def _pdfium(files):
    from core import engine_registry

    engine = engine_registry.load("pdfium")
    return _timed(lambda path: engine.extract(path).text, files)


def _pdftotext(files):
    if not shutil.which("pdftotext"):
        return None

    def extract(path):
        done = subprocess.run(
            ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=False
        )
        return done.stdout.decode("utf-8", "replace")

    return _timed(extract, files)


def _pdfbox(files):
    jars = [JAVA_LIBS / name for name in PDFBOX_JARS]
    if not (shutil.which("javac") and all(jar.exists() for jar in jars)):
        return None
    classpath = ":".join(str(jar) for jar in jars)
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(["javac", "-cp", classpath, "-d", folder, str(JAVA_SOURCE)], check=True)
        started = time.perf_counter()
        done = subprocess.run(
            ["java", "-cp", f"{classpath}:{folder}", "PdfBoxText", folder, *map(str, files)],
            capture_output=True,
            text=True,
            check=True,
        )
        wall = time.perf_counter() - started  # JVM start and warm-up included, once
        texts = [
            (Path(folder) / f"{i}.txt").read_text(encoding="utf-8")
            for i in range(1, len(files) + 1)
        ]
    assert len(done.stdout.split()) == len(files), done.stderr
    return wall, texts


def _extractous(files):
    try:
        from extractous import Extractor
    except ImportError:
        return None
    extractor = Extractor().set_extract_string_max_length(2**30)
    return _timed(lambda path: extractor.extract_file_to_string(str(path))[0], files)


def _pypdf(files):
    try:
        from pypdf import PdfReader
    except ImportError:
        return None
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    return _timed(
        lambda path: "\n".join(page.extract_text() for page in PdfReader(path).pages), files
    )


PEERS: dict[str, Callable] = {
    "pdfq pdfium engine": _pdfium,
    "pdftotext (poppler)": _pdftotext,
    "PDFBox 2 (PDFTextStripper)": _pdfbox,
    "extractous": _extractous,
    "pypdf": _pypdf,
}


def compare(files: list[Path], pages: int) -> dict:
    """Every peer over `files` in this process: {name: {pps, equal, similarity} or None}, and
    pdfminer.six's own pages/s under "pdfminer.six"."""
    seconds, reference = _pdfminer(files)
    results: dict = {"pdfminer.six": {"pps": pages / seconds, "equal": 1.0, "similarity": 1.0}}
    wanted = [normalized(text) for text in reference]
    for name, run in PEERS.items():
        measured = run(files)
        if measured is None:
            results[name] = None
            continue
        seconds, texts = measured
        got = [normalized(text) for text in texts]
        equal = sum(a == b for a, b in zip(wanted, got, strict=True)) / len(files)
        scores = [similarity(a, b) for a, b in zip(wanted, got, strict=True)]
        results[name] = {
            "pps": pages / seconds,
            "equal": equal,
            "similarity": sum(scores) / len(scores),
        }
    return results
