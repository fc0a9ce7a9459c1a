"""Private kernel: StrokeBatch columns to drawing text (see ext/_format.pyx)."""

import numpy as np
import numpy.typing as npt

def _format(
    x: npt.NDArray[np.int16] | npt.NDArray[np.float32],
    y: npt.NDArray[np.int16] | npt.NDArray[np.float32],
    t: npt.NDArray[np.int32],
    stroke_offsets: npt.NDArray[np.int64],
    drawing_offsets: npt.NDArray[np.int64],
    timed: bool,
    spaced: bool,
    pre_data: npt.NDArray[np.uint8],
    pre_off: npt.NDArray[np.int64],
    suf_data: npt.NDArray[np.uint8],
    suf_off: npt.NDArray[np.int64],
    start: int,
    out: npt.NDArray[np.uint8],
    out_off: npt.NDArray[np.int64],
    base: int,
) -> tuple[int, int, int, int]: ...
def _use_fast_path(on: bool) -> bool: ...
def _format_values(values: npt.NDArray[np.float32]) -> tuple[bytes, npt.NDArray[np.int64]]: ...
