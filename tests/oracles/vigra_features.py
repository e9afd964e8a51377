#!/usr/bin/python3
"""Reference pixel features from VIGRA (python3-vigra), for grove's filters tests.

Usage: vigra_features.py OUTDIR [SHARED_DIR]

Writes OUTDIR/manifest.json and, per case, OUTDIR/<case>_input.npy (spatial axes then channels:
(y, x, c) or (z, y, x, c)) and OUTDIR/<case>_expected.npy (float32, (..., F) in ilastik's channel
order). The synthetic cases call VIGRA directly with ilastik's rules (DESIGN.md §5); the
"ilastik_*" cases run SHARED_DIR/peers/ilastik_core.py's `features` on the test images in
SHARED_DIR/data (skipped when SHARED_DIR is absent). Exit status 3: vigra is not installed.
A test oracle only: grove itself never runs this.
"""
import json, math, os, sys

import numpy as np

try:
    import vigra
except ImportError:
    print("python3-vigra is not installed", file=sys.stderr)
    sys.exit(3)

FAMILIES = ["GaussianSmoothing", "LaplacianOfGaussian", "GaussianGradientMagnitude",
            "DifferenceOfGaussians", "StructureTensorEigenvalues", "HessianOfGaussianEigenvalues"]
SCALES = [0.3, 0.7, 1.0, 1.6, 3.5, 5.0, 10.0]


def family_at(family, img, sigma):
    f = vigra.filters
    if family == "GaussianSmoothing":
        return f.gaussianSmoothing(img, sigma, window_size=2.0)
    if family == "LaplacianOfGaussian":
        return f.laplacianOfGaussian(img, sigma, window_size=2.0)
    if family == "GaussianGradientMagnitude":
        return f.gaussianGradientMagnitude(img, sigma, window_size=2.0)
    if family == "DifferenceOfGaussians":
        return (f.gaussianSmoothing(img, sigma, window_size=2.0)
                - f.gaussianSmoothing(img, 0.66 * sigma, window_size=2.0))
    # VIGRA's own 3x3 eigenvalue solver runs in float and loses about sqrt(float epsilon) of
    # precision at nearly repeated eigenvalues; the tensors come from VIGRA, their eigenvalues
    # from numpy in double precision.
    if family == "StructureTensorEigenvalues":
        return eigenvalues(f.structureTensor(img, 0.5 * sigma, sigma, window_size=2.0))
    return eigenvalues(f.hessianOfGaussian(img, sigma, window_size=2.0))


def eigenvalues(tensor):
    t = np.asarray(tensor, np.float64)
    if t.shape[-1] == 3:
        m = np.stack([np.stack([t[..., 0], t[..., 1]], -1), np.stack([t[..., 1], t[..., 2]], -1)], -2)
    else:
        m = np.stack([np.stack([t[..., 0], t[..., 1], t[..., 2]], -1),
                      np.stack([t[..., 1], t[..., 3], t[..., 4]], -1),
                      np.stack([t[..., 2], t[..., 4], t[..., 5]], -1)], -2)
    return np.linalg.eigvalsh(m)[..., ::-1].astype(np.float32)


def feature_2d_or_3d(family, scale, img):
    """One family at one ilastik scale on a single-channel (y,x) or (z,y,x) float32 image."""
    tagged = vigra.taggedView(np.ascontiguousarray(img, np.float32), "zyx" if img.ndim == 3 else "yx")
    pre = vigra.filters.gaussianSmoothing(tagged, math.sqrt(scale * scale - 1) if scale > 1 else scale,
                                          window_size=3.5)
    r = np.asarray(family_at(family, pre, 1.0 if scale > 1 else scale), np.float32)
    return r[..., None] if r.ndim == img.ndim else r


def feature(family, scale, img, in2d):
    if in2d and img.ndim == 3:
        return np.stack([feature_2d_or_3d(family, scale, img[z]) for z in range(img.shape[0])])
    return feature_2d_or_3d(family, scale, img)


def stack(img, selection, in2d_scales=()):
    """img: (..., c). selection: list of (family, [scales]). ilastik's order: family, scale, channel."""
    blocks = []
    for family in FAMILIES:
        for scale in SCALES + sorted({s for _, ss in selection for s in ss} - set(SCALES)):
            if not any(f == family and scale in ss for f, ss in selection):
                continue
            for c in range(img.shape[-1]):
                blocks.append(feature(family, scale, img[..., c].astype(np.float32), scale in in2d_scales))
    return np.concatenate(blocks, axis=-1).astype(np.float32)


def smooth_random(shape, seed):
    rng = np.random.default_rng(seed)
    a = rng.random(shape).astype(np.float32) * 255
    return np.asarray(vigra.filters.gaussianSmoothing(a, 1.5)) + rng.random(shape).astype(np.float32) * 20


ALL = [(f, SCALES if f == "GaussianSmoothing" else SCALES[1:]) for f in FAMILIES]


def main():
    out = sys.argv[1]
    shared = sys.argv[2] if len(sys.argv) > 2 else None
    os.makedirs(out, exist_ok=True)
    cases = []

    def save(name, img, expected, spec, **extra):
        np.save(os.path.join(out, name + "_input.npy"), np.ascontiguousarray(img))
        np.save(os.path.join(out, name + "_expected.npy"), np.ascontiguousarray(expected))
        cases.append(dict(name=name, spec=spec, **extra))

    img2 = smooth_random((70, 90), 1)[..., None]
    save("synthetic_2d", img2, stack(img2, ALL), "all")
    img3 = smooth_random((40, 44, 48), 2)[..., None]
    save("synthetic_3d", img3, stack(img3, ALL), "all")
    # Some scales slice by slice (ilastik's ComputeIn2d): 2 eigenvalues there.
    save("synthetic_3d_in2d", img3, stack(img3, ALL, in2d_scales=(1.0, 3.5)),
         "all;ComputeIn2d:1,3.5")
    # An odd scale and two channels.
    img2c = np.stack([smooth_random((50, 61), 3), smooth_random((50, 61), 4) * 0.01], -1)
    sel = [("GaussianSmoothing", [0.3, 2.2]), ("StructureTensorEigenvalues", [2.2]),
           ("HessianOfGaussianEigenvalues", [0.7, 2.2])]
    save("synthetic_2d_two_channels", img2c, stack(img2c, sel),
         "GaussianSmoothing:0.3,2.2;StructureTensorEigenvalues:2.2;HessianOfGaussianEigenvalues:0.7,2.2")

    if shared and os.path.isdir(os.path.join(shared, "peers")):
        sys.path.insert(0, os.path.join(shared, "peers"))
        import h5py
        import ilastik_core
        data = os.path.join(shared, "data", "ilastik_testdata", "inputdata")
        with h5py.File(os.path.join(data, "2d.h5"), "r") as f:
            raw = f["data"][300:500, 400:650]
        # ilastik_core.py uses VIGRA's float eigenvalue solver, as ilastik does.
        peer = dict(float_eigenvalues=True)
        save("ilastik_2d", raw[..., None], ilastik_core.features_multichannel(raw[..., None]), "all", **peer)
        with h5py.File(os.path.join(data, "3d.h5"), "r") as f:
            raw = f["data"][()]
        save("ilastik_3d", raw[..., None], ilastik_core.features_multichannel(raw[..., None]), "all", **peer)
        with h5py.File(os.path.join(data, "2d3c.h5"), "r") as f:
            raw = f["data"][()]
        save("ilastik_2d3c", raw, ilastik_core.features_multichannel(raw), "all", **peer)

    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(cases, f, indent=1)


if __name__ == "__main__":
    main()
