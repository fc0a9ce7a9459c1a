"""Type stub of the private stroke-gather kernel (ext/_strokes.pyx)."""

import numpy as np
import numpy.typing as npt

def _stroke_sizes(
    drawing_offsets: npt.NDArray[np.uint64], stroke_offsets: npt.NDArray[np.uint64],
    n_drawings: npt.NDArray[np.int64], n_strokes: npt.NDArray[np.int64],
    n_points: npt.NDArray[np.int64], shards: npt.NDArray[np.int64], rows: npt.NDArray[np.int64],
    out_strokes: npt.NDArray[np.int64], out_points: npt.NDArray[np.int64],
) -> tuple[int, int]: ...
def _stroke_copy(
    drawing_offsets: npt.NDArray[np.uint64], stroke_offsets: npt.NDArray[np.uint64],
    xs: npt.NDArray[np.uint64], ys: npt.NDArray[np.uint64], ts: npt.NDArray[np.uint64],
    n_drawings: npt.NDArray[np.int64], n_strokes: npt.NDArray[np.int64],
    n_points: npt.NDArray[np.int64], coord_bytes: int, shards: npt.NDArray[np.int64],
    rows: npt.NDArray[np.int64], out_drawing_offsets: npt.NDArray[np.int64],
    out_stroke_offsets: npt.NDArray[np.int64], ox: npt.NDArray[np.uint8],
    oy: npt.NDArray[np.uint8], ot: npt.NDArray[np.uint8],
) -> tuple[int, int]: ...
def _locate(
    offsets: npt.NDArray[np.int64], rows: npt.NDArray[np.int64], files: npt.NDArray[np.int64],
    local: npt.NDArray[np.int64], index: npt.NDArray[np.int64],
) -> tuple[int, int]: ...
def _stroke_gather(
    addr: npt.NDArray[np.uint64], sizes: npt.NDArray[np.int64], coord_bytes: int, times: bool,
    shards: npt.NDArray[np.int64], rows: npt.NDArray[np.int64],
) -> tuple[int, int, npt.NDArray[np.uint8] | None, npt.NDArray[np.uint8] | None,
           npt.NDArray[np.int32] | None, npt.NDArray[np.int64] | None,
           npt.NDArray[np.int64] | None]: ...
def _first_out_of_range(
    x: npt.NDArray[np.int16], y: npt.NDArray[np.int16], lo: int, hi: int,
) -> int: ...
def _first_not_finite(x: npt.NDArray[np.float32], y: npt.NDArray[np.float32]) -> int: ...
