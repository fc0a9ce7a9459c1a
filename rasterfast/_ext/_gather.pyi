"""Private kernel: gather rows of several memory maps into one array (see ext/_gather.pyx)."""

import numpy as np
import numpy.typing as npt

def _gather(
    bases: npt.NDArray[np.uint64],
    counts: npt.NDArray[np.int64],
    maps: npt.NDArray[np.int64],
    rows: npt.NDArray[np.int64],
    out: npt.NDArray[np.uint8],
) -> int: ...
