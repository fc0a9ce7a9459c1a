"""The build pipeline: inputs to memory-mapped image shards, on Dask (see run.py).

``rasterfast.build`` and ``rasterfast.pipeline.rerender`` are its entry points; the
modules are one per stage: ingest, plan, render_stage; plus hashing (the order and
split of every drawing), shuffle (the Parquet area between the stages; the stroke store
itself is :mod:`rasterfast.store`) and progress.
"""

from .run import build, rerender

__all__ = ["build", "rerender"]
