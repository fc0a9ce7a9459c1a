"""rasterfast: Quick, Draw! doodles to memory-mapped uint8 tensor shards, fast."""

from .batch import StrokeBatch
from .errors import InputReadError, Reject, StrokeParseError

__version__ = "0.1.0"

__all__ = [
    "StrokeBatch",
    "StrokeParseError",
    "InputReadError",
    "Reject",
    "__version__",
]
