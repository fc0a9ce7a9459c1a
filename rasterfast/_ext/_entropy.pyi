"""Private kernel: Shannon entropy of each row's value histogram (see ext/_entropy.pyx)."""

import numpy as np
import numpy.typing as npt

def _sketch_entropy(images: npt.NDArray[np.uint8], out: npt.NDArray[np.float32]) -> int: ...
