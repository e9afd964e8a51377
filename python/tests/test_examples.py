"""The examples run (so they do not rot) and reach what they promise."""
import os
import subprocess
import sys

from conftest import REPO


def test_em_membranes_example(isbi, tmp_path):
    output = tmp_path / "em_membranes.png"
    environment = dict(os.environ, MPLBACKEND="Agg")
    environment.setdefault("PYTHONPATH", str(REPO / "build" / "python"))
    proc = subprocess.run(
        [sys.executable, str(REPO / "examples" / "em_membranes.py"), "--output", str(output), "--trees", "30"],
        capture_output=True, text=True, timeout=600, env=environment,
    )
    assert proc.returncode == 0, proc.stderr
    print(proc.stdout)
    assert output.stat().st_size > 10000 and output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    accuracy = float(proc.stdout.split("(not trained on): ")[1].split()[0])
    assert accuracy > 0.85


def test_docstring_examples():
    import doctest

    import grove
    from grove import _features, _forest, _io, _project

    for module in (_features, _forest, _io, _project):
        failures, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        assert failures == 0, f"doctest failures in {module.__name__}"
    assert grove.features.__doc__ and "Parameters" in grove.features.__doc__
