"""Search backends over gallery embeddings."""

from cim.index.registry import make_index

__all__ = ["make_index"]
