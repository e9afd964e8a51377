// The page's side of grove's HTTP API (docs/http-api.md): typed calls, the binary tile format,
// and the server-sent event stream. The access token travels in an HttpOnly cookie that the
// server set when the page was opened with ?token=..., so nothing here handles it.

export type Plane = "xy" | "xz" | "yz";
export type Layer = "raw" | "labels" | "probabilities" | "segmentation" | "uncertainty";

export interface ImageInfo {
  id: number;
  name: string;
  path: string;
  shape: [number, number, number, number, number]; // t, z, y, x, c
  dtype: string;
  axes: string;
  pixel_size: number[];
  pixel_unit: string[];
  has_pixel_size: boolean;
  labelled_pixels: number;
}

export interface LabelClass {
  label: number;
  name: string;
  color: string;
}

export interface FeatureSelection {
  families: string[];
  scales: number[];
  selected: boolean[][];
  in_2d: boolean[];
}

export interface ProjectState {
  path: string;
  name: string;
  dirty: boolean;
  classes: LabelClass[];
  images: ImageInfo[];
  features: FeatureSelection;
  live_update: boolean;
  trained: boolean;
  generation: number;
  can_undo: boolean;
  can_redo: boolean;
  training: { state: string; message: string };
  root: string;
  // Autocontext projects: the number of stages and the selected one (from 1); absent or 1 for
  // pixel classification. Labels, classes, features and prediction are the selected stage's.
  stages?: number;
  stage?: number;
}

export interface Box {
  begin: number[];
  end: number[];
}

export interface LabelChange {
  image: number | null;
  box: Box;
}

export interface Job {
  id: string;
  kind: string;
  state: "running" | "succeeded" | "failed" | "cancelled";
  done: number;
  total: number;
  label: string;
  message: string;
  outputs: string[];
}

export interface FeatureImportance {
  family: string;
  scale: number;
  channel: number;
  component: number;
  in_2d: boolean;
  importance: number;
}

export interface FileEntry {
  name: string;
  type: "dir" | "file";
  size?: number;
}

export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
  ) {
    super(message);
  }
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, credentials: "same-origin" };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { "Content-Type": "application/json" };
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const message =
      data && typeof data === "object" && "error" in data
        ? String((data as { error: unknown }).error)
        : `${response.status} ${response.statusText}`;
    if (response.status === 401) {
      throw new ApiError(401, "Access token missing: open the address printed by grove serve.");
    }
    throw new ApiError(response.status, message);
  }
  return data as T;
}

export const api = {
  project: () => request<ProjectState>("GET", "/api/project"),
  save: (path?: string) => request<{ job: string }>("POST", "/api/save", path ? { path } : {}),
  files: (dir: string) =>
    request<{ dir: string; entries: FileEntry[] }>(
      "GET",
      `/api/files?dir=${encodeURIComponent(dir)}`,
    ),
  addImage: (path: string) => request<ImageInfo>("POST", "/api/images", { path }),
  removeImage: (id: number) => request<unknown>("DELETE", `/api/images/${id}`),
  range: (id: number, channel: number) =>
    request<{ min: number; max: number; low: number; high: number }>(
      "GET",
      `/api/images/${id}/range?channel=${channel}`,
    ),
  addClass: (name?: string, color?: string) =>
    request<{ label: number }>("POST", "/api/classes", { name, color }),
  updateClass: (label: number, change: { name?: string; color?: string }) =>
    request<unknown>("PATCH", `/api/classes/${label}`, change),
  removeClass: (label: number) => request<unknown>("DELETE", `/api/classes/${label}`),
  stroke: (stroke: {
    image: number;
    plane: Plane;
    t: number;
    slice: number;
    label: number;
    radius: number;
    points: [number, number][];
  }) => request<LabelChange>("POST", "/api/labels/stroke", stroke),
  undo: () => request<LabelChange>("POST", "/api/labels/undo", {}),
  redo: () => request<LabelChange>("POST", "/api/labels/redo", {}),
  clear: (image: number | null, label = 0) =>
    request<{ changes: LabelChange[] }>("POST", "/api/labels/clear", { image, label }),
  setLiveUpdate: (on: boolean) => request<unknown>("POST", "/api/live-update", { on }),
  train: () => request<unknown>("POST", "/api/train", {}),
  selectStage: (stage: number) => request<{ stage: number }>("POST", "/api/stage", { stage }),
  setStageCount: (count: number) => request<{ stages: number }>("POST", "/api/stages", { count }),
  setFeatures: (features: { selected: boolean[][]; in_2d: boolean[] }) =>
    request<FeatureSelection>("PUT", "/api/features", features),
  importance: () => request<{ features: FeatureImportance[] }>("GET", "/api/feature-importance"),
  export: (options: {
    images: number[] | null;
    source: string;
    format: string;
    output: string;
    overwrite: boolean;
  }) => request<{ job: string }>("POST", "/api/export", options),
  jobs: () => request<{ jobs: Job[] }>("GET", "/api/jobs"),
  cancelJob: (id: string) => request<unknown>("POST", `/api/jobs/${id}/cancel`, {}),
  cancelTiles: (ids: string[]) => request<unknown>("POST", "/api/tiles/cancel", { ids }),
};

// ---- tiles

export interface TileData {
  dtype: "uint8" | "uint16" | "float32";
  channels: number;
  width: number;
  height: number;
  generation: number;
  level: number;
  pixels: Uint8Array | Uint16Array | Float32Array;
}

export interface TileParams {
  image: number;
  layer: Layer;
  plane: Plane;
  t: number;
  slice: number;
  level: number;
  u: number; // level pixels
  v: number;
  w: number;
  h: number;
  channel: number;
  priority: number;
  rid: string;
  stage?: number; // from 1; absent: the selected stage
}

// Parses the 32-byte header and the pixels (see apps/server/tile_encoding.h).
export function decodeTile(buffer: ArrayBuffer): TileData {
  const view = new DataView(buffer);
  const magic = String.fromCharCode(
    view.getUint8(0),
    view.getUint8(1),
    view.getUint8(2),
    view.getUint8(3),
  );
  if (magic !== "GRVT") throw new Error("not a grove tile");
  const code = view.getUint8(5);
  const channels = view.getUint16(6, true);
  const width = view.getUint32(8, true);
  const height = view.getUint32(12, true);
  const generation = Number(view.getBigUint64(16, true));
  const level = view.getUint16(24, true);
  const count = width * height * channels;
  const body = buffer.slice(32);
  let pixels: Uint8Array | Uint16Array | Float32Array;
  let dtype: TileData["dtype"];
  if (code === 1) {
    dtype = "uint8";
    pixels = new Uint8Array(body, 0, count);
  } else if (code === 2) {
    dtype = "uint16";
    pixels = new Uint16Array(body, 0, count);
  } else {
    dtype = "float32";
    pixels = new Float32Array(body, 0, count);
  }
  return { dtype, channels, width, height, generation, level, pixels };
}

// Fetches a tile; null when the server has nothing to show yet (204: no classifier).
export async function fetchTile(params: TileParams, signal: AbortSignal): Promise<TileData | null> {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) query.set(key, String(value));
  const response = await fetch(`/api/tile?${query}`, { signal, credentials: "same-origin" });
  if (response.status === 204) return null;
  if (!response.ok) {
    let message = `${response.status}`;
    try {
      message = (await response.json()).error ?? message;
    } catch {
      /* not JSON */
    }
    throw new ApiError(response.status, message);
  }
  return decodeTile(await response.arrayBuffer());
}

// ---- pushes

export type EventHandler = (event: string, data: any) => void;

// Opens the event stream; EventSource reconnects by itself after a network hiccup.
export function openEvents(handler: EventHandler, onState: (open: boolean) => void): EventSource {
  const source = new EventSource("/api/events", { withCredentials: true });
  for (const name of ["hello", "training", "prediction", "labels", "project", "job", "error"]) {
    source.addEventListener(name, (message) => {
      let data: unknown = null;
      try {
        data = JSON.parse((message as MessageEvent).data);
      } catch {
        data = null;
      }
      handler(name, data);
    });
  }
  source.onopen = () => onState(true);
  source.onerror = () => onState(false);
  return source;
}
