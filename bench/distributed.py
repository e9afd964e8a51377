#!/usr/bin/env python3
"""Distributed grove runs on this machine: scaling from 1 to 2 MPI ranks and the per-rank overhead.

The peer is grove itself in one process (`grove run` without --distributed), measured in the same
run: ranks are compared with a single process of the same total thread count.

    GROVE_BIN=build/bin/grove /usr/bin/python3 bench/distributed.py [--size 64,256,256] [--repeat 3]

Prints, for a 3-d volume predicted into Zarr (best of --repeat interleaved runs; wall time of the
whole command, MPI start-up included, and the CPU time of all its processes, which other load on
the machine disturbs less):
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
import resource
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
FEATURES = "GaussianSmoothing:0.7,1.6;LaplacianOfGaussian:1.0;HessianOfGaussianEigenvalues:1.6"


def environment():
    env = dict(os.environ)
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    env.pop("LAZYFLOW_THREADS", None)
    return env


def timed(command):
    """(wall seconds, CPU seconds of all processes the command started)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([str(c) for c in command], capture_output=True, text=True, env=environment())
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, command))}\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="32,256,256", help="volume z,y,x")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--blocks", default="16,64,64", help="chunk and block shape z,y,x")
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

        # The variants interleaved, best of --repeat each: other work on the machine slows some
        # runs, never speeds one up.
        mpi = [mpirun, "--oversubscribe"]
        resume = [GROVE, "run", project, work / "volume.tif", "--format", "zarr", "--resume",
                  "--output", work / "ranks2", "--chunk-shape", args.blocks, "--block-shape",
                  args.blocks]
        variants = {
            "single1": [*run, "--threads", "1", "--output", work / "single1"],
            "single2": [*run, "--threads", "2", "--output", work / "single2"],
            "ranks1": [*mpi, "-n", "1", *run, "--distributed", "--threads", "1", "--output",
                       work / "ranks1"],
            "ranks2": [*mpi, "-n", "2", *run, "--distributed", "--threads", "1", "--output",
                       work / "ranks2", "--report", work / "report.json"],
        }
        best = {name: (float("inf"), float("inf")) for name in variants}
        for _ in range(args.repeat):
            for name, command in variants.items():
                wall, cpu = timed(command)
                best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
        stats = json.loads((work / "report.json").read_text())
        # Nothing to compute (the output is complete): start-up and coordination only.
        idle = {"plain": resume, "ranks1": [*mpi, "-n", "1", *resume],
                "ranks2": [*mpi, "-n", "2", *resume]}
        idle_best = {name: (float("inf"), float("inf")) for name in idle}
        for _ in range(args.repeat):
            for name, command in idle.items():
                wall, cpu = timed(command)
                idle_best[name] = (min(idle_best[name][0], wall), min(idle_best[name][1], cpu))
        single1, single2 = best["single1"][0], best["single2"][0]
        ranks1, ranks2 = best["ranks1"][0], best["ranks2"][0]

        voxels = int(np.prod(shape))
        print(f"volume {shape[0]}x{shape[1]}x{shape[2]} ({voxels / 1e6:.1f} Mvoxel), "
              f"{len(FEATURES.split(';'))} feature families, 20 trees, zarr output, blocks "
              f"{args.blocks} ({stats['items_total']}), {os.cpu_count()} cores, load average "
              f"{os.getloadavg()[0]:.1f}, best of {args.repeat}")
        print("                                   wall s   CPU s (all processes)")
        for name, label in [("single1", "single process, 1 thread"),
                            ("single2", "single process, 2 threads"),
                            ("ranks1", "mpirun -n 1 --distributed"),
                            ("ranks2", "mpirun -n 2 --distributed")]:
            print(f"  {label:30s} {best[name][0]:7.2f} {best[name][1]:7.2f}")
        print(f"  scaling 1 -> 2 ranks: {ranks1 / ranks2:.2f} x (efficiency "
              f"{ranks1 / ranks2 / 2:.0%}); 2 ranks vs 1 process with 2 threads: "
              f"{single2 / ranks2:.2f} x; 1 rank vs 1 process: {single1 / ranks1:.2f} x")
        print(f"  2 ranks: blocks per rank {stats['computed_per_rank']}, busy "
              f"{', '.join(f'{b:.2f}' for b in stats['busy_seconds_per_rank'])} s of "
              f"{stats['seconds']:.2f} s inside grove")
        print("  overhead with nothing to compute (start-up, MPI, project, plan, collectives):")
        for name, label in [("plain", "grove run --resume"), ("ranks1", "mpirun -n 1"),
                            ("ranks2", "mpirun -n 2")]:
            print(f"    {label:20s} {idle_best[name][0]:5.2f} s wall, {idle_best[name][1]:5.2f} s CPU")
        per_rank = (idle_best["ranks2"][1] - idle_best["ranks1"][1])
        print(f"    per added rank: {per_rank:5.2f} s CPU; per rank in the 2-rank run: "
              f"{(best['ranks2'][1] - best['single1'][1]) / 2:5.2f} s CPU beyond the "
              f"single process's work")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
