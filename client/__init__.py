"""pdfq's HTTP client: submit PDFs to a deployed pdfq, follow their jobs, fetch results.

A separate program from the service: it uses only the standard library and nothing of pdfq's
own packages, so it installs and runs anywhere Python 3.11 does (`pdfq ...` or
`python -m client ...`). docs/client.md describes the command, its exit codes and the API.
"""

from client.service import Client
from client.transport import ApiError, Unreachable

__all__ = ["ApiError", "Client", "Unreachable"]
