"""Run one Procfile process by name: `python -m infra.run web|worker|release`.

The Docker image, docker-compose.yml and the supervisor config start processes through this,
so they run exactly the Procfile's commands (the ones Heroku runs) and never drift from them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from core.settings import process_environment

ROOT = Path(__file__).resolve().parent.parent


def procfile(path: Path = ROOT / "Procfile") -> dict[str, str]:
    """The Procfile as {process type: command}."""
    lines = (line.split(":", 1) for line in path.read_text().splitlines() if ":" in line)
    return {name.strip(): command.strip() for name, command in lines}


def main(argv: list[str]) -> int:
    commands = procfile()
    if len(argv) != 1 or argv[0] not in commands:
        print(f"usage: python -m infra.run {{{'|'.join(commands)}}}", file=sys.stderr)
        return 2
    os.chdir(ROOT)
    # .env exported under the real environment, as honcho and `heroku local` do: the line's
    # ${HUEY_WORKERS}, gunicorn's WEB_CONCURRENCY and boto3's AWS keys all see it.
    env = process_environment()
    # The venv's tools (gunicorn, huey_consumer) first, as `make run` does, without activation.
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    # A shell expands ${HUEY_WORKERS:-2} as on Heroku; exec leaves the server as this process,
    # so the supervisor's signals reach gunicorn or huey_consumer directly.
    os.execvpe("sh", ["sh", "-c", "exec " + commands[argv[0]]], env)  # noqa: S606 - Procfile
    return 1  # not reached: execvp replaces this process


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
