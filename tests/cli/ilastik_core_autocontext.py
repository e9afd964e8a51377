#!/usr/bin/python3
"""ilastik's autocontext, stage by stage, on ilastik's compute core rebuilt from VIGRA
(../shared/peers/ilastik_core.py): the parity oracle for autocontext projects.

Stage 1 is pixel classification of the raw image with the project's FeatureSelections and the
forests in PixelClassification/ClassifierForests. Stage k > 1 classifies the raw channels stacked
with stage k-1's probabilities converted to the raw dtype as ilastik does
((max - min) * p - min, cast: uint8 gets floor(255 p)), with FeatureSelectionsNN and
PixelClassificationNN. Scales marked ComputeIn2d are computed slice by slice in volumes; time
points never mix.

Usage: ilastik_core_autocontext.py PROJECT.ilp IMAGE OUT_PREFIX
IMAGE: .png, .npy, or file.h5/dataset (read in the project's axis order for its raw data).
Writes OUT_PREFIX_stage1.npy, OUT_PREFIX_stage2.npy, ... as (t, [z,] y, x, classes) for time
series and ([z,] y, x, classes) otherwise."""
import json
import pathlib
import sys

import h5py
import numpy as np
import vigra

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "shared" / "peers"))
import ilastik_core  # noqa: E402


def stage_group(base, k):
    return base if k == 0 else f"{base}{k:02d}"


def forests(ilp, group):
    with h5py.File(ilp, "r") as f:
        names = sorted(n for n in f[group + "/ClassifierForests"].keys() if n.startswith("Forest"))
    return [vigra.learning.RandomForest(ilp, f"{group}/ClassifierForests/{n}") for n in names]


def selection(ilp, group):
    with h5py.File(ilp, "r") as f:
        matrix = f[group + "/SelectionMatrix"][()]
        in_2d = f[group + "/ComputeIn2d"][()] if group + "/ComputeIn2d" in f else np.zeros(matrix.shape[1], bool)
    return matrix, in_2d


def features(image, matrix, in_2d):
    """image: ([z,] y, x, c). ilastik's order: family, scale, channel; 2D scales slice-wise."""
    if image.ndim == 3 or not in_2d.any():
        return ilastik_core.features_multichannel(image, matrix, 2)
    parts = []
    for family in range(matrix.shape[0]):
        for scale in range(matrix.shape[1]):
            if not matrix[family, scale]:
                continue
            one = np.zeros_like(matrix)
            one[family, scale] = True
            if in_2d[scale]:
                parts.append(np.stack([ilastik_core.features_multichannel(image[z], one, 2)
                                       for z in range(image.shape[0])]))
            else:
                parts.append(ilastik_core.features_multichannel(image, one, 2))
    return np.concatenate(parts, -1)


def as_raw_dtype(p, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        return ((info.max - info.min) * p - info.min).astype(dtype)
    return p.astype(dtype)


def stages(ilp):
    with h5py.File(ilp, "r") as f:
        count = 0
        while stage_group("PixelClassification", count) in f:
            count += 1
    return count


def run(ilp, raw):
    """raw: ([z,] y, x, c) one time point. Returns each stage's probabilities."""
    results, image = [], raw
    for k in range(stages(ilp)):
        X = features(image.astype(np.float32), *selection(ilp, stage_group("FeatureSelections", k)))
        P = ilastik_core.predict(forests(ilp, stage_group("PixelClassification", k)), X, 2)
        P = P.reshape(X.shape[:-1] + (-1,))
        results.append(P)
        image = np.concatenate([raw, as_raw_dtype(P, raw.dtype)], -1)
    return results


def read_image(ilp, source):
    """The image in t, [z,] y, x, c order (t of size 1 when absent)."""
    if ".h5/" in source:
        file, dataset = source.split(".h5/")
        with h5py.File(file + ".h5", "r") as f:
            raw = f[dataset][()]
        with h5py.File(ilp, "r") as f:
            info = f["Input Data/infos/lane0000/Raw Data"]
            if "axistags" in info:
                axes = "".join(a["key"] for a in json.loads(info["axistags"][()])["axes"])
            else:
                axes = info["axisorder"][()].decode()
    else:
        raw = ilastik_core.read(source)
        axes = "zyx" if raw.ndim == 3 and raw.shape[-1] > 4 else ("yxc" if raw.ndim == 3 else "yx")
    for axis in "tzyxc":
        if axis not in axes:
            raw = raw[..., None]
            axes += axis
    raw = np.transpose(raw, [axes.index(a) for a in "tzyxc"])
    if raw.shape[1] == 1:
        raw = raw[:, 0]
    return raw


def main():
    ilp, source, prefix = sys.argv[1:4]
    raw = read_image(ilp, source)
    per_time = [run(ilp, np.ascontiguousarray(raw[t])) for t in range(raw.shape[0])]
    for k in range(len(per_time[0])):
        stacked = np.stack([p[k] for p in per_time])
        np.save(f"{prefix}_stage{k + 1}.npy", stacked if raw.shape[0] > 1 else stacked[0])


if __name__ == "__main__":
    main()
