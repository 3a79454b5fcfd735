"""Curate instruction-tuning data: ingest, inspect, decide, export.

Importing this package is cheap; heavy dependencies load inside the functions
that need them.
"""

from curation.errors import CurationError

__all__ = ["CurationError"]
__version__ = "0.1.0"
