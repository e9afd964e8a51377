"""Shared fixtures of the Python module's tests: the repository, ../shared data, the grove
binary (the command line the module must agree with) and the package under test, imported from
build/python unless PYTHONPATH names another build."""
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(os.environ.get("GROVE_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
SHARED = REPO.parent / "shared" / "data"
GROVE = os.environ.get("GROVE_BIN", str(REPO / "build" / "bin" / "grove"))
ISBI = SHARED / "pixel_classification" / "isbi2012_em_membranes"

if "PYTHONPATH" not in os.environ:
    sys.path.insert(0, str(REPO / "build" / "python"))


def run_grove(*args, check=True):
    """Runs the grove command line; fails the test with its stderr when it fails."""
    proc = subprocess.run([GROVE, *map(str, args)], capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"grove {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def shared_data():
    """../shared/data; skips (with the reason printed) only when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: the validation data is not available on this machine")
    return SHARED


@pytest.fixture(scope="session")
def isbi():
    """The ISBI 2012 EM slices (image/NN.png, label/NN.png)."""
    if not ISBI.is_dir():
        pytest.skip(f"{ISBI} is absent: the validation data is not available on this machine")
    return ISBI
