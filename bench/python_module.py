#!/usr/bin/python3
"""The Python module against its peers, in one run: what a Python user gets from grove compared
with what they would use otherwise.

- grove.features vs VIGRA's filters through ../shared/peers/ilastik_core.py (ilastik's compute
  core) on ../shared/data/ilastik_testdata/inputdata/2d.h5 (1024 x 1344), all features;
- grove.RandomForest vs scikit-learn's RandomForestClassifier (100 trees, same threads): fit on
  20000 pixels' ilastik features of an ISBI EM slice, predict a whole 512 x 512 slice, and the
  held-out accuracy of both;
- grove.predict_blocks (dask, 256 x 256 blocks) vs project.predict on the whole image: the cost
  of block-wise halos.

Prints seconds and ratios (peer time / grove time: above 1 means grove is faster).
Usage: PYTHONPATH=build/python /usr/bin/python3 bench/python_module.py [--threads 2] [--repeat 2]
Check the machine is quiet first (uptime): other work on the cores skews both sides.
"""
import argparse
import importlib.util
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.path.join(ROOT, "..", "shared")
sys.path.insert(0, os.path.join(ROOT, "build", "python"))

import grove  # noqa: E402


def best_of(repeat, function):
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def report(what, grove_seconds, peer, peer_seconds):
    print(f"{what:<44} grove {grove_seconds:7.3f} s   {peer} {peer_seconds:7.3f} s   ratio {peer_seconds / grove_seconds:5.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    arguments = parser.parse_args()
    threads, repeat = arguments.threads, arguments.repeat

    spec = importlib.util.spec_from_file_location("ilastik_core", os.path.join(SHARED, "peers", "ilastik_core.py"))
    core = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(core)
    image = grove.read(os.path.join(SHARED, "data", "ilastik_testdata", "inputdata", "2d.h5"), axes="yx")
    ours, _ = best_of(repeat, lambda: grove.features(image, axes="yx", threads=threads))
    theirs, _ = best_of(repeat, lambda: core.features(image, threads=threads))
    report(f"features, all, {image.shape[0]}x{image.shape[1]}", ours, "VIGRA", theirs)

    from sklearn.ensemble import RandomForestClassifier

    data = os.path.join(SHARED, "data", "pixel_classification", "isbi2012_em_membranes")
    X = grove.features(grove.read(os.path.join(data, "image", "00.png"), axes="yx")).reshape(-1, 49)
    y = grove.read(os.path.join(data, "label", "00.png"), axes="yx").ravel() == 0
    X_test = grove.features(grove.read(os.path.join(data, "image", "05.png"), axes="yx")).reshape(-1, 49)
    y_test = grove.read(os.path.join(data, "label", "05.png"), axes="yx").ravel() == 0
    picked = np.random.default_rng(0).permutation(len(y))[:20000]
    forest = grove.RandomForest(n_trees=100, n_jobs=threads)
    sklearn = RandomForestClassifier(n_estimators=100, n_jobs=threads, random_state=0)
    ours, _ = best_of(repeat, lambda: forest.fit(X[picked], y[picked]))
    theirs, _ = best_of(repeat, lambda: sklearn.fit(X[picked], y[picked]))
    report("forest fit, 20000 x 49, 100 trees", ours, "scikit-learn", theirs)
    ours, _ = best_of(repeat, lambda: forest.predict_proba(X_test))
    theirs, _ = best_of(repeat, lambda: sklearn.predict_proba(X_test))
    report("forest predict, 512 x 512 pixels", ours, "scikit-learn", theirs)
    print(f"{'held-out accuracy (slice 05)':<44} grove {forest.score(X_test, y_test):.4f}   "
          f"scikit-learn {sklearn.score(X_test, y_test):.4f}")

    import dask
    import dask.array as da

    project = grove.Project.create(n_trees=100)
    labels = np.zeros(512 * 512, np.uint8)
    labels[picked[:2000]] = np.where(y[picked[:2000]], 1, 2)
    raw = grove.read(os.path.join(data, "image", "00.png"), axes="yx")
    project.add_image(raw, labels=labels.reshape(512, 512), axes="yx")
    project.train(threads=threads)
    test = np.tile(grove.read(os.path.join(data, "image", "05.png"), axes="yx"), (2, 2))
    whole, _ = best_of(repeat, lambda: project.predict(test, axes="yx", threads=threads))
    with dask.config.set(scheduler="threads", num_workers=threads):
        blocks, _ = best_of(repeat, lambda: grove.predict_blocks(da.from_array(test, chunks=256), project, axes="yx").compute())
    report("predict 1024x1024: whole vs dask blocks", whole, "dask blocks", blocks)


if __name__ == "__main__":
    main()
