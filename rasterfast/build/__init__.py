"""``rasterfast build``: inputs to memory-mapped image shards, on Dask (see pipeline.py)."""

from .pipeline import build

__all__ = ["build"]
