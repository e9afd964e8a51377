"""grove run --distributed under `mpirun --oversubscribe -n 3` on one machine, and --resume: the
distributed output equals the single-process output bit for bit (a 3-d volume in zarr, n5 and
hdf5; a batch of files), and a run killed partway finishes with --resume, recomputing only the
blocks its journals do not list (docs/distributed.md)."""
import json
import os
import pathlib
import shutil
import signal
import subprocess
import time

import h5py
import numpy as np
import pytest
import tifffile
import zarr

from conftest import GROVE, run_grove

MPIRUN = shutil.which("mpirun")
# Small chunks and blocks, so that a small volume (40 x 96 x 96) has 27 blocks to deal.
SHAPES = ["--chunk-shape", "16,32,32", "--block-shape", "16,32,32"]
GRID = (3, 3, 3)  # blocks along z, y, x


def mpi_environment():
    env = dict(os.environ)
    # CI runs as root; Open MPI refuses that unless told.
    env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
    env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    # One core per rank is more than this machine has: ranks share cores.
    env["OMPI_MCA_rmaps_base_oversubscribe"] = "1"
    return env


def mpirun_command(ranks, *args):
    return [MPIRUN, "--oversubscribe", "-n", str(ranks), GROVE, *map(str, args)]


def run_mpi(ranks, *args, env=None):
    proc = subprocess.run(mpirun_command(ranks, *args), capture_output=True, text=True, timeout=300,
                          env=env or mpi_environment())
    assert proc.returncode == 0, f"mpirun failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def volume(tmp_path_factory):
    """A 3-d volume, a project trained on it, and its single-process predictions."""
    if MPIRUN is None:
        pytest.skip("mpirun is absent (apt-get install openmpi-bin): cannot test distributed runs")
    root = tmp_path_factory.mktemp("distributed")
    rng = np.random.default_rng(1)
    z, y, x = np.mgrid[0:40, 0:96, 0:96]
    image = 128 + 60 * np.sin(x / 7.0) * np.cos(y / 9.0) * np.sin(z / 5.0) + rng.normal(0, 10, z.shape)
    image = image.clip(0, 255).astype(np.uint8)
    tifffile.imwrite(root / "volume.tif", image)
    labels = np.zeros(image.shape, np.uint8)
    for row in (10, 50):
        labels[::5, row, :] = np.where(image[::5, row, :] > 128, 1, 2)
    tifffile.imwrite(root / "labels.tif", labels)
    project = root / "volume.grove"
    run_grove("pixel", "train", "--image", root / "volume.tif", "--labels", root / "labels.tif", "-o",
              project, "--trees", 10, "--seed", 1, "--features",
              "GaussianSmoothing:1.0;LaplacianOfGaussian:1.0", check=True)
    # grove built without MPI refuses several ranks: nothing here can be tested then.
    probe = subprocess.run(mpirun_command(2, "run", project, root / "volume.tif", "--format", "zarr",
                                          "--output", root / "probe", "--distributed", *SHAPES),
                           capture_output=True, text=True, timeout=300, env=mpi_environment())
    if "built without MPI" in probe.stderr:
        pytest.skip("grove was built without MPI (install libopenmpi-dev and rebuild)")
    assert probe.returncode == 0, probe.stderr
    return root, project


def single_process(root, project, fmt, name):
    out = root / f"single_{name}"
    run_grove("run", project, root / "volume.tif", "--format", fmt, "--output", out, "--overwrite",
              *SHAPES, check=True)
    return out


def read_output(path, fmt):
    if fmt == "zarr":
        return zarr.open(str(path) + ".zarr/exported_data/0", mode="r")[:]
    if fmt == "n5":
        return zarr.open(zarr.N5Store(str(path) + ".n5"), mode="r")["exported_data"][:]
    with h5py.File(str(path) + ".h5", "r") as f:
        return f["exported_data"][:]


def assert_bitwise_equal(a, b):
    assert a.shape == b.shape and a.dtype == b.dtype
    assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("fmt", ["zarr", "n5", "hdf5"])
def test_distributed_volume_equals_single_process(volume, fmt):
    root, project = volume
    reference = single_process(root, project, fmt, fmt)
    out = root / f"distributed_{fmt}"
    report = root / f"report_{fmt}.json"
    proc = run_mpi(3, "run", project, root / "volume.tif", "--distributed", "--format", fmt, "--output",
                   out, "--threads", 1, "--report", report, *SHAPES)
    assert "block-wise run on 3 ranks" in proc.stdout
    stats = json.loads(report.read_text())
    assert stats["ranks"] == 3 and stats["items_total"] == 27 and stats["items_computed"] == 27
    assert sum(stats["computed_per_rank"]) == 27
    # The blocks were shared, not all done by one rank.
    assert sum(1 for n in stats["computed_per_rank"] if n > 0) >= 2
    assert_bitwise_equal(read_output(out, fmt), read_output(reference, fmt))
    # Nothing of the run is left beside the output.
    suffix = {"zarr": ".zarr", "n5": ".n5", "hdf5": ".h5"}[fmt]
    assert not pathlib.Path(str(out) + suffix + ".grove-run").exists()
    if fmt == "zarr":
        # The same chunks, byte for byte, and the store marked complete.
        chunks = pathlib.Path(str(reference) + ".zarr/exported_data/0")
        for chunk in chunks.rglob("*"):
            if chunk.is_file() and not chunk.name.startswith("."):
                other = pathlib.Path(str(out) + ".zarr/exported_data/0") / chunk.relative_to(chunks)
                assert other.read_bytes() == chunk.read_bytes(), chunk
        array = zarr.open(str(out) + ".zarr/exported_data/0", mode="r")
        assert array.attrs["grove"]["complete"] is True


def test_distributed_file_batch_equals_single_process(volume):
    root, project = volume
    batch = root / "batch"
    batch.mkdir()
    image = tifffile.imread(root / "volume.tif")
    for i in range(5):
        tifffile.imwrite(batch / f"image{i}.tif", image[i * 8:(i + 1) * 8])
    single, distributed = root / "batch_single", root / "batch_distributed"
    single.mkdir()
    distributed.mkdir()
    run_grove("run", project, *sorted(batch.glob("*.tif")), "--format", "tiff", "--output",
              single / "{nickname}", check=True)
    report = root / "batch_report.json"
    proc = run_mpi(3, "run", project, batch / "*.tif", "--distributed", "--format", "tiff", "--output",
                   distributed / "{nickname}", "--threads", 1, "--report", report)
    assert "file-wise run on 3 ranks" in proc.stdout
    stats = json.loads(report.read_text())
    assert stats["items_total"] == 5 and stats["items_computed"] == 5
    for i in range(5):
        a = (single / f"image{i}.tif").read_bytes()
        b = (distributed / f"image{i}.tif").read_bytes()
        assert a == b, f"image{i}.tif differs"
    # --resume finds every output complete and computes nothing.
    run_mpi(3, "run", project, batch / "*.tif", "--distributed", "--resume", "--format", "tiff",
            "--output", distributed / "{nickname}", "--threads", 1, "--report", report)
    stats = json.loads(report.read_text())
    assert stats["items_computed"] == 0 and stats["items_skipped"] == 5


def descendants(pid):
    """Processes below pid (the ranks under mpirun), from /proc."""
    children = {}
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def journal_blocks(work):
    blocks = []
    for journal in work.glob("*/journal-*.txt"):
        text = journal.read_text()
        blocks += [int(line) for line in text.split("\n")[:-1]]
    return blocks


def chunk_file(out, block):
    z, y, x = np.unravel_index(block, GRID)
    return pathlib.Path(f"{out}.zarr/exported_data/0/0/{z}/{y}/{x}")


def test_killed_run_resumes_computing_only_missing_blocks(volume):
    root, project = volume
    reference = single_process(root, project, "zarr", "resume_reference")
    out = root / "killed"
    work = pathlib.Path(str(out) + ".zarr.grove-run")
    env = mpi_environment()
    # Each rank stops after 2 blocks and waits to be killed: the kill lands partway, always.
    env["GROVE_TEST_STALL_AFTER_BLOCKS"] = "2"
    mpirun = subprocess.Popen(mpirun_command(3, "run", project, root / "volume.tif", "--distributed",
                                             "--format", "zarr", "--output", out, "--threads", 1,
                                             *SHAPES),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 120
        while len(journal_blocks(work)) < 6 and time.monotonic() < deadline:
            assert mpirun.poll() is None, "the run ended before it could be killed"
            time.sleep(0.05)
        assert len(journal_blocks(work)) == 6, "the ranks did not each finish 2 blocks"
    finally:
        for pid in descendants(mpirun.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        mpirun.kill()
        mpirun.wait()
    done = sorted(set(journal_blocks(work)))
    assert len(done) == 6
    # The store is incomplete, and a plain re-run refuses to start over silently.
    assert zarr.open(str(out) + ".zarr/exported_data/0", mode="r").attrs["grove"]["complete"] is False
    proc = subprocess.run(mpirun_command(3, "run", project, root / "volume.tif", "--distributed",
                                         "--format", "zarr", "--output", out, *SHAPES),
                          capture_output=True, text=True, timeout=300, env=mpi_environment())
    assert proc.returncode != 0 and "--resume" in proc.stderr
    before = {block: chunk_file(out, block).stat().st_ino for block in done}

    report = root / "resume_report.json"
    run_mpi(3, "run", project, root / "volume.tif", "--distributed", "--resume", "--format", "zarr",
            "--output", out, "--threads", 1, "--report", report, *SHAPES)
    stats = json.loads(report.read_text())
    assert stats["items_total"] == 27
    assert stats["items_skipped"] == len(done)
    assert stats["items_computed"] == 27 - len(done)
    # The finished blocks' chunks were not written again (same files).
    for block, inode in before.items():
        assert chunk_file(out, block).stat().st_ino == inode, f"block {block} was recomputed"
    assert_bitwise_equal(read_output(out, "zarr"), read_output(reference, "zarr"))
    assert zarr.open(str(out) + ".zarr/exported_data/0", mode="r").attrs["grove"]["complete"] is True
    assert not work.exists()


def test_distributed_without_mpirun_is_one_rank(volume):
    root, project = volume
    reference = single_process(root, project, "n5", "one_rank_reference")
    out = root / "one_rank"
    p = run_grove("run", project, root / "volume.tif", "--distributed", "--format", "n5", "--output",
                  out, *SHAPES, check=True)
    assert "block-wise run on 1 rank:" in p.stdout
    assert_bitwise_equal(read_output(out, "n5"), read_output(reference, "n5"))
    # Resuming a complete output computes nothing.
    p = run_grove("run", project, root / "volume.tif", "--resume", "--format", "n5", "--output", out,
                  *SHAPES, check=True)
    assert "0 computed" in p.stdout


def test_headless_distributed(volume):
    root, project = volume
    reference = single_process(root, project, "hdf5", "headless_reference")
    out = root / "headless"
    run_mpi(2, "--headless", f"--project={project}", "--output_format=hdf5",
            f"--output_filename_format={out}", "--distributed", "--threads=1", root / "volume.tif")
    # ilastik's default blocks differ from SHAPES; the values must not.
    assert_bitwise_equal(read_output(out, "hdf5"), read_output(reference, "hdf5"))


def test_bad_shapes_are_refused(volume):
    root, project = volume
    p = run_grove("run", project, root / "volume.tif", "--distributed", "--format", "zarr", "--output",
                  root / "bad", "--chunk-shape", "16,0,32")
    assert p.returncode == 2 and "--chunk-shape" in p.stderr


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_dask_recipe(volume):
    """examples/dask_grove_cli.py: --prepare, --part K/N as dask tasks, --resume; equal output."""
    distributed = pytest.importorskip("distributed", reason="dask.distributed is absent")
    import importlib.util

    from conftest import REPO
    spec = importlib.util.spec_from_file_location("dask_grove_cli", REPO / "examples" / "dask_grove_cli.py")
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    root, project = volume
    reference = single_process(root, project, "n5", "dask_reference")
    out = root / "dask"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        final = recipe.predict_volume(client, project, root / "volume.tif", out, parts=5, grove=GROVE,
                                      fmt="n5", extra=SHAPES + ["--threads", "1"])
    # The parts computed every block; the final --resume computed none.
    assert "27 blocks, 0 computed" in final and "27 already complete" in final
    assert_bitwise_equal(read_output(out, "n5"), read_output(reference, "n5"))
    assert not pathlib.Path(str(out) + ".n5.grove-run").exists()


def test_autocontext_project_distributed(volume):
    """An autocontext project's blocks are dealt the same way (its own export plan)."""
    root, _ = volume
    project = root / "autocontext.grove"
    run_grove("autocontext", "train", "--image", root / "volume.tif", "--labels", root / "labels.tif",
              "-o", project, "--trees", 5, "--features", "GaussianSmoothing:1.0", check=True)
    reference = root / "autocontext_single"
    run_grove("run", project, root / "volume.tif", "--format", "n5", "--output", reference, *SHAPES,
              check=True)
    out = root / "autocontext_distributed"
    proc = run_mpi(3, "run", project, root / "volume.tif", "--distributed", "--format", "n5", "--output",
                   out, "--threads", 1, *SHAPES)
    assert "27 blocks, 27 computed" in proc.stdout
    assert_bitwise_equal(read_output(out, "n5"), read_output(reference, "n5"))
