// One slice view (XY, XZ or YZ): draws the tiles of the raw image and the overlay layers at the
// zoom level that matches the screen, pans and zooms smoothly, paints brush strokes, and shows
// the linked cursor of the three views. The App owns the state; a view only reads it.

import type { ImageInfo, Layer, Plane } from "./api";
import type { Painter } from "./tiles";
import { TILE_SIZE, TileStore, type TileAddress } from "./tiles";

export type Tool = "brush" | "eraser" | "pan";

export interface Cursor {
  t: number;
  z: number;
  y: number;
  x: number;
}

export interface LayerStyle {
  layer: Layer;
  channel: number;
  style: string;
  painter: Painter;
  opacity: number;
  priority: number;
  stage?: number; // autocontext: the stage whose labels or prediction the layer shows
}

// What a view needs from the app.
export interface ViewerHost {
  store: TileStore;
  image(): ImageInfo | null;
  cursor(): Cursor;
  tool(): Tool;
  brushSize(): number;
  brushColor(): string;
  layers(): LayerStyle[];
  stroke(view: SliceView, points: [number, number][], radius: number): Promise<void>;
  setCursor(plane: Plane, u: number, v: number): void;
  hover(plane: Plane, u: number, v: number, inside: boolean): void;
  requestRender(): void;
  viewChanged(view: SliceView): void;
}

const PLANE_TITLES: Record<Plane, string> = { xy: "XY", xz: "XZ", yz: "YZ" };
const CROSSHAIR: Record<Plane, string> = { xy: "#4fc3f7", xz: "#81c784", yz: "#ffb74d" };

export function planeExtent(image: ImageInfo, plane: Plane): [number, number] {
  const [, z, y, x] = image.shape;
  return plane === "xy" ? [x, y] : plane === "xz" ? [x, z] : [z, y];
}

export function planeSlice(cursor: Cursor, plane: Plane): number {
  return plane === "xy" ? cursor.z : plane === "xz" ? cursor.y : cursor.x;
}

interface PendingStroke {
  points: [number, number][];
  radius: number;
  color: string;
  done: boolean;
}

export class SliceView {
  readonly element: HTMLDivElement;
  readonly canvas: HTMLCanvasElement;
  private context: CanvasRenderingContext2D;
  private label: HTMLDivElement;
  scale = 1; // screen pixels per image pixel
  offsetU = 0; // image coordinate at the left edge
  offsetV = 0;
  private width = 1;
  private height = 1;
  private fitted = false;
  private userMoved = false; // after a pan or zoom, resizing keeps the user's view
  private pointer: { x: number; y: number } | null = null;
  private stroke: PendingStroke | null = null;
  private pending: PendingStroke[] = [];
  private panning: { x: number; y: number; u: number; v: number } | null = null;
  private spaceHeld = false;

  constructor(
    readonly plane: Plane,
    private host: ViewerHost,
  ) {
    this.element = document.createElement("div");
    this.element.className = "slice-view";
    this.element.dataset.plane = plane;
    this.canvas = document.createElement("canvas");
    this.canvas.tabIndex = 0;
    this.element.appendChild(this.canvas);
    this.label = document.createElement("div");
    this.label.className = "slice-label";
    this.label.textContent = PLANE_TITLES[plane];
    this.element.appendChild(this.label);
    this.context = this.canvas.getContext("2d")!;
    new ResizeObserver(() => this.resize()).observe(this.element);
    this.installInput();
  }

  resetFit(): void {
    this.fitted = false;
    this.userMoved = false;
    this.host.requestRender();
  }

  // Screen position (CSS pixels in the canvas) of plane coordinates, and back.
  toScreen(u: number, v: number): [number, number] {
    return [(u - this.offsetU) * this.scale, (v - this.offsetV) * this.scale];
  }
  toPlane(x: number, y: number): [number, number] {
    return [x / this.scale + this.offsetU, y / this.scale + this.offsetV];
  }

  zoomBy(factor: number, x = this.width / 2, y = this.height / 2): void {
    const [u, v] = this.toPlane(x, y);
    this.scale = Math.min(64, Math.max(1 / 256, this.scale * factor));
    this.userMoved = true;
    this.offsetU = u - x / this.scale;
    this.offsetV = v - y / this.scale;
    this.host.viewChanged(this);
    this.host.requestRender();
  }

  fit(): void {
    const image = this.host.image();
    if (!image || this.width < 8 || this.height < 8) return; // not laid out yet
    this.userMoved = false;
    const [w, h] = planeExtent(image, this.plane);
    this.scale = Math.min(this.width / w, this.height / h) * 0.96;
    this.offsetU = w / 2 - this.width / 2 / this.scale;
    this.offsetV = h / 2 - this.height / 2 / this.scale;
    this.fitted = true;
    this.host.viewChanged(this);
  }

  private resize(): void {
    const rect = this.element.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    this.width = Math.max(1, rect.width);
    this.height = Math.max(1, rect.height);
    this.canvas.width = Math.round(this.width * ratio);
    this.canvas.height = Math.round(this.height * ratio);
    this.canvas.style.width = `${this.width}px`;
    this.canvas.style.height = `${this.height}px`;
    if (!this.fitted || !this.userMoved) this.fit();
    this.host.requestRender();
  }

  // The zoom level whose pixels are closest to (not coarser than) the screen's.
  level(): number {
    const image = this.host.image();
    if (!image) return 0;
    const [w, h] = planeExtent(image, this.plane);
    const maxLevel = Math.max(0, Math.ceil(Math.log2(Math.max(w, h) / TILE_SIZE)));
    const level = Math.floor(Math.log2(1 / this.scale));
    return Math.max(0, Math.min(maxLevel, level));
  }

  // Draws the view; called by the app inside one tile-store frame for all views.
  draw(): void {
    const ratio = window.devicePixelRatio || 1;
    const context = this.context;
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.fillStyle = "#0d1014";
    context.fillRect(0, 0, this.width, this.height);
    const image = this.host.image();
    if (!image) return;
    if (!this.fitted) this.fit();
    const [w, h] = planeExtent(image, this.plane);
    const cursor = this.host.cursor();
    const slice = planeSlice(cursor, this.plane);
    const level = this.level();
    const step = TILE_SIZE << level; // image pixels per tile
    const [u0, v0] = this.toPlane(0, 0);
    const [u1, v1] = this.toPlane(this.width, this.height);
    const first = [Math.max(0, Math.floor(u0 / step)), Math.max(0, Math.floor(v0 / step))];
    const last = [
      Math.min(Math.ceil(w / step) - 1, Math.floor(u1 / step)),
      Math.min(Math.ceil(h / step) - 1, Math.floor(v1 / step)),
    ];
    // Tiles nearest the centre first.
    const centre = [(u0 + u1) / 2 / step - 0.5, (v0 + v1) / 2 / step - 0.5];
    const order: [number, number, number][] = [];
    for (let tv = first[1]; tv <= last[1]; tv++) {
      for (let tu = first[0]; tu <= last[0]; tu++) {
        order.push([tu, tv, Math.hypot(tu - centre[0], tv - centre[1])]);
      }
    }
    order.sort((a, b) => a[2] - b[2]);

    // The image's outline, so the extent is clear before tiles arrive.
    const [sx0, sy0] = this.toScreen(0, 0);
    const [sx1, sy1] = this.toScreen(w, h);
    context.fillStyle = "#161b22";
    context.fillRect(sx0, sy0, sx1 - sx0, sy1 - sy0);

    for (const layer of this.host.layers()) {
      context.globalAlpha = layer.opacity;
      context.imageSmoothingEnabled = this.scale * (1 << level) < 1;
      order.forEach(([tu, tv], rank) => {
        const address: TileAddress = {
          image: image.id,
          layer: layer.layer,
          plane: this.plane,
          t: cursor.t,
          slice,
          level,
          u: tu,
          v: tv,
          channel: layer.channel,
        };
        if (layer.stage !== undefined) address.stage = layer.stage;
        const entry = this.host.store.want(address, layer.priority - rank);
        const canvas = this.host.store.canvasFor(entry, layer.style, layer.painter);
        const [x, y] = this.toScreen(tu * step, tv * step);
        if (canvas) {
          const size = this.scale * (1 << level);
          context.drawImage(canvas, x, y, canvas.width * size, canvas.height * size);
          return;
        }
        this.drawCoarser(address, layer, x, y, step);
      });
    }
    context.globalAlpha = 1;
    this.drawStrokes();
    this.drawCrosshair(image, cursor);
    this.drawBrush();
  }

  // While a tile loads, a coarser level's tile (if cached) stands in for it, clipped.
  private drawCoarser(address: TileAddress, layer: LayerStyle, x: number, y: number, step: number) {
    const context = this.context;
    for (let up = 1; up <= 4; up++) {
      const parent: TileAddress = {
        ...address,
        level: address.level + up,
        u: address.u >> up,
        v: address.v >> up,
      };
      const entry = this.host.store.peek(parent);
      if (!entry) continue;
      const canvas = this.host.store.canvasFor(entry, layer.style, layer.painter);
      if (!canvas) continue;
      const size = this.scale * (1 << parent.level);
      const [px, py] = this.toScreen(parent.u * (TILE_SIZE << parent.level), parent.v * (TILE_SIZE << parent.level));
      context.save();
      context.beginPath();
      context.rect(x, y, step * this.scale, step * this.scale);
      context.clip();
      context.drawImage(canvas, px, py, canvas.width * size, canvas.height * size);
      context.restore();
      return;
    }
  }

  private drawStrokes(): void {
    const context = this.context;
    const labelsPending =
      this.host.store.pendingCount((a) => a.layer === "labels" && a.plane === this.plane) > 0;
    if (!labelsPending) this.pending = this.pending.filter((stroke) => !stroke.done);
    for (const stroke of [...this.pending, ...(this.stroke ? [this.stroke] : [])]) {
      context.strokeStyle = stroke.color;
      context.fillStyle = stroke.color;
      context.globalAlpha = 0.75;
      context.lineCap = "round";
      context.lineJoin = "round";
      context.lineWidth = Math.max(1, stroke.radius * 2 * this.scale);
      context.beginPath();
      stroke.points.forEach(([u, v], i) => {
        const [x, y] = this.toScreen(u, v);
        if (i === 0) context.moveTo(x, y);
        else context.lineTo(x, y);
      });
      if (stroke.points.length === 1) {
        const [x, y] = this.toScreen(stroke.points[0][0], stroke.points[0][1]);
        context.arc(x, y, context.lineWidth / 2, 0, Math.PI * 2);
        context.fill();
      } else {
        context.stroke();
      }
    }
    context.globalAlpha = 1;
  }

  private drawCrosshair(image: ImageInfo, cursor: Cursor): void {
    if (image.shape[1] <= 1) return; // 2D: one view, no cursor lines
    const [cu, cv] =
      this.plane === "xy"
        ? [cursor.x, cursor.y]
        : this.plane === "xz"
          ? [cursor.x, cursor.z]
          : [cursor.z, cursor.y];
    const [x, y] = this.toScreen(cu + 0.5, cv + 0.5);
    const context = this.context;
    context.setLineDash([6, 4]);
    context.lineWidth = 1;
    context.strokeStyle = this.plane === "xy" ? CROSSHAIR.yz : CROSSHAIR.xy;
    context.beginPath();
    context.moveTo(x, 0);
    context.lineTo(x, this.height);
    context.stroke();
    context.strokeStyle = this.plane === "yz" ? CROSSHAIR.xz : this.plane === "xy" ? CROSSHAIR.xz : CROSSHAIR.xy;
    context.beginPath();
    context.moveTo(0, y);
    context.lineTo(this.width, y);
    context.stroke();
    context.setLineDash([]);
  }

  private drawBrush(): void {
    const tool = this.host.tool();
    if (!this.pointer || tool === "pan" || this.panning) return;
    const radius = Math.max(1.5, (this.host.brushSize() / 2) * this.scale);
    const context = this.context;
    context.lineWidth = 1.5;
    context.strokeStyle = tool === "eraser" ? "#ffffff" : this.host.brushColor();
    context.beginPath();
    context.arc(this.pointer.x, this.pointer.y, radius, 0, Math.PI * 2);
    context.stroke();
  }

  // ---- input

  private installInput(): void {
    const canvas = this.canvas;
    canvas.addEventListener("contextmenu", (event) => event.preventDefault());
    canvas.addEventListener("pointerdown", (event) => {
      canvas.focus();
      const [x, y] = this.local(event);
      const tool = this.host.tool();
      if (event.button === 0 && (event.ctrlKey || event.metaKey)) {
        // Ctrl+click moves the linked cursor, whatever the tool.
        const [u, v] = this.toPlane(x, y);
        this.host.setCursor(this.plane, Math.floor(u), Math.floor(v));
        event.preventDefault();
        return;
      }
      const wantsPan = event.button === 1 || event.button === 2 || tool === "pan" || this.spaceHeld;
      if (wantsPan) {
        this.panning = { x, y, u: this.offsetU, v: this.offsetV };
      } else if (event.button === 0 && this.host.image()) {
        const color = tool === "eraser" ? "#ffffff" : this.host.brushColor();
        const radius = this.host.brushSize() / 2;
        this.stroke = { points: [this.toPlane(x, y)], radius, color, done: false };
      } else {
        return;
      }
      canvas.setPointerCapture(event.pointerId);
      event.preventDefault();
      this.host.requestRender();
    });
    canvas.addEventListener("pointermove", (event) => {
      const [x, y] = this.local(event);
      this.pointer = { x, y };
      if (this.panning) {
        this.offsetU = this.panning.u - (x - this.panning.x) / this.scale;
        this.offsetV = this.panning.v - (y - this.panning.y) / this.scale;
        this.userMoved = true;
        this.host.viewChanged(this);
      } else if (this.stroke) {
        const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
        for (const sample of events.length ? events : [event]) {
          const point = this.toPlane(...this.local(sample));
          const lastPoint = this.stroke.points[this.stroke.points.length - 1];
          if (Math.hypot(point[0] - lastPoint[0], point[1] - lastPoint[1]) >= 0.3) {
            this.stroke.points.push(point);
          }
        }
      }
      const [u, v] = this.toPlane(x, y);
      const image = this.host.image();
      if (image) {
        const [w, h] = planeExtent(image, this.plane);
        this.host.hover(this.plane, Math.floor(u), Math.floor(v), u >= 0 && v >= 0 && u < w && v < h);
      }
      this.host.requestRender();
    });
    const finish = (event: PointerEvent) => {
      if (canvas.hasPointerCapture(event.pointerId)) canvas.releasePointerCapture(event.pointerId);
      if (this.panning) {
        // A click without a drag in the pan tool moves the linked cursor.
        const [x, y] = this.local(event);
        const still = Math.hypot(x - this.panning.x, y - this.panning.y) < 3;
        if (still && event.button === 0 && this.host.tool() === "pan") {
          const [u, v] = this.toPlane(x, y);
          this.host.setCursor(this.plane, Math.floor(u), Math.floor(v));
        }
        this.panning = null;
      } else if (this.stroke) {
        const stroke = this.stroke;
        this.stroke = null;
        this.pending.push(stroke);
        this.host
          .stroke(this, stroke.points, stroke.radius)
          .finally(() => {
            stroke.done = true;
            this.host.requestRender();
          });
      }
      this.host.requestRender();
    };
    canvas.addEventListener("pointerup", finish);
    canvas.addEventListener("pointercancel", finish);
    canvas.addEventListener("pointerleave", () => {
      this.pointer = null;
      this.host.requestRender();
    });
    canvas.addEventListener(
      "wheel",
      (event) => {
        event.preventDefault();
        const [x, y] = this.local(event);
        const delta = event.deltaMode === 1 ? event.deltaY * 16 : event.deltaY;
        this.zoomBy(Math.exp(-delta * 0.0015), x, y);
      },
      { passive: false },
    );
    window.addEventListener("keydown", (event) => {
      if (event.code === "Space" && document.activeElement === canvas) {
        this.spaceHeld = true;
        event.preventDefault();
      }
    });
    window.addEventListener("keyup", (event) => {
      if (event.code === "Space") this.spaceHeld = false;
    });
  }

  private local(event: MouseEvent): [number, number] {
    const rect = this.canvas.getBoundingClientRect();
    return [event.clientX - rect.left, event.clientY - rect.top];
  }
}
