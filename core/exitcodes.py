"""Exit codes of pdfq's commands (`flask pdf ...`, `python -m infra.provision`).

Stable: shell scripts and release phases rely on them; docs/cli.md lists them for people.
"""

OK = 0
FAILED = 1  # a file was refused or a job failed; provisioning found a problem it cannot fix
USAGE = 2  # a wrong command line or a bad setting (click and core.settings exit 2 as well)
UNAVAILABLE = 3  # Redis or storage unreachable: nothing is wrong with the input, try later
NOT_FOUND = 4  # no such job
NOT_READY = 5  # the job has not finished, or --wait ran out of time
CHANGES_PENDING = 6  # `provision --check` found something it would change
