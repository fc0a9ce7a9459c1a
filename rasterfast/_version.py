"""The package version, written once.

``rasterfast.__version__``, the manifests' ``writer`` field, ``rasterfast --version``
and the distribution's metadata (``pyproject.toml``, ``[tool.setuptools.dynamic]``) all
read it from here.
"""

__version__ = "0.1.0"
