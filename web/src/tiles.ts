// The tile store: fetches tiles from the server in priority order (what is on screen first),
// cancels the ones that left the screen, keeps a bounded cache, and turns tile pixels into
// canvases with the current contrast and colours. Stale tiles (an older prediction, labels
// before an edit) stay on screen until their replacement arrives, so nothing flickers.

import { api, fetchTile, type Layer, type Plane, type TileData, type TileParams } from "./api";

// 512: a 1-Mpx viewport is 6 tiles, not 24, so a live update is a few round trips over the 4
// connections below (measured on 2d.h5 with all features, 100 trees, 2 threads: complete
// viewport update 1460 ms with 256-pixel tiles, 933 ms with 512).
export const TILE_SIZE = 512;
// Browsers open 6 connections per host over HTTP/1.1: one holds the event stream, four load
// tiles, and one stays free so that strokes and other edits never queue behind slow tiles.
const MAX_IN_FLIGHT = 4;
const MAX_TILES = 500;

export interface TileAddress {
  image: number;
  layer: Layer;
  plane: Plane;
  t: number;
  slice: number;
  level: number;
  u: number; // tile column (in tiles)
  v: number; // tile row
  channel: number;
  stage?: number; // autocontext: whose labels or prediction (from 1); absent: the selected one
}

export function tileKey(a: TileAddress): string {
  return `${a.image}/${a.layer}/${a.plane}/${a.t}/${a.slice}/${a.level}/${a.u}/${a.v}/${a.channel}/${a.stage ?? 0}`;
}

export interface TileEntry {
  key: string;
  address: TileAddress;
  data: TileData | null; // last pixels received (possibly stale)
  empty: boolean; // the server had nothing to show (no classifier yet)
  canvas: HTMLCanvasElement | null;
  canvasStyle: string; // the style the canvas was painted with
  loading: boolean;
  stale: boolean; // a newer version is wanted
  failed: boolean;
  wantedAt: number; // frame number when last wanted
  priority: number;
  controller: AbortController | null;
  rid: string;
  receivedAt: number;
}

// Turns pixels into RGBA for one layer; the store calls it when the data or the style changes.
export type Painter = (data: TileData, image: ImageData) => void;

let requestCounter = 0;
const sessionPrefix = Math.random().toString(36).slice(2, 8);

export class TileStore {
  private tiles = new Map<string, TileEntry>();
  private frame = 0;
  private inFlight = 0;
  private pumpScheduled = false;
  private cancelBatch: string[] = [];
  onTile: (entry: TileEntry) => void = () => {};
  onError: (message: string) => void = () => {};

  // Starts a frame of wants; tiles not wanted for a few frames are cancelled if loading.
  beginFrame(): number {
    return ++this.frame;
  }

  // Asks for a tile in this frame; returns the entry (with whatever it holds so far).
  want(address: TileAddress, priority: number): TileEntry {
    const key = tileKey(address);
    let entry = this.tiles.get(key);
    if (!entry) {
      entry = {
        key,
        address,
        data: null,
        empty: false,
        canvas: null,
        canvasStyle: "",
        loading: false,
        stale: true,
        failed: false,
        wantedAt: this.frame,
        priority,
        controller: null,
        rid: "",
        receivedAt: 0,
      };
      this.tiles.set(key, entry);
    } else {
      // Refresh its place in the LRU order.
      this.tiles.delete(key);
      this.tiles.set(key, entry);
    }
    entry.wantedAt = this.frame;
    entry.priority = priority;
    if (entry.stale && !entry.loading && !entry.failed) this.schedulePump();
    return entry;
  }

  peek(address: TileAddress): TileEntry | undefined {
    return this.tiles.get(tileKey(address));
  }

  // Marks matching tiles stale: they are fetched again when next wanted.
  invalidate(match: (address: TileAddress) => boolean): void {
    for (const entry of this.tiles.values()) {
      if (!match(entry.address)) continue;
      entry.stale = true;
      entry.failed = false;
      if (entry.loading) this.abort(entry); // its answer would already be outdated
    }
    this.schedulePump();
  }

  // Cancels loads that are no longer on screen (not wanted in the current frame).
  endFrame(): void {
    for (const entry of this.tiles.values()) {
      if (entry.loading && entry.wantedAt < this.frame) this.abort(entry);
    }
    this.flushCancels();
    this.evict();
    this.schedulePump();
  }

  // Whether every wanted tile of a layer has current data (for progress and the benchmark).
  pendingCount(match: (address: TileAddress) => boolean): number {
    let count = 0;
    for (const entry of this.tiles.values()) {
      if (entry.wantedAt === this.frame && match(entry.address) && (entry.stale || entry.loading)) {
        count++;
      }
    }
    return count;
  }

  // The canvas of a tile painted with `style`, repainting it when the style changed.
  canvasFor(entry: TileEntry, style: string, painter: Painter): HTMLCanvasElement | null {
    const data = entry.data;
    if (!data) return null;
    if (entry.canvas && entry.canvasStyle === style) return entry.canvas;
    const canvas = entry.canvas ?? document.createElement("canvas");
    if (canvas.width !== data.width || canvas.height !== data.height) {
      canvas.width = data.width;
      canvas.height = data.height;
    }
    const context = canvas.getContext("2d")!;
    const image = context.createImageData(data.width, data.height);
    painter(data, image);
    context.putImageData(image, 0, 0);
    entry.canvas = canvas;
    entry.canvasStyle = style;
    return canvas;
  }

  private abort(entry: TileEntry): void {
    if (!entry.controller) return;
    entry.controller.abort();
    entry.controller = null;
    entry.loading = false;
    entry.stale = true;
    this.inFlight--;
    this.cancelBatch.push(entry.rid);
  }

  private flushCancels(): void {
    if (this.cancelBatch.length === 0) return;
    const ids = this.cancelBatch;
    this.cancelBatch = [];
    api.cancelTiles(ids).catch(() => {});
  }

  private evict(): void {
    if (this.tiles.size <= MAX_TILES) return;
    for (const [key, entry] of this.tiles) {
      if (this.tiles.size <= MAX_TILES) break;
      if (entry.wantedAt >= this.frame - 1 || entry.loading) continue;
      this.tiles.delete(key);
    }
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    if (this.inFlight >= MAX_IN_FLIGHT) return;
    const waiting: TileEntry[] = [];
    for (const entry of this.tiles.values()) {
      if (entry.stale && !entry.loading && !entry.failed && entry.wantedAt >= this.frame - 1) {
        waiting.push(entry);
      }
    }
    waiting.sort((a, b) => b.priority - a.priority);
    for (const entry of waiting) {
      if (this.inFlight >= MAX_IN_FLIGHT) break;
      this.load(entry);
    }
  }

  private load(entry: TileEntry): void {
    const a = entry.address;
    const controller = new AbortController();
    entry.controller = controller;
    entry.loading = true;
    entry.stale = false;
    entry.rid = `${sessionPrefix}-${++requestCounter}`;
    this.inFlight++;
    const params: TileParams = {
      image: a.image,
      layer: a.layer,
      plane: a.plane,
      t: a.t,
      slice: a.slice,
      level: a.level,
      u: a.u * TILE_SIZE,
      v: a.v * TILE_SIZE,
      w: TILE_SIZE,
      h: TILE_SIZE,
      channel: a.channel,
      priority: entry.priority,
      rid: entry.rid,
    };
    if (a.stage !== undefined) params.stage = a.stage;
    fetchTile(params, controller.signal)
      .then((data) => {
        if (entry.controller !== controller) return; // aborted meanwhile
        entry.controller = null;
        entry.loading = false;
        this.inFlight--;
        if (entry.stale) {
          // Invalidated while loading: this answer is outdated; fetch again.
          this.schedulePump();
          return;
        }
        entry.data = data;
        entry.empty = data === null;
        entry.canvasStyle = ""; // repaint
        entry.receivedAt = performance.now();
        this.onTile(entry);
        this.schedulePump();
      })
      .catch((error: unknown) => {
        if (entry.controller !== controller) return;
        entry.controller = null;
        entry.loading = false;
        this.inFlight--;
        if ((error as { name?: string }).name === "AbortError") return;
        entry.failed = true;
        this.onError(`Loading a ${a.layer} tile failed: ${(error as Error).message}`);
        this.schedulePump();
      });
  }
}
