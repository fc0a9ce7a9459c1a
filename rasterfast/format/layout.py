"""Constants of the shard files that the writer and the reader share.

The names of the manifest itself (format name, version, roles, checksum) are in
:mod:`rasterfast.format.manifest`; the byte layout is described in
``rasterfast/format/README.md``.
"""

from __future__ import annotations

import pyarrow as pa

from ..batch import ARROW_TYPES

__all__ = ["DATA_OFFSET", "BUILD_NAME", "META_SCHEMA"]

#: Where the image data of every ``images.npy`` starts: a page boundary, so that the
#: memmap of a shard is page-aligned and an O_DIRECT or GPU-direct reader can use it.
DATA_OFFSET = 4096
#: The file an unfinished build keeps in the directory (its arguments, to refuse a
#: resumed build with others); removed when ``manifest.json`` is written.
BUILD_NAME = "_build.json"

#: Columns of ``meta.parquet``, one row per drawing in image order: the per-drawing
#: columns of :meth:`rasterfast.StrokeBatch.to_arrow` but ``label`` (the shard's
#: ``labels.npy``), with ``entropy``, ``n_strokes``, ``n_points`` added. ``timestamp`` is
#: UTC; ``entropy`` is NaN when the build did not compute it; ``source`` names the input
#: file and ``record`` the 0-based record within it.
META_SCHEMA = pa.schema([
    ("key_id", ARROW_TYPES["key_id"]),
    ("word", ARROW_TYPES["word"]),
    ("countrycode", ARROW_TYPES["countrycode"]),
    ("recognized", ARROW_TYPES["recognized"]),
    ("timestamp", ARROW_TYPES["timestamp"]),
    ("entropy", pa.float32()),
    ("n_strokes", pa.int32()),
    ("n_points", pa.int32()),
    ("source", ARROW_TYPES["source"]),
    ("record", ARROW_TYPES["record"]),
])
