"""rasterfast: Quick, Draw! doodles to memory-mapped uint8 tensor shards, fast."""

from .batch import StrokeBatch
from .errors import InputReadError, Reject, StrokeParseError
from .parse import detect_kind, parse_drawings
from .readers import read_drawings

__version__ = "0.1.0"

__all__ = [
    "StrokeBatch",
    "parse_drawings",
    "read_drawings",
    "detect_kind",
    "StrokeParseError",
    "InputReadError",
    "Reject",
    "__version__",
]
