#!/usr/bin/python3
"""Reference predictions of ilastik's (VIGRA's) random forests, for vigra_forest_test.cpp.

For each case (a zip of ilastik projects, a project inside it, a group holding ForestNNNN
forests) this extracts the project, builds a feature matrix of the forest's width (random values
spread over the range of the forest's thresholds, rows with features set exactly on thresholds
and one float step either side, a row holding a NaN) and predicts it as ilastik does: every
forest with VIGRA (python3-vigra), averaged weighted by tree count.

Usage: vigra_forest_reference.py OUT_DIR ZIP:PROJECT:GROUP [ZIP:PROJECT:GROUP ...]
Writes OUT_DIR/<index>/{project.ilp, features.f32, reference.f32, meta.json}.
A test oracle only; grove itself never runs it.
"""
import json
import os
import sys
import zipfile

import h5py
import numpy as np
import vigra


def forest_names(group):
    return sorted(n for n in group.keys() if n.startswith("Forest") and "_ext_param" in group[n])


def thresholds_by_column(group, names):
    """{column: [thresholds]} over every split node of every tree."""
    found = {}
    for name in names:
        forest = group[name]
        for tree in forest.keys():
            if not tree.startswith("Tree_"):
                continue
            topology = forest[tree]["topology"][()]
            parameters = forest[tree]["parameters"][()]
            stack = [2]
            while stack:
                at = stack.pop()
                if topology[at] == 0:  # split node
                    found.setdefault(int(topology[at + 4]), []).append(parameters[topology[at + 1] + 1])
                    stack += [int(topology[at + 2]), int(topology[at + 3])]
    return found


def make_features(columns, thresholds, rows, rng):
    low = np.full(columns, -1.0)
    high = np.full(columns, 1.0)
    for column, values in thresholds.items():
        low[column] = min(values) - 0.1 * (abs(min(values)) + 1)
        high[column] = max(values) + 0.1 * (abs(max(values)) + 1)
    x = (low + (high - low) * rng.random((rows, columns))).astype(np.float32)
    pairs = [(c, t) for c, values in thresholds.items() for t in values]
    if pairs:
        # A third of the rows get features on thresholds: exactly (as float32), or one float step
        # either side, so the comparison direction and ties are tested.
        for row in range(rows // 3):
            for _ in range(8):
                column, threshold = pairs[rng.integers(len(pairs))]
                value = np.float32(threshold)
                step = rng.integers(3)
                if step == 1:
                    value = np.nextafter(value, np.float32(np.inf))
                elif step == 2:
                    value = np.nextafter(value, np.float32(-np.inf))
                x[row, column] = value
    x[-1, columns // 2] = np.nan
    return x


def main():
    out_dir = sys.argv[1]
    rng = np.random.default_rng(2024)
    for index, case in enumerate(sys.argv[2:]):
        zip_path, member, group_path = case.split(":", 2)
        case_dir = os.path.join(out_dir, str(index))
        os.makedirs(case_dir, exist_ok=True)
        project = os.path.join(case_dir, "project.ilp")
        with zipfile.ZipFile(zip_path) as archive, open(project, "wb") as out:
            out.write(archive.read(member))
        with h5py.File(project, "r") as f:
            group = f[group_path]
            names = forest_names(group)
            columns = int(group[names[0]]["_ext_param/column_count_"][0])
            labels = [int(v) for v in group[names[0]]["_ext_param/labels"][()]]
            thresholds = thresholds_by_column(group, names)
        forests = [vigra.learning.RandomForest(project, group_path + "/" + n) for n in names]
        x = make_features(columns, thresholds, 3000, rng)
        total = sum(forest.treeCount() for forest in forests)
        reference = sum(forest.predictProbabilities(x).astype(np.float64) * forest.treeCount()
                        for forest in forests) / total
        x.tofile(os.path.join(case_dir, "features.f32"))
        reference.astype(np.float32).tofile(os.path.join(case_dir, "reference.f32"))
        with open(os.path.join(case_dir, "meta.json"), "w") as meta:
            json.dump({"case": case, "group": group_path, "rows": int(x.shape[0]),
                       "columns": columns, "classes": int(reference.shape[1]), "labels": labels,
                       "forests": len(forests), "trees": int(total)}, meta)


if __name__ == "__main__":
    main()
