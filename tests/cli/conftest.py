"""Shared fixtures for the command-line tests: the grove binary, the repo, ../shared data."""
import os
import pathlib
import subprocess

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
