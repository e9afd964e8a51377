#!/usr/bin/python3
"""Random forest benchmark: grove against VIGRA (ilastik's forest) and scikit-learn, same run.

The problem is ilastik's: the 49 features of inputdata/2d.h5 (a 1024×1344 fluorescence image,
computed with ../shared/peers/ilastik_core.py, only to get a realistic feature matrix shared by
all three), user-like brush strokes (spatially clustered, not uniform samples) labelled from
ilastik's own result 2d_Probabilities.h5: ~20 000 pixels to train on, held-out strokes to test
on. Each library trains 100 trees with 2 threads (VIGRA as ilastik does it: one forest per
thread), predicts the whole image, and is scored on the held-out strokes. Then grove predicts
VIGRA's own forest (imported from HDF5) against VIGRA predicting it.

Usage: bench/forest.py [--bench build/bin/forest_bench] [--threads 2] [--repeat 1]
Prints a table and the ratios (peer time / grove time: > 1 means grove is faster).
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "shared")
DATA = os.path.join(SHARED, "data", "ilastik_testdata", "inputdata")
sys.path.insert(0, os.path.join(SHARED, "peers"))


def load_average():
    return os.getloadavg()[0]


def paint_strokes(reference, target_pixels, rng, taken):
    """Strokes as a user paints them: random walks with a 1-2 pixel brush, alternating classes,
    each starting inside its class and painting only pixels of that class. Returns a label image
    (0 = unlabelled, k + 1 = class k) and marks the painted pixels in taken."""
    height, width = reference.shape
    labels = np.zeros(reference.shape, np.int32)
    starts = [np.argwhere(reference == k) for k in range(int(reference.max()) + 1)]
    painted = 0
    stroke = 0
    while painted < target_pixels:
        k = stroke % len(starts)
        stroke += 1
        y, x = starts[k][rng.integers(len(starts[k]))].astype(float)
        direction = rng.uniform(0, 2 * math.pi)
        radius = int(rng.integers(1, 3))
        for _ in range(int(rng.integers(20, 120))):
            direction += rng.normal(0, 0.35)
            y += math.sin(direction)
            x += math.cos(direction)
            if not (radius <= y < height - radius and radius <= x < width - radius):
                break
            iy, ix = int(y), int(x)
            window = (slice(iy - radius, iy + radius + 1), slice(ix - radius, ix + radius + 1))
            brush = (reference[window] == k) & ~taken[window]
            painted += int(brush.sum())
            labels[window][brush] = k + 1
            taken[window] |= brush
    return labels


def best_time(function, repeat):
    best, result = None, None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best, result


def accuracy(probabilities, rows, labels):
    predicted = probabilities[rows].argmax(axis=1) + 1
    return float((predicted == labels).mean())


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", default=os.path.join(HERE, "..", "build", "bin", "forest_bench"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--train-pixels", type=int, default=20000)
    parser.add_argument("--test-pixels", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (best kept)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", help="keep the exchanged data in this folder")
    args = parser.parse_args()

    import ilastik_core  # the peer: VIGRA filters and forests as ilastik uses them
    import vigra
    from sklearn.ensemble import RandomForestClassifier

    loads = [load_average()]
    raw = h5py.File(os.path.join(DATA, "2d.h5"), "r")["data"][()]
    reference = h5py.File(os.path.join(DATA, "2d_Probabilities.h5"), "r")["exported_data"][()]
    reference = reference.argmax(axis=-1)
    features = ilastik_core.features(raw, threads=args.threads)
    height, width, columns = features.shape
    x = np.ascontiguousarray(features.reshape(-1, columns), dtype=np.float32)
    rng = np.random.default_rng(args.seed)
    taken = np.zeros(reference.shape, bool)
    train_labels = paint_strokes(reference, args.train_pixels, rng, taken).ravel()
    test_labels = paint_strokes(reference, args.test_pixels, rng, taken).ravel()
    train_rows = np.flatnonzero(train_labels)
    test_rows = np.flatnonzero(test_labels)
    y_train = train_labels[train_rows]
    y_test = test_labels[test_rows]
    megapixels = x.shape[0] / 1e6

    folder = args.keep or tempfile.mkdtemp(prefix="grove_forest_bench_")
    os.makedirs(folder, exist_ok=True)
    x.tofile(os.path.join(folder, "features.f32"))
    train_rows.astype(np.int64).tofile(os.path.join(folder, "train_rows.i64"))
    y_train.astype(np.int32).tofile(os.path.join(folder, "train_labels.i32"))
    test_rows.astype(np.int64).tofile(os.path.join(folder, "test_rows.i64"))
    y_test.astype(np.int32).tofile(os.path.join(folder, "test_labels.i32"))
    with open(os.path.join(folder, "meta.json"), "w") as meta:
        json.dump({"rows": int(x.shape[0]), "columns": int(columns), "train": int(len(train_rows)),
                   "test": int(len(test_rows))}, meta)

    results = {}
    # VIGRA, as ilastik trains and predicts (ilastik_core.train / predict).
    train_x = np.ascontiguousarray(x[train_rows])
    seconds, forests = best_time(lambda: ilastik_core.train(train_x, y_train, args.trees,
                                                            args.threads), args.repeat)
    predict_seconds, p = best_time(lambda: ilastik_core.predict(forests, x, args.threads),
                                   args.repeat)
    results["VIGRA"] = (seconds, predict_seconds / megapixels, accuracy(p, test_rows, y_test))
    forest_file = os.path.join(folder, "vigra_forest.h5")
    if os.path.exists(forest_file):
        os.remove(forest_file)
    for i, forest in enumerate(forests):
        forest.writeHDF5(forest_file, "/PixelClassification/ClassifierForests/Forest%04d" % i)
    loads.append(load_average())

    # scikit-learn.
    def sklearn_train():
        model = RandomForestClassifier(n_estimators=args.trees, n_jobs=args.threads,
                                       random_state=args.seed)
        return model.fit(train_x, y_train)
    seconds, model = best_time(sklearn_train, args.repeat)
    predict_seconds, p = best_time(lambda: model.predict_proba(x), args.repeat)
    results["scikit-learn"] = (seconds, predict_seconds / megapixels,
                               accuracy(p, test_rows, y_test))
    loads.append(load_average())

    # grove (its benchmark binary, on the same files).
    environment = dict(os.environ, GROVE_FOREST_BENCH_DATA=folder,
                       GROVE_BENCH_THREADS=str(args.threads))
    output = subprocess.run([args.bench, "--benchmark_format=json",
                             "--benchmark_repetitions=%d" % args.repeat],
                            env=environment, check=True, capture_output=True, text=True).stdout
    runs = {}
    for run in json.loads(output)["benchmarks"]:
        if run.get("run_type") != "iteration":
            continue
        name = run["name"].split("/")[0]
        seconds = run["real_time"] * {"ms": 1e-3, "us": 1e-6, "ns": 1e-9, "s": 1.0}[run["time_unit"]]
        if name not in runs or seconds < runs[name]["seconds"]:
            runs[name] = dict(run, seconds=seconds)
    loads.append(load_average())
    train = runs["BM_ForestTrainHistogram"]
    results["grove"] = (train["seconds"], runs["BM_ForestPredict"]["seconds"] / megapixels,
                        train["accuracy"])

    print("random forest, %d trees, %d threads: %d×%d image (%.2f MP), %d features, %d training "
          "pixels in strokes, %d held-out" % (args.trees, args.threads, height, width, megapixels,
                                              columns, len(train_rows), len(test_rows)))
    print("%-14s %12s %16s %10s" % ("", "train s", "predict s/MP", "accuracy"))
    for name in ("grove", "VIGRA", "scikit-learn"):
        t, p, a = results[name]
        print("%-14s %12.3f %16.3f %10.4f" % (name, t, p, a))
    exact = runs.get("BM_ForestTrainExact")
    if exact:
        print("%-14s %12.3f %16s %10.4f" % ("grove exact", exact["seconds"], "", exact["accuracy"]))
    depth = runs.get("BM_ForestPredictDepth8")
    if depth:
        print("%-14s %12s %16.3f %10s" % ("grove depth 8", "", depth["seconds"] / megapixels, ""))
    g = results["grove"]
    for name in ("VIGRA", "scikit-learn"):
        r = results[name]
        print("%s / grove: training %.1f×, prediction %.1f×, accuracy %+.4f" %
              (name, r[0] / g[0], r[1] / g[1], g[2] - r[2]))
    imported = runs.get("BM_ForestPredictImported")
    if imported:
        vigra_seconds = results["VIGRA"][1]
        grove_seconds = imported["seconds"] / megapixels
        print("VIGRA's forest, imported: VIGRA predicts %.3f s/MP, grove %.3f s/MP: %.1f×; "
              "held-out accuracy %.4f (VIGRA %.4f)" %
              (vigra_seconds, grove_seconds, vigra_seconds / grove_seconds,
               imported["accuracy"], results["VIGRA"][2]))
    print("load average (1 min) during the run: %s" % ", ".join("%.2f" % l for l in loads))


if __name__ == "__main__":
    main()
