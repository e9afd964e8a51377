#!/usr/bin/env python3
"""Generates nuclei.png (and nuclei_truth.png): a synthetic fluorescence-like image of cell
nuclei for grove's demo and tests. Our own work, dedicated to the public domain (CC0).

Bright, smooth, slightly textured ellipses (nuclei) on a dim uneven background, blurred like a
widefield microscope and with shot noise; the truth image marks each nucleus with its number.
Deterministic (fixed seed), needs numpy and PIL. Run: python3 make_nuclei.py [OUTPUT_DIR]
"""
import pathlib
import sys

import numpy as np
from PIL import Image

SIZE = 384
NUCLEI = 42
rng = np.random.default_rng(20240611)


def gaussian_blur(image, sigma):
    """Separable Gaussian blur with reflected borders."""
    radius = int(3 * sigma + 0.5)
    x = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    kernel /= kernel.sum()
    out = image
    for axis in (0, 1):
        padded = np.pad(out, [(radius, radius) if a == axis else (0, 0) for a in (0, 1)], mode="reflect")
        out = np.apply_along_axis(lambda line: np.convolve(line, kernel, mode="valid"), axis, padded)
    return out


yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
truth = np.zeros((SIZE, SIZE), np.uint8)
signal = np.zeros((SIZE, SIZE))
placed = []
while len(placed) < NUCLEI:
    cy, cx = rng.uniform(18, SIZE - 18, 2)
    a, b = rng.uniform(9, 17), rng.uniform(7, 13)
    if any((cy - py) ** 2 + (cx - px) ** 2 < (a + pa + 3) ** 2 for py, px, pa in placed):
        continue
    angle = rng.uniform(0, np.pi)
    u = (xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle)
    v = -(xx - cx) * np.sin(angle) + (yy - cy) * np.cos(angle)
    r = (u / a) ** 2 + (v / b) ** 2
    inside = r <= 1.0
    placed.append((cy, cx, a))
    truth[inside] = len(placed)
    brightness = rng.uniform(0.55, 1.0)
    # Brighter towards the centre, like a nucleus seen in widefield.
    signal += inside * brightness * (0.75 + 0.25 * np.clip(1.0 - r, 0.0, 1.0))

texture = gaussian_blur(rng.standard_normal((SIZE, SIZE)), 1.5)
signal *= 1.0 + 0.35 * texture / texture.std()
background = 0.08 + 0.05 * np.sin(xx / 97.0) * np.cos(yy / 131.0)
image = gaussian_blur(signal, 1.2) + background
photons = rng.poisson(np.clip(image, 0, None) * 60.0) / 60.0
out = np.clip(photons * 200.0 + 8.0, 0, 255).astype(np.uint8)

target = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parent)
Image.fromarray(out).save(target / "nuclei.png", optimize=True)
Image.fromarray(truth).save(target / "nuclei_truth.png", optimize=True)
print(f"wrote {target / 'nuclei.png'} ({SIZE}x{SIZE}, {NUCLEI} nuclei) and nuclei_truth.png")
