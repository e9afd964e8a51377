#!/usr/bin/python3
"""bench/pixel_e2e: pixel classification end to end (train on sparse labels, predict the whole
image; all 49/61 features, 100 trees, 2 threads), grove against ilastik's compute core rebuilt from
VIGRA (../shared/peers/ilastik_core.py: ilastik's presmoothed features + VIGRA's random forest),
measured in the same run on the same machine. Prints seconds, peak RSS and the ratios.

  (a) 2d.h5 (1024 x 1344), labelled with the brush strokes of ilastik's own example project
      (notebooks/pixel_classification_api/pc.ilp, trained on the same image);
  (b) a 128 x 256 x 256 uint8 volume (smooth random blobs), strokes on a few slices.

Usage: bench/pixel_e2e.py [--grove build/bin/grove] [--threads 2] [--only 2d|3d] [--repeat N]
"""
import argparse
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PEER = SHARED / "peers" / "ilastik_core.py"


def labels_from_ilp(ilp, shape):
    """The label blocks of an ilastik project's first lane, as a dense (y, x) image."""
    labels = np.zeros(shape, np.uint8)
    with h5py.File(ilp, "r") as f:
        for block in f["PixelClassification/LabelSets/labels000"].values():
            ranges = [tuple(map(int, r.split(":"))) for r in block.attrs["blockSlice"][1:-1].split(",")]
            index = tuple(slice(a, b) for a, b in ranges[:2])
            data = block[()][..., 0]
            labels[index] = np.where(data > 0, data, labels[index])
    return labels


def make_volume(path_image, path_labels):
    rng = np.random.default_rng(1)
    from scipy import ndimage
    noise = rng.random((128, 256, 256), dtype=np.float32)
    blobs = ndimage.gaussian_filter(noise, 4)
    blobs = (blobs - blobs.min()) / (blobs.max() - blobs.min())
    image = np.clip(blobs * 255 + rng.normal(0, 8, blobs.shape), 0, 255).astype(np.uint8)
    labels = np.zeros(image.shape, np.uint8)
    for z in (20, 64, 100):
        for row in range(30, 256, 60):
            line = blobs[z, row, :]
            labels[z, row, :] = np.where(line > 0.55, 2, np.where(line < 0.45, 1, 0))
    np.save(path_image, image)
    np.save(path_labels, labels)


def timed(command, env=None):
    """Runs command under /usr/bin/time; returns (seconds, peak RSS in MB, stdout)."""
    start = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "PEAK_RSS_KB %M", *command], capture_output=True, text=True,
                       env=env)
    seconds = time.perf_counter() - start
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{p.stderr}")
    rss = int(re.search(r"PEAK_RSS_KB (\d+)", p.stderr).group(1)) / 1024.0
    return seconds, rss, p.stdout


def run_case(name, image, labels, grove, threads, work, repeat):
    best = None
    for _ in range(repeat):
        project = work / f"{name}.grove"
        out = work / f"{name}_grove"
        t_train, rss_train, _ = timed([grove, "pixel", "train", "--image", str(image), "--labels", str(labels),
                                       "-o", str(project), "--overwrite", "--threads", str(threads)])
        t_predict, rss_predict, _ = timed([grove, "run", str(project), str(image), "--format", "npy",
                                           "--output", str(out), "--overwrite", "--threads", str(threads)])
        t_peer, rss_peer, peer_stdout = timed(["/usr/bin/python3", str(PEER), "pixel", str(image), str(labels),
                                               "--threads", str(threads), "--out", str(work / f"{name}_peer.npy")])
        peer = json.loads(peer_stdout.strip().splitlines()[-1])
        grove_total = t_train + t_predict
        result = dict(case=name, grove_train_s=t_train, grove_predict_s=t_predict, grove_total_s=grove_total,
                      grove_peak_rss_mb=max(rss_train, rss_predict), peer_total_s=t_peer,
                      peer_compute_s=peer["features_s"] + peer["train_s"] + peer["predict_s"],
                      peer_peak_rss_mb=rss_peer)
        if best is None or result["grove_total_s"] < best["grove_total_s"]:
            best = result
    a = np.load(str(work / f"{name}_grove.npy")).reshape(-1)
    b = np.load(work / f"{name}_peer.npy").reshape(-1)
    best["agreement_argmax"] = float(np.mean(a.reshape(-1, 2).argmax(1) == b.reshape(-1, 2).argmax(1)))
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grove", default=str(REPO / "build" / "bin" / "grove"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", choices=["2d", "3d"])
    ap.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args()
    if not SHARED.is_dir():
        sys.exit(f"{SHARED} is absent: the benchmark data is not available")
    print(f"load average before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        cases = []
        if a.only in (None, "2d"):
            with h5py.File(SHARED / "data/ilastik_testdata/inputdata/2d.h5", "r") as f:
                image = f["data"][()]
            np.save(work / "2d.npy", image)
            labels = labels_from_ilp(SHARED / "data/ilastik_testdata/notebooks/pixel_classification_api/pc.ilp",
                                     image.shape)
            np.save(work / "2d_labels.npy", labels)
            cases.append(("2d_1024x1344", work / "2d.npy", work / "2d_labels.npy"))
        if a.only in (None, "3d"):
            make_volume(work / "3d.npy", work / "3d_labels.npy")
            cases.append(("3d_128x256x256", work / "3d.npy", work / "3d_labels.npy"))
        for name, image, labels in cases:
            r = run_case(name, image, labels, a.grove, a.threads, work, a.repeat)
            print(json.dumps(r))
            print(f"{name}: grove {r['grove_total_s']:.2f} s (train {r['grove_train_s']:.2f} + predict "
                  f"{r['grove_predict_s']:.2f}), peak {r['grove_peak_rss_mb']:.0f} MB | VIGRA pipeline "
                  f"{r['peer_total_s']:.2f} s, peak {r['peer_peak_rss_mb']:.0f} MB | speed-up "
                  f"{r['peer_total_s'] / r['grove_total_s']:.2f}x, memory ratio "
                  f"{r['grove_peak_rss_mb'] / r['peer_peak_rss_mb']:.2f} | same class on "
                  f"{r['agreement_argmax']:.2%} of pixels")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
