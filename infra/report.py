"""What one provisioning step found or did, and the exit code a whole run ends with."""

from __future__ import annotations

from dataclasses import dataclass

from core import exitcodes

OK, CHANGED, PENDING, WARNING = "ok", "changed", "pending", "warning"
FAILED, UNAVAILABLE = "failed", "unavailable"


@dataclass(frozen=True)
class Outcome:
    subject: str  # "bucket pdfq", "redis redis://...", ...
    state: str  # one of the states above
    detail: str

    def line(self) -> str:
        prefix = {FAILED: "provision failed", UNAVAILABLE: "provision failed"}.get(
            self.state, "provision warning" if self.state == WARNING else "provision"
        )
        return f"{prefix}: {self.subject}: {self.detail}"


def exit_code(outcomes: list[Outcome], check: bool) -> int:
    """1 for a problem provisioning cannot fix, 3 if a service was unreachable, 6 when
    --check found changes to make, else 0."""
    states = {o.state for o in outcomes}
    if FAILED in states:
        return exitcodes.FAILED
    if UNAVAILABLE in states:
        return exitcodes.UNAVAILABLE
    if check and PENDING in states:
        return exitcodes.CHANGES_PENDING
    return exitcodes.OK
