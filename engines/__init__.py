"""The extraction engines, one module each, behind the interface in engines/base.py.

They sit above core (they raise its errors) and run only inside the sandbox
(consumer/sandbox.py). Which engines exist, and the module of each, is the registry's:
core/engine_registry.py.
"""
