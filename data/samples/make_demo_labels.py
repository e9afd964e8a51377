#!/usr/bin/python3
"""Writes nuclei_labels.png: a few brush strokes on nuclei.png, as a user would paint them
(0 = unlabelled, 1 = background, 2 = nucleus). Derived from nuclei_truth.png with a fixed
choice of strokes, so rerunning gives the same file. Used by `make demo` and the tests."""
import pathlib

import numpy as np
from PIL import Image
from scipy import ndimage

here = pathlib.Path(__file__).parent
truth = np.asarray(Image.open(here / "nuclei_truth.png"))
labels = np.zeros(truth.shape, np.uint8)

# Nucleus strokes: a short line through the middle of every fourth nucleus.
ids = [i for i in np.unique(truth) if i != 0]
for i in ids[::4]:
    ys, xs = np.nonzero(truth == i)
    cy, cx = int(ys.mean()), int(xs.mean())
    inside = ndimage.binary_erosion(truth == i, iterations=2)
    for dx in range(-6, 7):
        if 0 <= cx + dx < truth.shape[1] and inside[cy, cx + dx]:
            labels[cy, cx + dx] = 2
            if cy + 1 < truth.shape[0] and inside[cy + 1, cx + dx]:
                labels[cy + 1, cx + dx] = 2

# Background strokes: three lines across the image, kept well away from every nucleus.
far = ndimage.distance_transform_edt(truth == 0) > 4
for row in (40, 190, 330):
    labels[row:row + 2][far[row:row + 2]] = 1

Image.fromarray(labels).save(here / "nuclei_labels.png", optimize=True)
print("nuclei_labels.png:", int((labels == 1).sum()), "background and", int((labels == 2).sum()), "nucleus pixels")
