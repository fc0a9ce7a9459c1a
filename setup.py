"""Declares the Cython kernels in ext/ as private modules rasterfast._ext.<name>.

Set RASTERFAST_BOUNDSCHECK=1 to build every kernel with Cython's bounds and
wraparound checks switched on (the test suite runs once in that mode in CI).
"""

import os
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup

CHECKED = os.environ.get("RASTERFAST_BOUNDSCHECK") == "1"

extensions = [
    Extension(f"rasterfast._ext.{pyx.stem}", [str(pyx)], extra_compile_args=["-O3"])
    for pyx in sorted(Path("ext").glob("_*.pyx"))
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={
            "language_level": 3,
            "boundscheck": CHECKED,
            "wraparound": CHECKED,
            "initializedcheck": CHECKED,
            "cdivision": True,
            "freethreading_compatible": True,
        },
        include_path=["ext"],
    ),
)
