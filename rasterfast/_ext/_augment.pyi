"""Private kernel: random stroke augmentation (see ext/_augment.pyx)."""

import numpy as np
import numpy.typing as npt

def _augment(
    x: npt.NDArray[np.int16] | npt.NDArray[np.float32],
    y: npt.NDArray[np.int16] | npt.NDArray[np.float32],
    t: npt.NDArray[np.int32],
    stroke_offsets: npt.NDArray[np.int64],
    drawing_offsets: npt.NDArray[np.int64],
    seeds: npt.NDArray[np.uint64],
    params: npt.NDArray[np.float64],
    fit_frame: bool,
    ox: npt.NDArray[np.int16] | npt.NDArray[np.float32],
    oy: npt.NDArray[np.int16] | npt.NDArray[np.float32],
    ot: npt.NDArray[np.int32],
    out_stroke_offsets: npt.NDArray[np.int64],
    out_drawing_offsets: npt.NDArray[np.int64],
    wx: npt.NDArray[np.float64],
    wy: npt.NDArray[np.float64],
    src: npt.NDArray[np.int64],
    mark: npt.NDArray[np.uint8],
    stack: npt.NDArray[np.int64],
    skeep: npt.NDArray[np.uint8],
) -> tuple[int, int, int, int]: ...
