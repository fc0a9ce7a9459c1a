"""Private kernel: drawing text to flat columns (see ext/_parse.pyx)."""

from typing import TypeAlias

import numpy as np
import numpy.typing as npt

# x, y, t, stroke_offsets, drawing_offsets, kept, errors
_Parsed: TypeAlias = tuple[
    np.ndarray, np.ndarray, np.ndarray,
    npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64],
]

def _parse(
    data: npt.NDArray[np.uint8],
    starts: npt.NDArray[np.int64],
    ends: npt.NDArray[np.int64],
    valid: npt.NDArray[np.uint8],
    raw: bool,
    max_points: int,
    max_strokes: int,
    stop_on_error: bool,
) -> _Parsed: ...

def _parse_items(
    items: tuple[str | bytes, ...],
    raw: bool,
    max_points: int,
    max_strokes: int,
    stop_on_error: bool,
) -> _Parsed | None: ...
