"""Private kernel: StrokeBatch.take (see ext/_batch.pyx)."""

import numpy as np
import numpy.typing as npt

def _take(
    x: npt.NDArray[np.int16] | npt.NDArray[np.float32],
    y: npt.NDArray[np.int16] | npt.NDArray[np.float32],
    t: npt.NDArray[np.int32],
    stroke_offsets: npt.NDArray[np.int64],
    drawing_offsets: npt.NDArray[np.int64],
    idx: npt.NDArray[np.int64],
    ox: npt.NDArray[np.int16] | npt.NDArray[np.float32],
    oy: npt.NDArray[np.int16] | npt.NDArray[np.float32],
    ot: npt.NDArray[np.int32],
    out_stroke_offsets: npt.NDArray[np.int64],
    out_drawing_offsets: npt.NDArray[np.int64],
) -> tuple[int, int]: ...
