"""Private kernel: OpenCV-exact thick lines at 256 px and INTER_LINEAR resize.

See ext/_rastercv.pyx.
"""

import numpy as np
import numpy.typing as npt

def _draw_cv(
    canvas: npt.NDArray[np.uint8],
    xs: npt.NDArray[np.int16],
    ys: npt.NDArray[np.int16],
    stroke_offsets: npt.NDArray[np.int64],
    intensity: npt.NDArray[np.uint8],
    thickness: int,
    compose: int,
) -> tuple[int, int]: ...
class _ShapeStore:
    thickness: int
    max_bytes: int
    nbytes: int
    pool_bytes: int
    def __init__(self, thickness: int, max_bytes: int) -> None: ...

def _resize_linear(
    src: npt.NDArray[np.uint8],
    dst: npt.NDArray[np.uint8],
    mode: int,
    xtab: npt.NDArray[np.int32],
    ytab: npt.NDArray[np.int32],
    xinv: npt.NDArray[np.int32],
) -> int: ...
def _render_cv256(
    xs: npt.NDArray[np.int16],
    ys: npt.NDArray[np.int16],
    stroke_offsets: npt.NDArray[np.int64],
    drawing_offsets: npt.NDArray[np.int64],
    intensity: npt.NDArray[np.uint8],
    out: npt.NDArray[np.uint8],
    thickness: int,
    compose: int,
    mode: int,
    xtab: npt.NDArray[np.int32],
    ytab: npt.NDArray[np.int32],
    xinv: npt.NDArray[np.int32],
    rowmask: npt.NDArray[np.uint8],
    canvas: npt.NDArray[np.uint8],
    store: _ShapeStore | None = None,
) -> tuple[int, int]: ...
