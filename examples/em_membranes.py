#!/usr/bin/env python3
"""Membranes in electron microscopy with grove from Python: train a pixel classifier on a few
slices of the ISBI 2012 EM stack with sparse, brush-like labels, predict a slice it has not
seen, and plot the result.

The labels are made from the dense ground truth the way a person would paint them: short
strokes (random walks a few pixels wide) inside membranes and inside cells, covering about 1.5% of
the pixels. The prediction of a held-out slice is compared with its ground truth.

Run from the repository root, with the module built (make):

    PYTHONPATH=build/python /usr/bin/python3 examples/em_membranes.py --output em_membranes.png

Data: ../shared/data/pixel_classification/isbi2012_em_membranes (Cardona et al. 2010; ISBI
2012 challenge), slices image/NN.png (512 × 512 uint8) with ground truth label/NN.png
(0 = membrane, 255 = cell interior).
"""

import argparse
import pathlib
import time

import numpy as np

import grove

REPO = pathlib.Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "pixel_classification" / "isbi2012_em_membranes"

MEMBRANE, CELL = 1, 2  # label values: class 1 and class 2


def brush_strokes(truth, rng, strokes_per_class=40, steps=25, radius=1):
    """Sparse labels like brush strokes: random walks that stay inside one class of the dense
    ground truth, painted with a small square brush."""
    labels = np.zeros(truth.shape, np.uint8)
    height, width = truth.shape
    for value, mask in ((MEMBRANE, truth == 0), (CELL, truth == 255)):
        candidates = np.argwhere(mask)
        for start in candidates[rng.choice(len(candidates), strokes_per_class, replace=False)]:
            y, x = start
            direction = rng.normal(size=2)
            for _ in range(steps):
                y0, y1 = max(0, y - radius), min(height, y + radius + 1)
                x0, x1 = max(0, x - radius), min(width, x + radius + 1)
                patch = mask[y0:y1, x0:x1]
                labels[y0:y1, x0:x1][patch] = value  # paint only inside the class
                direction = direction / np.linalg.norm(direction) + 0.6 * rng.normal(size=2)
                ny, nx = int(round(y + direction[0])), int(round(x + direction[1]))
                if not (0 <= ny < height and 0 <= nx < width) or not mask[ny, nx]:
                    break
                y, x = ny, nx
    return labels


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="em_membranes.png", help="PNG to write")
    parser.add_argument("--train", default="0,1,2", help="slices to train on")
    parser.add_argument("--test", type=int, default=10, help="slice to predict")
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()

    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "ps", "cairo"):
        matplotlib.use("Agg")  # the script writes a file; it needs no window
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(arguments.seed)
    project = grove.Project.create(features="all", n_trees=arguments.trees, seed=arguments.seed,
                                   classes=["membrane", "cell"])
    for index in (int(s) for s in arguments.train.split(",")):
        truth = grove.read(DATA / "label" / f"{index:02d}.png", axes="yx")
        labels = brush_strokes(truth, rng)
        # The image is added by path: the saved project would keep it.
        project.add_image(DATA / "image" / f"{index:02d}.png", labels=labels)
    start = time.perf_counter()
    report = project.train()
    print(f"trained on {report['labelled_pixels']} labelled pixels "
          f"({report['labelled_pixels'] / (512 * 512 * len(project.images)):.2%} of the pixels) "
          f"in {time.perf_counter() - start:.1f} s")

    raw = grove.read(DATA / "image" / f"{arguments.test:02d}.png", axes="yx")
    truth = grove.read(DATA / "label" / f"{arguments.test:02d}.png", axes="yx")
    start = time.perf_counter()
    probabilities = project.predict(raw, axes="yx")
    print(f"predicted slice {arguments.test} in {time.perf_counter() - start:.2f} s")
    membrane = probabilities[..., 0]
    accuracy = np.mean((membrane > 0.5) == (truth == 0))
    print(f"pixel accuracy on slice {arguments.test} (not trained on): {accuracy:.3f}")

    figure, axes = plt.subplots(2, 2, figsize=(10, 10), constrained_layout=True)
    axes[0, 0].imshow(raw, cmap="gray")
    axes[0, 0].set_title(f"slice {arguments.test} (predicted, not trained on)")
    first_index = int(arguments.train.split(",")[0])
    first = grove.read(DATA / "image" / f"{first_index:02d}.png", axes="yx")
    strokes = np.ma.masked_equal(project.labels(0), 0)
    axes[0, 1].imshow(first, cmap="gray")
    axes[0, 1].imshow(strokes, cmap=matplotlib.colors.ListedColormap(["red", "lime"]),
                      vmin=1, vmax=2, interpolation="nearest")
    axes[0, 1].set_title(f"strokes on training slice {first_index} (red: membrane, green: cell)")
    shown = axes[1, 0].imshow(membrane, cmap="magma", vmin=0, vmax=1)
    axes[1, 0].set_title("grove: membrane probability")
    figure.colorbar(shown, ax=axes[1, 0], shrink=0.8)
    axes[1, 1].imshow(truth == 0, cmap="gray_r")
    axes[1, 1].set_title(f"ground truth membranes (accuracy {accuracy:.1%})")
    for axis in axes.flat:
        axis.set_axis_off()
    figure.savefig(arguments.output, dpi=80)
    print(f"wrote {arguments.output}")
    return accuracy


if __name__ == "__main__":
    main()
