"""Shared fixtures for the command-line tests: the grove binary, the repo, ../shared data."""
import os
import pathlib
import subprocess
import zipfile

import pytest

REPO = pathlib.Path(os.environ.get("GROVE_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
GROVE = os.environ.get("GROVE_BIN", str(REPO / "build" / "bin" / "grove"))
SHARED = REPO.parent / "shared" / "data"


def run_grove(*args, check=False, **kwargs):
    """Runs grove with args; returns the CompletedProcess (text mode)."""
    proc = subprocess.run([GROVE, *map(str, args)], capture_output=True, text=True, timeout=600, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError(f"grove {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


@pytest.fixture
def shared_data():
    """../shared/data; skips (with the reason printed) only when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: the validation data is not available on this machine")
    return SHARED


def extract_ilastik_projects(root):
    """ilastik's api_projects.zip into root/api and test_projects.zip into root/test (whose
    projects name their data relative to themselves, in inputdata/); skips only when ../shared
    is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: the ilastik parity data is not available on this machine")
    testdata = SHARED / "ilastik_testdata"
    with zipfile.ZipFile(testdata / "api_projects.zip") as z:
        z.extractall(root / "api")
    with zipfile.ZipFile(testdata / "test_projects.zip") as z:
        z.extractall(root / "test")
    (root / "test" / "inputdata").symlink_to(testdata / "inputdata")
    return root


def agreement(result, reference):
    """(share of values within 0.02 of reference, largest difference)."""
    import numpy as np
    difference = np.abs(result.reshape(reference.shape).astype(np.float64) - reference)
    return float(np.mean(difference <= 0.02)), float(difference.max())
