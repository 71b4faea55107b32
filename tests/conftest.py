"""Shared pytest fixtures: paths to committed test data and to the real-world captures."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = Path(__file__).resolve().parent / "data"
REAL_FIXTURES = REPO.parent / "shared" / "fixtures" / "real"
SAMPLES = REPO / "data" / "samples"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """tests/data: tiny committed fixtures, one per format quirk."""
    return TEST_DATA


@pytest.fixture(scope="session")
def real_dir() -> Path:
    """../shared/fixtures/real: real captures (present in CI, absent in a plain clone)."""
    if not REAL_FIXTURES.is_dir():
        pytest.skip("../shared/fixtures/real is not present beside this checkout")
    return REAL_FIXTURES


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """data/samples: the committed sample day."""
    return SAMPLES


def require_binary(name: str) -> str:
    """Path of a system binary, or skip (CI installs them via .ci/run)."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (apt-get install {name}; .ci/run does it)")
    return path


@pytest.fixture(scope="session")
def dask_client() -> Iterator[object]:
    """A real two-process ``dask.distributed`` LocalCluster, shared by every Dask test."""
    distributed = pytest.importorskip("dask.distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, memory_limit="2GiB"
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
