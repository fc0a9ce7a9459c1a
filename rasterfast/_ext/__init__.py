"""Private compiled kernels (Cython sources in ext/)."""
