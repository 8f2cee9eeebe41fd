"""camhub: a local-first camera hub."""

__version__ = "0.1.0"
