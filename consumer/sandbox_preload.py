"""Imported once by the sandbox's forkserver: pdfminer loaded, stop signals ignored.

A platform stopping the worker sends SIGTERM to every process of the dyno; the forkserver
must survive it, or its extraction children would die with it (they die with their
parent by design). The worker kills its children itself when it must.
"""

import signal

import engines.pdfminer_engine  # noqa: F401 - preloaded so each child starts in milliseconds

signal.signal(signal.SIGTERM, signal.SIG_IGN)
