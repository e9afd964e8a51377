#!/usr/bin/env python3
"""Distributed grove runs on this machine: scaling from 1 to 2 MPI ranks and the per-rank overhead.

The peer is grove itself in one process (`grove run` without --distributed), measured in the same
run: ranks are compared with a single process of the same total thread count.

    GROVE_BIN=build/bin/grove /usr/bin/python3 bench/distributed.py [--size 64,256,256] [--repeat 3]

Prints, for a 3-d volume predicted into Zarr (median of --repeat runs, wall time of the whole
command, MPI start-up included):
  - single process, 1 thread, and `mpirun -n 1 --distributed`, 1 thread: the distributed
    machinery's cost for one rank;
  - `mpirun -n 2 --distributed`, 1 thread per rank, against 1 rank: the scaling, and against a
    single process with 2 threads (the other way to use two cores);
  - per-rank overhead: the wall time of a run with nothing to compute (--resume of a complete
    output: start-up, MPI init, project load, planning, the collectives), for 1 and 2 ranks; and
    the share of each rank's time that is not computing (from --report)."""
import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import tifffile

REPO = pathlib.Path(__file__).resolve().parents[1]
GROVE = os.environ.get("GROVE_BIN", str(REPO / "build" / "bin" / "grove"))
FEATURES = "GaussianSmoothing:0.7,1.6,3.5;LaplacianOfGaussian:1.0,3.5;HessianOfGaussianEigenvalues:1.6"


def environment():
    env = dict(os.environ)
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    env.pop("LAZYFLOW_THREADS", None)
    return env


def timed(command):
    start = time.perf_counter()
    proc = subprocess.run([str(c) for c in command], capture_output=True, text=True, env=environment())
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, command))}\n{proc.stderr}")
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="64,256,256", help="volume z,y,x")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--blocks", default="32,64,64", help="chunk and block shape z,y,x")
    args = parser.parse_args()
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        sys.exit("mpirun is absent (apt-get install openmpi-bin)")
    shape = tuple(int(v) for v in args.size.split(","))
    work = pathlib.Path(tempfile.mkdtemp(prefix="grove_distributed_bench_"))
    try:
        rng = np.random.default_rng(0)
        z, y, x = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
        image = 128 + 60 * np.sin(x / 7.0) * np.cos(y / 9.0) * np.sin(z / 5.0) + rng.normal(0, 10, shape)
        tifffile.imwrite(work / "volume.tif", image.clip(0, 255).astype(np.uint8))
        labels = np.zeros(shape, np.uint8)
        labels[::4, shape[1] // 3, :] = 1
        labels[::4, 2 * shape[1] // 3, :] = 2
        tifffile.imwrite(work / "labels.tif", labels)
        project = work / "volume.grove"
        subprocess.run([GROVE, "pixel", "train", "--image", work / "volume.tif", "--labels",
                        work / "labels.tif", "-o", project, "--trees", "20", "--features", FEATURES],
                       check=True, capture_output=True)
        # Blocks of 32x64x64 (the output's chunks): enough of them to share among ranks.
        run = [GROVE, "run", project, work / "volume.tif", "--format", "zarr", "--overwrite",
               "--chunk-shape", args.blocks, "--block-shape", args.blocks]

        def measure(name, command):
            times = [timed([*command, "--output", work / name]) for _ in range(args.repeat)]
            return statistics.median(times)

        single1 = measure("single1", [*run, "--threads", "1"])
        single2 = measure("single2", [*run, "--threads", "2"])
        ranks1 = measure("ranks1", [mpirun, "-n", "1", *run, "--distributed", "--threads", "1"])
        ranks2 = measure("ranks2", [mpirun, "--oversubscribe", "-n", "2", *run, "--distributed",
                                    "--threads", "1"])
        # One more 2-rank run for the per-rank figures.
        report = work / "report.json"
        timed([mpirun, "--oversubscribe", "-n", "2", *run, "--distributed", "--threads", "1",
               "--output", work / "ranks2", "--report", report])
        stats = json.loads(report.read_text())
        # Nothing to compute: start-up and coordination only.
        resume = [GROVE, "run", project, work / "volume.tif", "--format", "zarr", "--resume",
                  "--output", work / "ranks2", "--chunk-shape", args.blocks, "--block-shape",
                  args.blocks]
        idle1 = statistics.median(timed([mpirun, "-n", "1", *resume]) for _ in range(args.repeat))
        idle2 = statistics.median(
            timed([mpirun, "--oversubscribe", "-n", "2", *resume]) for _ in range(args.repeat))
        idle_plain = statistics.median(timed(resume) for _ in range(args.repeat))

        voxels = int(np.prod(shape))
        print(f"volume {shape[0]}x{shape[1]}x{shape[2]} ({voxels / 1e6:.1f} Mvoxel), "
              f"{len(FEATURES.split(';'))} feature families, 20 trees, zarr output, blocks "
              f"{args.blocks}, "
              f"{os.cpu_count()} cores, median of {args.repeat}")
        print(f"  single process, 1 thread        {single1:7.2f} s")
        print(f"  single process, 2 threads       {single2:7.2f} s")
        print(f"  mpirun -n 1 --distributed       {ranks1:7.2f} s   "
              f"{ranks1 / single1:5.2f} x the single process (1 thread)")
        print(f"  mpirun -n 2 --distributed       {ranks2:7.2f} s   speed-up over 1 rank "
              f"{ranks1 / ranks2:5.2f} x (efficiency {ranks1 / ranks2 / 2:4.0%}); "
              f"{ranks2 / single2:5.2f} x the single process with 2 threads")
        print(f"  blocks per rank (2 ranks): {stats['computed_per_rank']}, busy "
              f"{', '.join(f'{b:.2f}' for b in stats['busy_seconds_per_rank'])} s of "
              f"{stats['seconds']:.2f} s inside grove")
        print(f"  per-rank overhead (nothing to compute): plain {idle_plain:5.2f} s, "
              f"mpirun -n 1 {idle1:5.2f} s, mpirun -n 2 {idle2:5.2f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
