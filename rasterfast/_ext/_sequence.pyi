"""Type stub of the private sequence kernel (ext/_sequence.pyx)."""

import numpy as np
import numpy.typing as npt

def _to_sequences(
    x: npt.NDArray[np.int16] | npt.NDArray[np.float32],
    y: npt.NDArray[np.int16] | npt.NDArray[np.float32],
    stroke_offsets: npt.NDArray[np.int64],
    drawing_offsets: npt.NDArray[np.int64],
    truncate: bool,
    out: npt.NDArray[np.int16] | npt.NDArray[np.float32],
    lengths: npt.NDArray[np.int64],
    cut: npt.NDArray[np.uint8],
) -> tuple[int, int]: ...
