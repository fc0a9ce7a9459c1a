"""Private kernel: per-segment channel values of a StrokeBatch (see ext/_encode.pyx)."""

import numpy as np
import numpy.typing as npt

def _encode(
    codes: npt.NDArray[np.int32],
    t: npt.NDArray[np.int32],
    stroke_offsets: npt.NDArray[np.int64],
    drawing_offsets: npt.NDArray[np.int64],
    out: npt.NDArray[np.uint8],
    stroke_time_ms: int,
    pause_ms: int,
    count_step: int,
) -> tuple[int, int]: ...
