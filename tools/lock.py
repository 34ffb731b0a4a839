"""Write requirements.lock: every package, with its exact version, that the requirements files
resolve to today (`make lock`). Run it after changing a requirements file, commit both.

requirements.txt names the lock as its constraints (`-c requirements.lock`), so every install
(Heroku, Render, Docker, CI, `make install`) gets the set that was tested. The resolution here
ignores the current lock and what is installed, asks pip what it would install on this Python
(`pip install --dry-run --report`), and installs nothing.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
# requirements-dev.txt includes requirements-local.txt, which includes requirements.txt.
FILES = ("requirements.txt", "requirements-local.txt", "requirements-dev.txt")
HEADER = """\
# The exact versions CI tests and every deploy installs (requirements.txt: -c requirements.lock).
# Written by `make lock` (tools/lock.py) from the requirements files, for Python {python}.
# Do not edit by hand: change a requirements file, run `make lock`, commit both.
"""


def without_lock(text: str) -> str:
    """A requirements file's text without the constraint on the lock being rewritten."""
    return "".join(line for line in text.splitlines(True) if line.strip() != "-c requirements.lock")


def resolve() -> dict[str, str]:
    """{name: version} of everything requirements-dev.txt resolves to, lock ignored."""
    with tempfile.TemporaryDirectory() as folder:
        for name in FILES:
            (Path(folder) / name).write_text(without_lock((ROOT / name).read_text()))
        report = Path(folder) / "report.json"
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--dry-run"]
        command += ["--ignore-installed", "--report", str(report), "-r", "requirements-dev.txt"]
        subprocess.run(command, cwd=folder, check=True)
        installs = json.loads(report.read_text())["install"]
    return {canonical(item["metadata"]["name"]): item["metadata"]["version"] for item in installs}


def canonical(name: str) -> str:
    """A project name as the package index compares them (PEP 503): pdfminer.six, pdfminer-six."""
    return re.sub(r"[-_.]+", "-", name).lower()


def render(versions: dict[str, str]) -> str:
    python = ".".join(map(str, sys.version_info[:2]))
    lines = [f"{name}=={version}\n" for name, version in sorted(versions.items())]
    return HEADER.format(python=python) + "".join(lines)


def main() -> int:
    LOCK.write_text(render(resolve()))
    print(f"wrote {LOCK.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
