"""Export the bank to Anki: a package that updates cleanly (anki.py) and Anki-headed text (tsv.py).

The CLI imports these lazily (``quizcnn export ...``); nothing here prints,
and torch is imported only when the caller runs proofs for the Proof field.
"""

from quizcnn.export.state import ExportError, StateError

__all__ = ["ExportError", "StateError"]
