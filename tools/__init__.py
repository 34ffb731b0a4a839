"""Tools that check the codebase itself; `python tools/architecture.py` prints its layers."""
