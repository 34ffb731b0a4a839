"""Reproducible benchmarks: `make bench` (quick) or `make bench FULL=1`; see docs/performance.md."""
