"""Private kernel: Google's raw-to-simplified procedure (see ext/_simplify.pyx)."""

import numpy as np
import numpy.typing as npt

def _simplify(
    x: npt.NDArray[np.float32] | npt.NDArray[np.float64],
    y: npt.NDArray[np.float32] | npt.NDArray[np.float64],
    t: npt.NDArray[np.int32],
    stroke_offsets: npt.NDArray[np.int64],
    drawing_offsets: npt.NDArray[np.int64],
    epsilon: float,
    spacing: float,
    max_points: int,
) -> tuple[
    int,
    npt.NDArray[np.int16] | None,
    npt.NDArray[np.int16] | None,
    npt.NDArray[np.int32] | None,
    npt.NDArray[np.int64] | None,
    npt.NDArray[np.uint8] | None,
    npt.NDArray[np.int64] | None,
]: ...
