"""Shared fixtures: the real Quick, Draw! sample lives outside the project.

RASTERFAST_DATA points at it (default ../shared/data/quickdraw, relative to the
repository root). Tests that need it fail, never skip, when it is missing; every
test that uses it (through the data_dir fixture, directly or through another
fixture) is marked ``data``, so ``pytest -m "not data"`` runs the rest without it.
"""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("RASTERFAST_DATA", ROOT.parent / "shared" / "data" / "quickdraw"))


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", help="also run tests marked slow")


def pytest_collection_modifyitems(config, items):
    for item in items:
        # fixturenames is the closure: a module fixture built from data_dir counts too
        if "data_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.data)
    if config.getoption("--runslow"):
        return
    deselected = [item for item in items if "slow" in item.keywords]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if "slow" not in item.keywords]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real-data folder; a missing folder is an error, not a skip."""
    if not (DATA / "README.md").is_file():
        raise FileNotFoundError(
            f"real Quick, Draw! sample not found at {DATA}; set RASTERFAST_DATA to its folder"
        )
    return DATA
