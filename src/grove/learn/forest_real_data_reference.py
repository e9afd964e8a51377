#!/usr/bin/python3
"""A real pixel-classification problem for forest_training_test.cpp, with VIGRA's score on it.

Takes a crop of inputdata/2d.h5 (a fluorescence image of nuclei), computes ilastik's 49
features with ../shared/peers/ilastik_core.py, paints user-like brush strokes on ilastik's own
result (2d_Probabilities.h5, argmax) for training and other strokes for testing, trains VIGRA's
forest as ilastik does (100 trees) and scores it on the test strokes.

Usage: forest_real_data_reference.py SHARED_DIR OUT_DIR
Writes OUT_DIR/{train.f32, train_labels.i32, test.f32, test_labels.i32, meta.json}.
A test oracle only; grove itself never runs it.
"""
import json
import math
import os
import sys

import h5py
import numpy as np


def paint_strokes(reference, target_pixels, rng, taken):
    """Random-walk strokes with a 1-2 pixel brush, alternating classes, each painting only
    pixels of its class (0 = unlabelled, k + 1 = class k)."""
    height, width = reference.shape
    labels = np.zeros(reference.shape, np.int32)
    starts = [np.argwhere(reference == k) for k in range(int(reference.max()) + 1)]
    painted, stroke = 0, 0
    while painted < target_pixels:
        k = stroke % len(starts)
        stroke += 1
        y, x = starts[k][rng.integers(len(starts[k]))].astype(float)
        direction = rng.uniform(0, 2 * math.pi)
        radius = int(rng.integers(1, 3))
        for _ in range(int(rng.integers(20, 80))):
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


def main():
    shared, out = sys.argv[1], sys.argv[2]
    sys.path.insert(0, os.path.join(shared, "peers"))
    import ilastik_core
    data = os.path.join(shared, "data", "ilastik_testdata", "inputdata")
    crop = (slice(0, 384), slice(0, 512))
    raw = h5py.File(os.path.join(data, "2d.h5"), "r")["data"][crop]
    reference = h5py.File(os.path.join(data, "2d_Probabilities.h5"), "r")["exported_data"][crop]
    reference = reference.argmax(axis=-1)
    features = ilastik_core.features(raw, threads=2)
    x = features.reshape(-1, features.shape[-1]).astype(np.float32)
    rng = np.random.default_rng(7)
    taken = np.zeros(reference.shape, bool)
    train = paint_strokes(reference, 5000, rng, taken).ravel()
    test = paint_strokes(reference, 5000, rng, taken).ravel()
    train_rows, test_rows = np.flatnonzero(train), np.flatnonzero(test)
    forests = ilastik_core.train(x[train_rows], train[train_rows], 100, 2)
    p = ilastik_core.predict(forests, x[test_rows], 2)
    vigra_accuracy = float(((p.argmax(axis=1) + 1) == test[test_rows]).mean())
    os.makedirs(out, exist_ok=True)
    x[train_rows].tofile(os.path.join(out, "train.f32"))
    train[train_rows].astype(np.int32).tofile(os.path.join(out, "train_labels.i32"))
    x[test_rows].tofile(os.path.join(out, "test.f32"))
    test[test_rows].astype(np.int32).tofile(os.path.join(out, "test_labels.i32"))
    with open(os.path.join(out, "meta.json"), "w") as meta:
        json.dump({"columns": int(x.shape[1]), "train": int(len(train_rows)),
                   "test": int(len(test_rows)), "vigra_accuracy": vigra_accuracy}, meta)


if __name__ == "__main__":
    main()
