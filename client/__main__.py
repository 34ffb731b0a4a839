"""`python -m client ...`: the same as the `pdfq` command."""

import sys

from client.command import main

sys.exit(main())
