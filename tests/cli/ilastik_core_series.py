#!/usr/bin/python3
"""ilastik's compute core (../shared/peers/ilastik_core.py) applied to each time point of a time
series, as ilastik does (features never mix time points). The peer itself takes 2D/3D images
only. Usage: ilastik_core_series.py PROJECT.ilp FILE.h5/dataset OUT.npy
The dataset's axes are the project's axistags for its raw data (as ilastik reads it); the output
is (t, ..., classes)."""
import json
import pathlib
import sys

import h5py
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "shared" / "peers"))
import ilastik_core  # noqa: E402


def main():
    ilp, source, out = sys.argv[1:4]
    file, dataset = source.split(".h5/")
    with h5py.File(ilp, "r") as f:
        tags = f["Input Data/infos/lane0000/Raw Data/axistags"][()]
    axes = "".join(a["key"] for a in json.loads(tags)["axes"])
    with h5py.File(file + ".h5", "r") as f:
        raw = f[dataset][()]
    # Reorder to t, z, y, x, c (adding missing axes), then drop z if it is absent.
    for axis in "tzyxc":
        if axis not in axes:
            raw = raw[..., None]
            axes += axis
    raw = np.transpose(raw, [axes.index(a) for a in "tzyxc"])
    if raw.shape[1] == 1:
        raw = raw[:, 0]
    with h5py.File(ilp, "r") as f:
        selection = f["FeatureSelections/SelectionMatrix"][()]
    forests = ilastik_core.load_ilp_forests(ilp)
    results = []
    for t in range(raw.shape[0]):
        features = ilastik_core.features_multichannel(np.ascontiguousarray(raw[t]).astype(np.float32), selection, 2)
        probabilities = ilastik_core.predict(forests, features, 2)
        results.append(probabilities.reshape(features.shape[:-1] + (-1,)))
    np.save(out, np.stack(results))


if __name__ == "__main__":
    main()
