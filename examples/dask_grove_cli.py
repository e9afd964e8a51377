#!/usr/bin/env python3
"""Running grove under dask's distributed scheduler, through the command line (no MPI).

For Python users who already have a dask cluster (dask-jobqueue on SLURM, Kubernetes, a
LocalCluster): each dask task runs one `grove` process, and grove's own --prepare / --part /
--resume steps keep the output consistent (docs/distributed.md):

  1. `grove run ... --prepare` creates the output store and plans its blocks (once, here);
  2. one task per part runs `grove run ... --part K/N`: the blocks K, K+N, K+2N, ... (each block
     aligned to the store's chunks, so parts never write the same chunk); parts may run at once,
     on any machines that share the file system, and a failed task can simply be retried;
  3. `grove run ... --resume` finds every block complete and marks the output complete (for HDF5:
     writes the .h5 file).

A batch of images needs no planning: one task per image.

    python3 examples/dask_grove_cli.py PROJECT IMAGE OUTPUT [--parts 8] [--scheduler ADDRESS]
"""
import argparse
import subprocess


def run_grove(arguments):
    """Runs grove; raises with its message on failure (dask retries or reports it)."""
    proc = subprocess.run(arguments, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(arguments)} failed: {proc.stderr.strip()}")
    return proc.stdout


def predict_volume(client, project, image, output, parts, grove="grove", fmt="zarr", extra=()):
    """Predicts one large image into OUTPUT (zarr, n5 or hdf5) with `parts` dask tasks."""
    base = [str(grove), "run", str(project), str(image), "--format", fmt, "--output", str(output),
            *map(str, extra)]
    run_grove([*base, "--prepare"])
    tasks = client.map(run_grove, [[*base, "--part", f"{k}/{parts}"] for k in range(parts)],
                       pure=False)
    client.gather(tasks)
    return run_grove([*base, "--resume"])


def predict_files(client, project, images, output_pattern, grove="grove", fmt="tiff", extra=()):
    """Predicts each image in its own dask task; output_pattern as grove's --output."""
    tasks = client.map(run_grove, [[str(grove), "run", str(project), str(image), "--format", fmt,
                                    "--output", str(output_pattern), *map(str, extra)]
                                   for image in images], pure=False)
    return client.gather(tasks)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("project")
    parser.add_argument("image")
    parser.add_argument("output")
    parser.add_argument("--parts", type=int, default=8)
    parser.add_argument("--format", default="zarr")
    parser.add_argument("--scheduler", help="address of a running dask scheduler (default: local)")
    parser.add_argument("--grove", default="grove")
    args = parser.parse_args()
    from dask.distributed import Client, LocalCluster

    if args.scheduler:
        client = Client(args.scheduler)
    else:
        client = Client(LocalCluster(threads_per_worker=1, dashboard_address=None))
    print(predict_volume(client, args.project, args.image, args.output, args.parts, args.grove,
                         args.format), end="")


if __name__ == "__main__":
    main()
