#!/usr/bin/python3
"""grove pixel features vs VIGRA (ilastik_core.py), in one run.

Computes all of ilastik's pixel features (6 families, 7 scales) on
../shared/data/ilastik_testdata/inputdata/2d.h5 (1024 x 1344) and on a 128 x 256 x 256 uint8 volume
of smooth random data, with 2 threads, once with grove (build/bin/features_bench, block-wise on a
thread pool like the engine) and once with VIGRA through ../shared/peers/ilastik_core.py
(`features`, threads per scale, as ilastik does). Prints wall seconds per megapixel and the
ratio, and the same in CPU seconds (all threads of the process), which other work on the
machine disturbs less than wall time.

Usage: /usr/bin/python3 bench/features.py [--threads 2] [--repeat 2] [--grove build/bin/features_bench]
Check the machine is quiet first (uptime): other work on the cores skews both sides.
"""
import argparse, json, os, subprocess, sys, tempfile, time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.path.join(ROOT, "..", "shared")


def smooth_volume(shape, seed=0):
    rng = np.random.default_rng(seed)
    z, y, x = np.meshgrid(*[np.arange(n, dtype=np.float32) for n in shape], indexing="ij")
    wave = 60 * np.sin(0.05 * x + 0.02 * z) * np.cos(0.07 * y) + 30 * np.sin(0.011 * (x + y + z))
    return np.clip(120 + wave + rng.integers(0, 40, shape), 0, 255).astype(np.uint8)


def time_vigra(core, img, threads, repeat):
    """Best wall and CPU seconds of `repeat` runs."""
    best_wall, best_cpu = float("inf"), float("inf")
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = core.features(img, threads=threads)
        best_wall = min(best_wall, time.perf_counter() - t)
        best_cpu = min(best_cpu, time.process_time() - c)
        del out
    return best_wall, best_cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2, help="runs per case; the best counts")
    ap.add_argument("--grove", default=os.path.join(ROOT, "build", "bin", "features_bench"))
    ap.add_argument("--block2d", default="256,512")
    ap.add_argument("--block3d", default="128,64,128")
    a = ap.parse_args()

    import h5py
    sys.path.insert(0, os.path.join(SHARED, "peers"))
    import ilastik_core

    with h5py.File(os.path.join(SHARED, "data", "ilastik_testdata", "inputdata", "2d.h5"), "r") as f:
        image = np.ascontiguousarray(f["data"][()], dtype=np.uint8)
    volume = smooth_volume((128, 256, 256))
    print(f"load before: {os.getloadavg()[0]:.2f} (1 min average)", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        image.tofile(os.path.join(tmp, "image.raw"))
        volume.tofile(os.path.join(tmp, "volume.raw"))
        cmd = [a.grove, f"--image2d={tmp}/image.raw,{image.shape[0]},{image.shape[1]}",
               f"--volume={tmp}/volume.raw,{volume.shape[0]},{volume.shape[1]},{volume.shape[2]}",
               f"--threads={a.threads}", f"--block2d={a.block2d}", f"--block3d={a.block3d}",
               f"--benchmark_repetitions={a.repeat}", "--benchmark_format=json"]
        result = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        cpu_cmd = [c for c in cmd if not c.startswith("--benchmark_")] + [f"--cpu_seconds={a.repeat}"]
        grove_cpu = {}
        for line in subprocess.run(cpu_cmd, check=True, capture_output=True, text=True).stdout.splitlines():
            name, rest = line.split(":", 1)
            grove_cpu[name.strip()] = float(rest.split()[0])
    grove = {}
    for b in result["benchmarks"]:
        if b.get("run_type") == "iteration":
            name = "2d" if "2d" in b["name"] else "3d"
            grove[name] = min(grove.get(name, float("inf")), b["real_time"] / 1000.0)

    vigra_s = {"2d": time_vigra(ilastik_core, image, a.threads, a.repeat),
               "3d": time_vigra(ilastik_core, volume, a.threads, max(1, a.repeat - 1))}
    print(f"load after: {os.getloadavg()[0]:.2f} (1 min average)")
    megapixels = {"2d": image.size / 1e6, "3d": volume.size / 1e6}
    print(f"{'case':<28}{'':<6}{'grove s/Mpx':>12}{'VIGRA s/Mpx':>13}{'VIGRA/grove':>13}")
    for name, label in (("2d", "2d.h5 1024x1344, 49 ch"), ("3d", "128x256x256 uint8, 61 ch")):
        g = grove[name] / megapixels[name]
        v = vigra_s[name][0] / megapixels[name]
        print(f"{label:<28}{'wall':<6}{g:>12.4f}{v:>13.4f}{v / g:>12.1f}x")
        g = grove_cpu[name]
        v = vigra_s[name][1] / megapixels[name]
        print(f"{'':<28}{'CPU':<6}{g:>12.4f}{v:>13.4f}{v / g:>12.1f}x")


if __name__ == "__main__":
    main()
