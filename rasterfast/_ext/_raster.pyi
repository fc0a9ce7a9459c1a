"""Private kernel: thick polylines drawn directly at the output size (see ext/_raster.pyx)."""

import numpy as np
import numpy.typing as npt

def _render_direct(
    xs: npt.NDArray[np.int16] | npt.NDArray[np.float32],
    ys: npt.NDArray[np.int16] | npt.NDArray[np.float32],
    affine: npt.NDArray[np.float64],
    stroke_offsets: npt.NDArray[np.int64],
    drawing_offsets: npt.NDArray[np.int64],
    intensity: npt.NDArray[np.uint8],
    out: npt.NDArray[np.uint8],
    radius: float,
    antialias: bool,
    compose: int,
    tag: npt.NDArray[np.int64],
    cov: npt.NDArray[np.uint8],
    base: npt.NDArray[np.uint8],
) -> tuple[int, int]: ...
def _bbox_fit(
    xs: npt.NDArray[np.int16] | npt.NDArray[np.float32],
    ys: npt.NDArray[np.int16] | npt.NDArray[np.float32],
    stroke_offsets: npt.NDArray[np.int64],
    drawing_offsets: npt.NDArray[np.int64],
    fit: npt.NDArray[np.float64],
) -> tuple[int, int]: ...
