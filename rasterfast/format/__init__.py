"""The on-disk shard format.

A directory of ``.npy`` image shards, labels, Parquet metadata and ``manifest.json``;
see ``rasterfast/format/README.md`` for the byte layout.

Writers (the build pipeline) go through :class:`Writer`; readers (``ShardDataset``, tools)
through :class:`Reader`; :func:`verify` recomputes every checksum.
"""

from .layout import DATA_OFFSET, META_SCHEMA
from .manifest import (
    CHECKSUM,
    FORMAT,
    FORMAT_VERSION,
    SUPPORTED_VERSIONS,
    InputStats,
    Manifest,
    ShardEntry,
    ShardFormatError,
    summarize_rejects,
)
from .reader import Reader, VerifyReport, load_npy, verify
from .writer import ShardWriter, Writer, meta_from_batch

__all__ = [
    "Writer", "ShardWriter", "Reader", "verify", "VerifyReport", "Manifest", "ShardEntry",
    "InputStats", "summarize_rejects", "meta_from_batch", "ShardFormatError", "META_SCHEMA",
    "DATA_OFFSET", "FORMAT", "FORMAT_VERSION", "SUPPORTED_VERSIONS", "CHECKSUM", "load_npy",
]
