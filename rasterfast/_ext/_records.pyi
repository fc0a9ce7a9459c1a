"""Private kernels: ndjson record framing and Google's binary format (see ext/_records.pyx)."""

import numpy as np
import numpy.typing as npt

def _scan_ndjson(
    data: npt.NDArray[np.uint8], starts: npt.NDArray[np.int64], ends: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8], npt.NDArray[np.int32],
           npt.NDArray[np.int64]]: ...
def _parse_bin(
    data: npt.NDArray[np.uint8], max_points: int, max_records: int
) -> tuple[np.ndarray, ...]: ...
