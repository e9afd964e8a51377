// Colouring of tile pixels: contrast and channel colours for the raw image, class colours for
// labels, predictions and segmentations. Each painter has a style string; when it changes, the
// tile store repaints the tile's canvas.

import type { TileData } from "./api";

export type RGB = [number, number, number];

export function hexToRgb(hex: string): RGB {
  const value = parseInt(hex.slice(1), 16);
  return [(value >> 16) & 255, (value >> 8) & 255, value & 255];
}

export interface ChannelDisplay {
  min: number;
  max: number;
  color: RGB;
  visible: boolean;
}

// Raw image: each visible channel mapped linearly from [min, max] to [0, 1], times its colour,
// added up (a composite as in Fiji).
export function rawPainter(channels: ChannelDisplay[]) {
  return (data: TileData, image: ImageData) => {
    const out = image.data;
    const n = data.width * data.height;
    const c = data.channels;
    const pixels = data.pixels;
    for (let i = 0; i < n; i++) {
      let r = 0,
        g = 0,
        b = 0;
      for (let k = 0; k < c; k++) {
        const display = channels[k];
        if (!display || !display.visible) continue;
        const range = display.max - display.min || 1;
        let value = (pixels[i * c + k] - display.min) / range;
        value = value < 0 ? 0 : value > 1 ? 1 : value;
        r += value * display.color[0];
        g += value * display.color[1];
        b += value * display.color[2];
      }
      out[i * 4] = r;
      out[i * 4 + 1] = g;
      out[i * 4 + 2] = b;
      out[i * 4 + 3] = 255;
    }
  };
}

// Labels and segmentations: one colour per label value, 0 transparent.
export function labelPainter(colors: RGB[]) {
  return (data: TileData, image: ImageData) => {
    const out = image.data;
    const n = data.width * data.height;
    for (let i = 0; i < n; i++) {
      const label = data.pixels[i];
      const color = label > 0 ? colors[label - 1] : undefined;
      if (!color) {
        out[i * 4 + 3] = 0;
        continue;
      }
      out[i * 4] = color[0];
      out[i * 4 + 1] = color[1];
      out[i * 4 + 2] = color[2];
      out[i * 4 + 3] = 255;
    }
  };
}

// Probabilities: the class colours weighted by their probabilities (as ilastik blends them).
export function probabilityPainter(colors: RGB[]) {
  return (data: TileData, image: ImageData) => {
    const out = image.data;
    const n = data.width * data.height;
    const c = data.channels;
    const pixels = data.pixels;
    for (let i = 0; i < n; i++) {
      let r = 0,
        g = 0,
        b = 0;
      for (let k = 0; k < c; k++) {
        const color = colors[k];
        if (!color) continue;
        const p = pixels[i * c + k] / 255;
        r += p * color[0];
        g += p * color[1];
        b += p * color[2];
      }
      out[i * 4] = r;
      out[i * 4 + 1] = g;
      out[i * 4 + 2] = b;
      out[i * 4 + 3] = 255;
    }
  };
}

// Uncertainty: transparent where the classifier is sure, bright amber where it hesitates.
export function uncertaintyPainter() {
  return (data: TileData, image: ImageData) => {
    const out = image.data;
    const n = data.width * data.height;
    for (let i = 0; i < n; i++) {
      const u = data.pixels[i];
      out[i * 4] = 255;
      out[i * 4 + 1] = 190;
      out[i * 4 + 2] = 30;
      out[i * 4 + 3] = u;
    }
  };
}
