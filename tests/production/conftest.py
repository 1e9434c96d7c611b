"""The production server fixture (tests/production/server.py)."""

from .server import production_server  # noqa: F401
