"""rasterfast: Quick, Draw! doodles to memory-mapped uint8 tensor shards, fast."""

from ._version import __version__
from .augment import Augment, augment
from .batch import StrokeBatch
from .entropy import sketch_entropy
from .errors import InputReadError, Reject, StrokeParseError
from .format import Reader, ShardFormatError, Writer, verify
from .formatting import format_drawings, write_kaggle_csv, write_ndjson
from .metrics import balance_predictions, map_at_k, write_submission
from .parse import detect_kind, parse_drawings
from .readers import read_drawings
from .recipe import Recipe
from .render import render
from .sequence import from_stroke3, to_stroke3, to_stroke5
from .simplify import simplify
from .synth import synth

__all__ = [
    "StrokeBatch",
    "parse_drawings",
    "detect_kind",
    "read_drawings",
    "simplify",
    "Recipe",
    "render",
    "to_stroke3",
    "to_stroke5",
    "from_stroke3",
    "Augment",
    "augment",
    "sketch_entropy",
    "format_drawings",
    "write_kaggle_csv",
    "write_ndjson",
    "synth",
    "build",
    "Writer",
    "Reader",
    "verify",
    "ShardDataset",
    "StrokeDataset",
    "ShardLoader",
    "to_float",
    "map_at_k",
    "balance_predictions",
    "write_submission",
    "StrokeParseError",
    "InputReadError",
    "ShardFormatError",
    "Reject",
    "__version__",
]

# Names imported on first use: torch (ShardDataset, StrokeDataset, to_float) and dask (build)
# are heavy, and `import rasterfast` should not pay for them.
_LAZY = {
    "ShardDataset": "rasterfast.data",
    "StrokeDataset": "rasterfast.data",
    "ShardLoader": "rasterfast.data",
    "to_float": "rasterfast.gpu",
    "build": "rasterfast.pipeline",
}


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rasterfast' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
