"""Shared test set-up: where the test data is, and checkpoints from it.

Tests read checkpoints, clips and golden fixtures from the folder :func:`testdata.data_root`
names: ``SSTSAL_SHARED``, else ``../shared`` next to the repository, else a cache built once
from the published sources (``python tests/testdata.py fetch``). Missing data is a failure with
a message saying what to provide, never a skip: a suite that skips itself green proves nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from testdata import data_root

REPO = Path(__file__).resolve().parents[1]
try:
    SHARED = data_root()
except Exception as exc:  # a failed download or build: one line saying what to do, not a traceback
    pytest.exit(
        f"error: the test data could not be built from the published sources ({exc}): set SSTSAL_SHARED to a "
        "folder holding it, or SSTSAL_UPSTREAM to a mirror of the GitHub files (docs/contributing.md)",
        returncode=4,
    )

# Every test (and every subprocess it starts) uses these checkpoints and data, never the network.
# (An empty value, as `make` exports when there is no ../shared, counts as unset.)
for variable, value in (("SSTSAL_MODELS", SHARED / "models"), ("SSTSAL_SHARED", SHARED)):
    if not os.environ.get(variable):
        os.environ[variable] = str(value)


def shared_path(relative: str) -> Path:
    """A path inside ../shared; fails the test with instructions if it is missing."""
    path = SHARED / relative
    if not path.exists():
        pytest.fail(
            f"test data {path} is missing: set SSTSAL_SHARED to the folder holding models/, videos/ and fixtures/, "
            "or unset it to build that folder from the published sources (python tests/testdata.py fetch)"
        )
    return path


@pytest.fixture(scope="session")
def shared() -> Path:
    return shared_path("")


@pytest.fixture(scope="session")
def model_with_flow():
    from sstsal.model.checkpoint import load_model

    return load_model(shared_path("models/SST_Sal.pth"))


@pytest.fixture(scope="session")
def model_without_flow():
    from sstsal.model.checkpoint import load_model

    return load_model(shared_path("models/SST_Sal_wo_OF.pth"))
