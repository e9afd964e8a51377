// grove's browser UI: the app shell. Holds the page's state (project, current image, cursor,
// tools, display settings), lays out the panels, talks to the server (api.ts), and drives the
// slice views (viewer.ts) through one render loop over the shared tile store (tiles.ts).

import "./style.css";
import {
  api,
  ApiError,
  openEvents,
  type Box,
  type ImageInfo,
  type Job,
  type LabelChange,
  type Plane,
  type ProjectState,
} from "./api";
import { el, clear, modal, icon } from "./dom";
import {
  hexToRgb,
  labelPainter,
  probabilityPainter,
  rawPainter,
  uncertaintyPainter,
  type ChannelDisplay,
  type RGB,
} from "./painters";
import { TILE_SIZE, TileStore, type TileAddress } from "./tiles";
import { planeExtent, planeSlice, SliceView, type Cursor, type LayerStyle, type Tool, type ViewerHost } from "./viewer";
import { openFeatureDialog, renderImportance } from "./features";

type PredictionLayer = "none" | "probabilities" | "segmentation";

interface DisplaySettings {
  channels: ChannelDisplay[];
  selected: number; // channel shown in the contrast controls (and alone when c > 4)
}

interface StrokeTiming {
  strokeEnd: number;
  predictionEvent?: number;
  generation?: number;
  firstUpdate?: number;
  complete?: number;
}

const DEFAULT_COLORS: RGB[][] = [
  [[255, 255, 255]],
  [
    [0, 255, 0],
    [255, 0, 255],
  ],
  [
    [255, 0, 0],
    [0, 255, 0],
    [0, 0, 255],
  ],
  [
    [255, 0, 0],
    [0, 255, 0],
    [0, 0, 255],
    [255, 255, 255],
  ],
];

class App implements ViewerHost {
  store = new TileStore();
  project: ProjectState | null = null;
  currentImage: number | null = null;
  cursorState: Cursor = { t: 0, z: 0, y: 0, x: 0 };
  toolState: Tool = "brush";
  brushSizeState = 5;
  currentLabel = 1;
  generation = 0;
  display = new Map<number, DisplaySettings>();
  prediction: PredictionLayer = "probabilities";
  predictionOpacity = 0.45;
  showUncertainty = false;
  uncertaintyOpacity = 0.7;
  showLabels = true;
  labelOpacity = 0.8;
  views: SliceView[] = [];
  private renderQueued = false;
  private refreshQueued = false;
  timings: StrokeTiming[] = [];
  private statusTimer = 0;
  private activeJobs = new Map<string, Job>();

  // DOM
  private viewerArea!: HTMLElement;
  private viewGrid!: HTMLElement;
  private welcome!: HTMLElement;
  private sliceBar!: HTMLElement;
  private classList!: HTMLElement;
  private imageList!: HTMLElement;
  private statusText!: HTMLElement;
  private trainingBadge!: HTMLElement;
  private positionText!: HTMLElement;
  private jobArea!: HTMLElement;
  private liveButton!: HTMLButtonElement;
  private stageSection!: HTMLElement;
  private stageButtons!: HTMLElement;
  private stageCount!: HTMLSelectElement;
  private undoButton!: HTMLButtonElement;
  private redoButton!: HTMLButtonElement;
  private saveButton!: HTMLButtonElement;
  private projectTitle!: HTMLElement;
  private displayPanel!: HTMLElement;
  private importancePanel!: HTMLElement;
  private toasts!: HTMLElement;
  private toolButtons = new Map<Tool, HTMLButtonElement>();
  private brushInput!: HTMLInputElement;
  private brushValue!: HTMLElement;

  // ---- ViewerHost

  image(): ImageInfo | null {
    return this.project?.images.find((image) => image.id === this.currentImage) ?? null;
  }
  cursor(): Cursor {
    return this.cursorState;
  }
  tool(): Tool {
    return this.toolState;
  }
  brushSize(): number {
    return this.brushSizeState;
  }
  brushColor(): string {
    return this.project?.classes[this.currentLabel - 1]?.color ?? "#ffffff";
  }

  layers(): LayerStyle[] {
    const image = this.image();
    if (!image || !this.project) return [];
    const classes = this.project.classes;
    const colors = classes.map((c) => hexToRgb(c.color));
    const colorKey = classes.map((c) => c.color).join(",");
    const display = this.displayFor(image);
    const c = image.shape[4];
    const composite = c <= 4;
    const channels = composite
      ? display.channels
      : [{ ...display.channels[display.selected], color: [255, 255, 255] as RGB, visible: true }];
    const layers: LayerStyle[] = [
      {
        layer: "raw",
        channel: composite ? -1 : display.selected,
        style: JSON.stringify(channels),
        painter: rawPainter(channels),
        opacity: 1,
        priority: 4000,
      },
    ];
    if (this.prediction !== "none" && this.project.trained) {
      layers.push({
        layer: this.prediction,
        channel: -1,
        style: colorKey,
        painter: this.prediction === "probabilities" ? probabilityPainter(colors) : labelPainter(colors),
        opacity: this.predictionOpacity,
        priority: 2000,
      });
    }
    if (this.showUncertainty && this.project.trained) {
      layers.push({
        layer: "uncertainty",
        channel: -1,
        style: "amber",
        painter: uncertaintyPainter(),
        opacity: this.uncertaintyOpacity,
        priority: 1000,
      });
    }
    if (this.showLabels) {
      layers.push({
        layer: "labels",
        channel: -1,
        style: colorKey,
        painter: labelPainter(colors),
        opacity: this.labelOpacity,
        priority: 3000,
      });
    }
    // An autocontext project: labels and prediction of the selected stage (the tile cache keeps
    // the other stages' tiles apart, so switching back shows them at once).
    const stages = this.project.stages ?? 1;
    if (stages > 1) {
      for (const layer of layers) if (layer.layer !== "raw") layer.stage = this.project.stage ?? 1;
    }
    return layers;
  }

  async stroke(view: SliceView, points: [number, number][], radius: number): Promise<void> {
    const image = this.image();
    if (!image || !this.project) return;
    const eraser = this.toolState === "eraser";
    if (!eraser && this.project.classes.length === 0) {
      this.error("Add a label class first (the + button under Labels).");
      return;
    }
    const timing: StrokeTiming = { strokeEnd: performance.now() };
    this.timings.push(timing);
    try {
      const change = await api.stroke({
        image: image.id,
        plane: view.plane,
        t: this.cursorState.t,
        slice: planeSlice(this.cursorState, view.plane),
        label: eraser ? 0 : this.currentLabel,
        radius,
        points,
      });
      this.invalidateLabels(change);
    } catch (error) {
      this.error(error);
    }
  }

  setCursor(plane: Plane, u: number, v: number): void {
    const image = this.image();
    if (!image) return;
    const [, z, y, x] = image.shape;
    const clamp = (value: number, size: number) => Math.max(0, Math.min(size - 1, value));
    if (plane === "xy") {
      this.cursorState.x = clamp(u, x);
      this.cursorState.y = clamp(v, y);
    } else if (plane === "xz") {
      this.cursorState.x = clamp(u, x);
      this.cursorState.z = clamp(v, z);
    } else {
      this.cursorState.z = clamp(u, z);
      this.cursorState.y = clamp(v, y);
    }
    this.renderSliceBar();
    this.requestRender();
  }

  hover(plane: Plane, u: number, v: number, inside: boolean): void {
    if (!inside) {
      this.positionText.textContent = "";
      return;
    }
    const c = this.cursorState;
    const position =
      plane === "xy"
        ? { x: u, y: v, z: c.z }
        : plane === "xz"
          ? { x: u, y: c.y, z: v }
          : { x: c.x, y: v, z: u };
    const image = this.image();
    const value = image ? this.valueAt(image, plane, u, v) : null;
    const is3d = image ? image.shape[1] > 1 : false;
    this.positionText.textContent =
      `x ${position.x}  y ${position.y}` + (is3d ? `  z ${position.z}` : "") + (value !== null ? `   value ${value}` : "");
  }

  viewChanged(_view: SliceView): void {}

  requestRender(): void {
    if (this.renderQueued) return;
    this.renderQueued = true;
    requestAnimationFrame(() => {
      this.renderQueued = false;
      this.render();
    });
  }

  private render(): void {
    this.store.beginFrame();
    for (const view of this.views) view.draw();
    this.store.endFrame();
    this.updateTimings();
  }

  // ---- timings of live update (read by the benchmark through window.grove)

  private updateTimings(): void {
    const open = this.timings.filter((t) => t.predictionEvent !== undefined && t.complete === undefined);
    if (open.length === 0) return;
    const prediction = (a: TileAddress) =>
      a.layer === "probabilities" || a.layer === "segmentation" || a.layer === "uncertainty";
    const pending = this.store.pendingCount(prediction);
    for (const timing of open) {
      if (pending === 0) timing.complete = performance.now();
    }
  }

  // ---- start

  async start(root: HTMLElement): Promise<void> {
    this.buildLayout(root);
    this.store.onTile = (entry) => {
      const a = entry.address;
      if ((a.layer === "probabilities" || a.layer === "segmentation") && entry.data) {
        for (const timing of this.timings) {
          if (
            timing.generation !== undefined &&
            timing.firstUpdate === undefined &&
            entry.data.generation >= timing.generation
          ) {
            timing.firstUpdate = performance.now();
          }
        }
      }
      this.requestRender();
    };
    this.store.onError = (message) => this.error(message);
    openEvents(
      (event, data) => this.onEvent(event, data),
      (open) => {
        if (!open) this.setStatus("Connection to the server lost; retrying…", "warning");
      },
    );
    this.installShortcuts();
    await this.refreshProject();
    const first = this.project?.images[0];
    if (first) this.selectImage(first.id);
    this.setStatus("Ready");
  }

  // ---- events from the server

  private onEvent(event: string, data: any): void {
    switch (event) {
      case "hello":
        this.setStatus("Connected");
        break;
      case "prediction": {
        this.generation = data.generation;
        const now = performance.now();
        for (const timing of this.timings) {
          if (timing.predictionEvent === undefined && timing.strokeEnd <= now) {
            timing.predictionEvent = now;
            timing.generation = data.generation;
          }
        }
        // With several stages the new classifier may be another stage's: the refresh below says.
        if (this.project && !this.project.trained && (this.project.stages ?? 1) <= 1) {
          this.project.trained = true;
        }
        this.store.invalidate(
          (a) => a.layer === "probabilities" || a.layer === "segmentation" || a.layer === "uncertainty",
        );
        this.loadImportance();
        this.requestRender();
        this.scheduleRefresh();
        break;
      }
      case "training":
        this.showTraining(data.state, data.message ?? "", data.done, data.total);
        break;
      case "labels":
        if (data.image === null || data.image === undefined) {
          this.store.invalidate((a) => a.layer === "labels");
        } else if (data.box) {
          this.invalidateLabels({ image: data.image, box: data.box });
        }
        this.requestRender();
        break;
      case "project":
        this.scheduleRefresh();
        break;
      case "job":
        this.showJob(data as Job);
        break;
      case "error":
        this.error(data?.message ?? "error");
        break;
    }
  }

  private invalidateLabels(change: LabelChange): void {
    if (change.image === null || !change.box) return;
    const box: Box = change.box;
    if (box.end[0] <= box.begin[0]) return;
    this.store.invalidate((a) => a.layer === "labels" && a.image === change.image && intersects(a, box));
    this.requestRender();
  }

  private scheduleRefresh(): void {
    if (this.refreshQueued) return;
    this.refreshQueued = true;
    setTimeout(() => {
      this.refreshQueued = false;
      this.refreshProject();
    }, 50);
  }

  async refreshProject(): Promise<void> {
    try {
      const before = this.project;
      this.project = await api.project();
      this.generation = Math.max(this.generation, this.project.generation);
      if (this.currentImage !== null && !this.project.images.some((i) => i.id === this.currentImage)) {
        this.currentImage = null;
        const first = this.project.images[0];
        if (first) this.selectImage(first.id);
      }
      if (this.currentLabel > this.project.classes.length) this.currentLabel = Math.max(1, this.project.classes.length);
      this.renderProject();
      if (before && before.training.state !== this.project.training.state) {
        this.showTraining(this.project.training.state, this.project.training.message);
      }
      this.requestRender();
    } catch (error) {
      this.error(error);
    }
  }

  // ---- layout

  private buildLayout(root: HTMLElement): void {
    clear(root);
    this.projectTitle = el("span", { class: "project-name" }, "untitled");
    this.saveButton = el(
      "button",
      { class: "button primary", "data-testid": "save", title: "Save the project (Ctrl+S)" },
      icon("save"),
      "Save",
    ) as HTMLButtonElement;
    this.saveButton.onclick = () => this.save();
    const exportButton = el("button", { class: "button", title: "Export results" }, icon("export"), "Export");
    exportButton.onclick = () => this.openExport();
    const featuresButton = el("button", { class: "button", title: "Choose the image features" }, icon("grid"), "Features");
    featuresButton.onclick = () => this.openFeatures();
    const helpButton = el("button", { class: "button", title: "Keyboard shortcuts (?)" }, "?");
    helpButton.onclick = () => showShortcuts();
    const header = el(
      "header",
      { class: "topbar" },
      el("div", { class: "brand" }, el("span", { class: "logo" }, "◆"), "grove"),
      el("div", { class: "project" }, this.projectTitle),
      el("div", { class: "topbar-actions" }, helpButton, featuresButton, exportButton, this.saveButton),
    );

    // Sidebar: images, labels, training, display.
    this.imageList = el("ul", { class: "image-list", "data-testid": "image-list" });
    const addImage = el("button", { class: "button small", "data-testid": "image-add" }, icon("plus"), "Add image");
    addImage.onclick = () => this.openAddImage();
    const imagesSection = section("Images", this.imageList, addImage);

    for (const [tool, label, key] of [
      ["brush", "Brush", "B"],
      ["eraser", "Eraser", "E"],
      ["pan", "Pan", "H"],
    ] as const) {
      const button = el(
        "button",
        { class: "tool", "data-testid": `tool-${tool}`, title: `${label} (${key})`, "aria-pressed": "false" },
        icon(tool),
        el("span", {}, label),
      ) as HTMLButtonElement;
      button.onclick = () => this.setTool(tool);
      this.toolButtons.set(tool, button);
    }
    this.brushInput = el("input", {
      type: "range",
      min: "1",
      max: "61",
      step: "1",
      value: String(this.brushSizeState),
      "data-testid": "brush-size",
      title: "Brush size in pixels ([ and ])",
    }) as HTMLInputElement;
    this.brushValue = el("span", { class: "value" }, `${this.brushSizeState}px`);
    this.brushInput.oninput = () => this.setBrushSize(Number(this.brushInput.value));
    this.undoButton = el("button", { class: "button small", "data-testid": "undo", title: "Undo (Ctrl+Z)" }, icon("undo"), "Undo") as HTMLButtonElement;
    this.redoButton = el("button", { class: "button small", "data-testid": "redo", title: "Redo (Ctrl+Shift+Z)" }, icon("redo"), "Redo") as HTMLButtonElement;
    this.undoButton.onclick = () => this.undo();
    this.redoButton.onclick = () => this.redo();
    const clearButton = el("button", { class: "button small subtle", "data-testid": "clear", title: "Remove the labels of this image" }, "Clear");
    clearButton.onclick = () => this.clearLabels();
    this.classList = el("ul", { class: "class-list", "data-testid": "class-list" });
    const addClass = el("button", { class: "button small", "data-testid": "class-add", title: "Add a label class" }, icon("plus"), "Add class");
    addClass.onclick = () => this.addClass();
    const labelsSection = section(
      "Labels",
      el("div", { class: "tools" }, ...this.toolButtons.values()),
      el("label", { class: "slider-row" }, el("span", {}, "Brush size"), this.brushInput, this.brushValue),
      this.classList,
      el("div", { class: "row" }, addClass),
      el("div", { class: "row" }, this.undoButton, this.redoButton, el("span", { class: "spacer" }), clearButton),
    );

    this.liveButton = el(
      "button",
      { class: "switch", role: "switch", "aria-checked": "false", "data-testid": "live-update", title: "Retrain and predict after every change (L)" },
      el("span", { class: "knob" }),
    ) as HTMLButtonElement;
    this.liveButton.onclick = () => this.toggleLive();
    const trainButton = el("button", { class: "button small", title: "Train and predict once" }, "Update now");
    trainButton.onclick = () => api.train().catch((e) => this.error(e));
    this.trainingBadge = el("span", { class: "badge" }, "idle");
    const predictionSelect = el(
      "select",
      { "data-testid": "prediction-layer" },
      el("option", { value: "probabilities" }, "Probabilities"),
      el("option", { value: "segmentation" }, "Segmentation"),
      el("option", { value: "none" }, "Hidden"),
    ) as HTMLSelectElement;
    predictionSelect.onchange = () => {
      this.prediction = predictionSelect.value as PredictionLayer;
      this.requestRender();
    };
    const opacity = slider(0, 1, 0.05, this.predictionOpacity, (value) => {
      this.predictionOpacity = value;
      this.requestRender();
    }, "prediction-opacity");
    const uncertainty = checkbox(this.showUncertainty, (on) => {
      this.showUncertainty = on;
      this.requestRender();
    }, "show-uncertainty");
    const labels = checkbox(this.showLabels, (on) => {
      this.showLabels = on;
      this.requestRender();
    }, "show-labels");
    const labelOpacity = slider(0, 1, 0.05, this.labelOpacity, (value) => {
      this.labelOpacity = value;
      this.requestRender();
    });
    const trainingSection = section(
      "Live update",
      el("div", { class: "row" }, this.liveButton, el("span", { class: "switch-label" }, "Live update"), el("span", { class: "spacer" }), this.trainingBadge),
      el("div", { class: "row" }, trainButton),
      el("label", { class: "slider-row" }, el("span", {}, "Prediction"), predictionSelect),
      el("label", { class: "slider-row" }, el("span", {}, "Opacity"), opacity),
      el("label", { class: "slider-row" }, el("span", {}, "Uncertainty"), uncertainty),
      el("label", { class: "slider-row" }, el("span", {}, "Labels"), labels, labelOpacity),
    );
    this.displayPanel = el("div", { class: "display-panel" });
    const displaySection = section("Display", this.displayPanel);
    this.importancePanel = el("div", { class: "importance", "data-testid": "feature-importance" }, el("p", { class: "hint" }, "Train to see which features matter."));
    const importanceSection = section("Feature importance", this.importancePanel);
    this.stageButtons = el("div", { class: "stage-buttons", role: "tablist", "data-testid": "stage-select" });
    this.stageCount = el(
      "select",
      { "data-testid": "stage-count", title: "More than one stage makes an autocontext project" },
      ...[1, 2, 3, 4].map((count) => el("option", { value: String(count) }, count === 1 ? "1 (pixel classification)" : `${count} (autocontext)`)),
    ) as HTMLSelectElement;
    this.stageCount.onchange = () => this.setStageCount(Number(this.stageCount.value));
    this.stageSection = section(
      "Stages",
      el("label", { class: "slider-row" }, el("span", {}, "Stages"), this.stageCount),
      this.stageButtons,
      el("p", { class: "hint" }, "Autocontext: each stage has its own labels, features and classifier; stage k sees the image and stage k−1's prediction."),
    );
    this.stageSection.style.display = "none";
    const sidebar = el("aside", { class: "sidebar" }, imagesSection, this.stageSection, labelsSection, trainingSection, displaySection, importanceSection);

    // Viewer.
    this.sliceBar = el("div", { class: "slice-bar" });
    this.viewGrid = el("div", { class: "view-grid" });
    this.welcome = el(
      "div",
      { class: "welcome" },
      el("h2", {}, "Start with an image"),
      el("p", {}, "Add an image from the project folder, paint a few strokes per class, and switch on live update."),
    );
    const welcomeButton = el("button", { class: "button primary" }, icon("plus"), "Add image");
    welcomeButton.onclick = () => this.openAddImage();
    this.welcome.appendChild(welcomeButton);
    this.viewerArea = el("main", { class: "viewer", "data-testid": "viewer" }, this.sliceBar, this.viewGrid, this.welcome);

    // Status bar.
    this.statusText = el("span", { class: "status-text", "data-testid": "status", role: "status", "aria-live": "polite" }, "Loading…");
    this.positionText = el("span", { class: "position" });
    this.jobArea = el("span", { class: "jobs" });
    const footer = el("footer", { class: "statusbar" }, this.statusText, this.jobArea, el("span", { class: "spacer" }), this.positionText);
    this.toasts = el("div", { class: "toasts" });

    root.append(header, el("div", { class: "body" }, sidebar, this.viewerArea), footer, this.toasts);
    this.setTool("brush");
  }

  // ---- project rendering

  private renderProject(): void {
    const project = this.project;
    if (!project) return;
    this.projectTitle.textContent = (project.path || project.name || "untitled") + (project.dirty ? " •" : "");
    this.projectTitle.title = project.dirty ? "Unsaved changes" : "Saved";
    this.saveButton.classList.toggle("attention", project.dirty);
    this.undoButton.disabled = !project.can_undo;
    this.redoButton.disabled = !project.can_redo;
    this.liveButton.setAttribute("aria-checked", String(project.live_update));
    this.liveButton.classList.toggle("on", project.live_update);

    clear(this.imageList);
    for (const image of project.images) {
      const [t, z, y, x, c] = image.shape;
      const dims = [t > 1 ? `${t}t` : "", z > 1 ? `${z}` : "", `${y}`, `${x}`].filter(Boolean).join("×");
      const remove = el("button", { class: "icon-button", title: "Remove from the project" }, "×");
      remove.onclick = async (event) => {
        event.stopPropagation();
        if (!confirm(`Remove ${image.name} and its labels from the project?`)) return;
        try {
          await api.removeImage(image.id);
          await this.refreshProject();
        } catch (error) {
          this.error(error);
        }
      };
      const item = el(
        "li",
        { class: image.id === this.currentImage ? "selected" : "", title: image.path },
        el("div", { class: "image-name" }, image.name),
        el("div", { class: "image-meta" }, `${dims}${c > 1 ? ` · ${c} ch` : ""} · ${image.dtype}` + (image.labelled_pixels ? ` · ${image.labelled_pixels.toLocaleString()} labelled` : "")),
        remove,
      );
      item.onclick = () => this.selectImage(image.id);
      this.imageList.appendChild(item);
    }

    this.renderStages(project);
    clear(this.classList);
    project.classes.forEach((labelClass) => {
      const color = el("input", { type: "color", value: labelClass.color, title: "Colour" }) as HTMLInputElement;
      color.onchange = () => this.updateClass(labelClass.label, { color: color.value });
      const name = el("input", { class: "class-name", value: labelClass.name, title: "Rename", spellcheck: "false" }) as HTMLInputElement;
      name.onchange = () => this.updateClass(labelClass.label, { name: name.value.trim() || labelClass.name });
      name.onkeydown = (event) => {
        if (event.key === "Enter") name.blur();
      };
      const remove = el("button", { class: "icon-button", title: "Remove the class and its labels" }, "×");
      remove.onclick = async (event) => {
        event.stopPropagation();
        if (!confirm(`Remove the class “${labelClass.name}” and all its labels?`)) return;
        try {
          await api.removeClass(labelClass.label);
          await this.refreshProject();
        } catch (error) {
          this.error(error);
        }
      };
      const item = el(
        "li",
        {
          class: labelClass.label === this.currentLabel ? "selected" : "",
          "data-label": String(labelClass.label),
          title: `Paint with this class (${labelClass.label <= 9 ? labelClass.label : ""})`,
        },
        el("span", { class: "key" }, labelClass.label <= 9 ? String(labelClass.label) : ""),
        color,
        name,
        remove,
      );
      item.onclick = () => this.selectClass(labelClass.label);
      this.classList.appendChild(item);
    });
    if (project.classes.length === 0) {
      this.classList.appendChild(el("li", { class: "hint" }, "No classes yet: add one per kind of thing to tell apart (e.g. nuclei, background)."));
    }
    this.welcome.style.display = project.images.length === 0 ? "" : "none";
    this.renderDisplayPanel();
  }

  private renderStages(project: ProjectState): void {
    // A backend without stages (the test double) says nothing about them: no section then.
    const stages = project.stages ?? 1;
    this.stageSection.style.display = project.stages === undefined ? "none" : "";
    if (this.stageCount.options.length < stages) this.stageCount.appendChild(el("option", { value: String(stages) }, `${stages} (autocontext)`));
    this.stageCount.value = String(stages);
    clear(this.stageButtons);
    for (let stage = 1; stage <= stages && stages > 1; stage++) {
      const selected = stage === (project.stage ?? 1);
      const button = el(
        "button",
        { class: "button small" + (selected ? " selected" : ""), role: "tab", "aria-selected": String(selected), "data-testid": `stage-${stage}`, title: `Label and train stage ${stage}` },
        `Stage ${stage}`,
      );
      button.onclick = () => this.selectStage(stage);
      this.stageButtons.appendChild(button);
    }
  }

  async setStageCount(count: number): Promise<void> {
    const now = this.project?.stages ?? 1;
    if (count < now && !confirm(`Remove stage${now - count > 1 ? "s" : ""} ${count + 1}${now - count > 1 ? `–${now}` : ""} with ${now - count > 1 ? "their" : "its"} labels and classifier?`)) {
      this.stageCount.value = String(now);
      return;
    }
    try {
      await api.setStageCount(count);
      await this.refreshProject();
      this.setStatus(count > 1 ? `Autocontext with ${count} stages` : "Pixel classification");
    } catch (error) {
      this.stageCount.value = String(now);
      this.error(error);
    }
  }

  async selectStage(stage: number): Promise<void> {
    if (!this.project || stage === this.project.stage) return;
    try {
      await api.selectStage(stage);
      // The server's project says the stage and whether it is trained: setting the stage here
      // first would show the new stage with the old stage's state until the refresh answers.
      await this.refreshProject();
      this.importancePanel.replaceChildren(el("p", { class: "hint" }, "Train to see which features matter."));
      if (this.project.trained) this.loadImportance();
      this.setStatus(`Stage ${stage}`);
    } catch (error) {
      this.error(error);
    }
  }

  selectImage(id: number): void {
    const changed = this.currentImage !== id;
    this.currentImage = id;
    const image = this.image();
    if (!image) return;
    if (changed) {
      const [, z, y, x] = image.shape;
      this.cursorState = { t: 0, z: Math.floor(z / 2), y: Math.floor(y / 2), x: Math.floor(x / 2) };
      this.buildViews(image);
      this.loadRange(image);
    }
    this.renderProject();
    this.renderSliceBar();
    this.requestRender();
  }

  private buildViews(image: ImageInfo): void {
    clear(this.viewGrid);
    const is3d = image.shape[1] > 1;
    const planes: Plane[] = is3d ? ["xy", "yz", "xz"] : ["xy"];
    this.views = planes.map((plane) => new SliceView(plane, this));
    this.viewGrid.classList.toggle("three", is3d);
    for (const view of this.views) this.viewGrid.appendChild(view.element);
    if (is3d) {
      this.viewGrid.appendChild(
        el(
          "div",
          { class: "view-help" },
          el("h3", {}, "Orthogonal views"),
          el("p", {}, "Ctrl+click in a view (or click with the Pan tool) to move the cursor; the other views follow."),
          el("p", {}, "Scroll to zoom, drag with the right mouse button (or hold Space) to pan."),
          el("p", {}, "Page Up / Page Down or the slider change the XY slice."),
        ),
      );
    }
  }

  private renderSliceBar(): void {
    clear(this.sliceBar);
    const image = this.image();
    if (!image) return;
    const [t, z] = image.shape;
    if (t > 1) {
      this.sliceBar.appendChild(
        el("label", { class: "slider-row" }, el("span", {}, "t"), slider(0, t - 1, 1, this.cursorState.t, (value) => {
          this.cursorState.t = value;
          this.requestRender();
          this.renderSliceBarValues();
        }, "slider-t"), el("span", { class: "value", "data-value": "t" }, String(this.cursorState.t))),
      );
    }
    if (z > 1) {
      this.sliceBar.appendChild(
        el("label", { class: "slider-row" }, el("span", {}, "z"), slider(0, z - 1, 1, this.cursorState.z, (value) => {
          this.cursorState.z = value;
          this.requestRender();
          this.renderSliceBarValues();
        }, "slider-z"), el("span", { class: "value", "data-value": "z" }, String(this.cursorState.z))),
      );
    }
    const zoomOut = el("button", { class: "icon-button", title: "Zoom out (-)" }, "−");
    const zoomIn = el("button", { class: "icon-button", title: "Zoom in (+)" }, "+");
    const fit = el("button", { class: "button small", title: "Fit to the window (0)" }, "Fit");
    zoomOut.onclick = () => this.views.forEach((v) => v.zoomBy(1 / 1.5));
    zoomIn.onclick = () => this.views.forEach((v) => v.zoomBy(1.5));
    fit.onclick = () => this.fitAll();
    this.sliceBar.append(el("span", { class: "image-title" }, image.name), el("span", { class: "spacer" }), zoomOut, zoomIn, fit);
  }

  private renderSliceBarValues(): void {
    for (const node of this.sliceBar.querySelectorAll<HTMLElement>("[data-value]")) {
      const key = node.dataset.value as "t" | "z";
      node.textContent = String(this.cursorState[key]);
    }
  }

  private fitAll(): void {
    this.views.forEach((view) => view.fit());
    this.requestRender();
  }

  // ---- display (contrast and channel colours)

  private displayFor(image: ImageInfo): DisplaySettings {
    let display = this.display.get(image.id);
    if (!display) {
      const c = image.shape[4];
      const colors = DEFAULT_COLORS[Math.min(c, 4) - 1] ?? DEFAULT_COLORS[0];
      const max = image.dtype === "uint8" ? 255 : image.dtype === "uint16" ? 65535 : 1;
      display = {
        selected: 0,
        channels: Array.from({ length: c }, (_, k) => ({
          min: 0,
          max,
          color: c > 4 ? ([255, 255, 255] as RGB) : colors[k],
          visible: true,
        })),
      };
      this.display.set(image.id, display);
    }
    return display;
  }

  private async loadRange(image: ImageInfo): Promise<void> {
    const display = this.displayFor(image);
    try {
      for (let k = 0; k < Math.min(image.shape[4], 8); k++) {
        const range = await api.range(image.id, k);
        display.channels[k].min = range.low;
        display.channels[k].max = range.high > range.low ? range.high : range.low + 1;
      }
      this.renderDisplayPanel();
      this.requestRender();
    } catch (error) {
      this.error(error);
    }
  }

  private renderDisplayPanel(): void {
    clear(this.displayPanel);
    const image = this.image();
    if (!image) {
      this.displayPanel.appendChild(el("p", { class: "hint" }, "No image."));
      return;
    }
    const display = this.displayFor(image);
    const c = image.shape[4];
    if (c > 1) {
      const select = el("select", { "data-testid": "channel" }) as HTMLSelectElement;
      for (let k = 0; k < c; k++) select.appendChild(el("option", { value: String(k) }, `Channel ${k}`));
      select.value = String(display.selected);
      select.onchange = () => {
        display.selected = Number(select.value);
        this.renderDisplayPanel();
        this.requestRender();
      };
      this.displayPanel.appendChild(el("label", { class: "slider-row" }, el("span", {}, "Channel"), select));
    }
    const channel = display.channels[display.selected];
    const span = image.dtype === "uint8" ? 255 : image.dtype === "uint16" ? 65535 : Math.max(1, channel.max * 2);
    const step = image.dtype === "float32" ? span / 1000 : 1;
    const minSlider = slider(0, span, step, channel.min, (value) => {
      channel.min = Math.min(value, channel.max - step);
      this.requestRender();
    }, "contrast-min");
    const maxSlider = slider(0, span, step, channel.max, (value) => {
      channel.max = Math.max(value, channel.min + step);
      this.requestRender();
    }, "contrast-max");
    const auto = el("button", { class: "button small", title: "Contrast from the image's percentiles" }, "Auto");
    auto.onclick = () => this.loadRange(image);
    this.displayPanel.append(
      el("label", { class: "slider-row" }, el("span", {}, "Black"), minSlider),
      el("label", { class: "slider-row" }, el("span", {}, "White"), maxSlider),
    );
    const row = el("div", { class: "row" }, auto);
    if (c > 1 && c <= 4) {
      const toHex = (rgb: RGB) => "#" + rgb.map((v) => v.toString(16).padStart(2, "0")).join("");
      const color = el("input", { type: "color", value: toHex(channel.color), title: "Channel colour" }) as HTMLInputElement;
      color.oninput = () => {
        channel.color = hexToRgb(color.value);
        this.requestRender();
      };
      const visible = checkbox(channel.visible, (on) => {
        channel.visible = on;
        this.requestRender();
      });
      row.append(el("span", { class: "spacer" }), el("span", { class: "hint" }, "Colour"), color, el("span", { class: "hint" }, "Shown"), visible);
    }
    this.displayPanel.appendChild(row);
  }

  private valueAt(image: ImageInfo, plane: Plane, u: number, v: number): string | null {
    const slice = planeSlice(this.cursorState, plane);
    const display = this.displayFor(image);
    const c = image.shape[4];
    const entry = this.store.peek({
      image: image.id,
      layer: "raw",
      plane,
      t: this.cursorState.t,
      slice,
      level: 0,
      u: Math.floor(u / TILE_SIZE),
      v: Math.floor(v / TILE_SIZE),
      channel: c <= 4 ? -1 : display.selected,
    });
    const data = entry?.data;
    if (!data) return null;
    const index = ((v % TILE_SIZE) * data.width + (u % TILE_SIZE)) * data.channels;
    const values = Array.from(data.pixels.slice(index, index + data.channels)).map((value) =>
      data.dtype === "float32" ? value.toPrecision(4) : String(value),
    );
    return values.join(", ");
  }

  // ---- actions

  // Selects the class to paint with, without rebuilding the list (an edit in it keeps focus).
  selectClass(label: number): void {
    this.currentLabel = label;
    if (this.toolState !== "brush") this.setTool("brush");
    for (const item of this.classList.querySelectorAll<HTMLElement>("li[data-label]")) {
      item.classList.toggle("selected", item.dataset.label === String(label));
    }
    this.requestRender();
  }

  setTool(tool: Tool): void {
    this.toolState = tool;
    for (const [name, button] of this.toolButtons) {
      button.classList.toggle("active", name === tool);
      button.setAttribute("aria-pressed", String(name === tool));
    }
    this.viewGrid?.setAttribute("data-tool", tool);
    this.requestRender();
  }

  setBrushSize(size: number): void {
    this.brushSizeState = Math.max(1, Math.min(61, Math.round(size)));
    this.brushInput.value = String(this.brushSizeState);
    this.brushValue.textContent = `${this.brushSizeState}px`;
    this.requestRender();
  }

  private async addClass(): Promise<void> {
    try {
      const added = await api.addClass();
      this.currentLabel = added.label;
      if (this.toolState !== "brush") this.setTool("brush");
      await this.refreshProject();
      this.setStatus(`Added class ${added.label}: paint it with the brush`);
    } catch (error) {
      this.error(error);
    }
  }

  private async updateClass(label: number, change: { name?: string; color?: string }): Promise<void> {
    try {
      await api.updateClass(label, change);
      await this.refreshProject();
    } catch (error) {
      this.error(error);
    }
  }

  async undo(): Promise<void> {
    try {
      const change = await api.undo();
      this.invalidateLabels(change);
      if (change.box.end[0] <= change.box.begin[0]) this.setStatus("Nothing to undo");
      else this.setStatus("Undone");
    } catch (error) {
      this.error(error);
    }
  }

  async redo(): Promise<void> {
    try {
      const change = await api.redo();
      this.invalidateLabels(change);
      if (change.box.end[0] <= change.box.begin[0]) this.setStatus("Nothing to redo");
      else this.setStatus("Redone");
    } catch (error) {
      this.error(error);
    }
  }

  private async clearLabels(): Promise<void> {
    const image = this.image();
    if (!image) return;
    if (!confirm(`Remove all labels of ${image.name}? (Undo brings them back.)`)) return;
    try {
      const result = await api.clear(image.id, 0);
      result.changes.forEach((change) => this.invalidateLabels(change));
      this.setStatus("Labels cleared");
    } catch (error) {
      this.error(error);
    }
  }

  async toggleLive(): Promise<void> {
    const on = !this.project?.live_update;
    try {
      await api.setLiveUpdate(on);
      if (this.project) this.project.live_update = on;
      this.renderProject();
      this.setStatus(on ? "Live update on: the prediction follows your strokes" : "Live update off");
    } catch (error) {
      this.error(error);
    }
  }

  async save(): Promise<void> {
    if (!this.project) return;
    let path: string | undefined;
    if (!this.project.path) {
      const chosen = await askText("Save project", "File name, relative to the project folder:", "project.grove");
      if (!chosen) return;
      path = chosen;
    }
    try {
      const { job } = await api.save(path);
      this.setStatus("Saving…");
      this.activeJobs.set(job, { id: job, kind: "save", state: "running", done: 0, total: 0, label: "saving", message: "", outputs: [] });
      this.renderJobs();
    } catch (error) {
      this.error(error);
    }
  }

  private openAddImage(): void {
    let dir = "";
    const pathInput = el("input", { type: "text", class: "wide", placeholder: "folder/image.h5 (or image.h5/dataset)", "data-testid": "image-path" }) as HTMLInputElement;
    const listing = el("ul", { class: "file-list" });
    const crumbs = el("div", { class: "crumbs" });
    const load = async (target: string) => {
      try {
        const result = await api.files(target);
        dir = result.dir;
        clear(listing);
        clear(crumbs);
        crumbs.textContent = "/" + dir;
        if (dir) {
          const up = el("li", { class: "dir" }, "..");
          up.onclick = () => load(dir.split("/").slice(0, -1).join("/"));
          listing.appendChild(up);
        }
        for (const entry of result.entries) {
          const path = dir ? `${dir}/${entry.name}` : entry.name;
          const item = el("li", { class: entry.type }, entry.name);
          item.onclick = () => (entry.type === "dir" ? load(path) : (pathInput.value = path));
          item.ondblclick = () => {
            if (entry.type === "file") {
              pathInput.value = path;
              add();
            }
          };
          listing.appendChild(item);
        }
      } catch (error) {
        this.error(error);
      }
    };
    const add = async () => {
      const path = pathInput.value.trim();
      if (!path) return;
      try {
        const image = await api.addImage(path);
        dialog.close();
        await this.refreshProject();
        this.selectImage(image.id);
        this.setStatus(`Opened ${image.name}`);
      } catch (error) {
        this.error(error);
      }
    };
    const addButton = el("button", { class: "button primary", "data-testid": "image-open" }, "Add");
    addButton.onclick = add;
    pathInput.onkeydown = (event) => {
      if (event.key === "Enter") add();
    };
    const dialog = modal("Add an image", el("p", { class: "hint" }, `Files under ${this.project?.root ?? "the root folder"}.`), crumbs, listing, el("div", { class: "row" }, pathInput, addButton));
    load("");
    pathInput.focus();
  }

  private openFeatures(): void {
    if (!this.project) return;
    const is3d = this.project.images.some((image) => image.shape[1] > 1);
    openFeatureDialog(this.project.features, is3d, async (selection) => {
      await api.setFeatures(selection);
      await this.refreshProject();
      this.setStatus("Features changed" + (this.project?.live_update ? ": retraining" : ""));
    }, (error) => this.error(error));
  }

  private async loadImportance(): Promise<void> {
    try {
      const { features } = await api.importance();
      renderImportance(this.importancePanel, features);
    } catch {
      /* shown when available */
    }
  }

  private openExport(): void {
    const scope = el("select", {}, el("option", { value: "current" }, "The current image"), el("option", { value: "all" }, "All images")) as HTMLSelectElement;
    const kinds: [string, string][] = [["probabilities", "Probabilities"], ["simple-segmentation", "Simple segmentation"], ["uncertainty", "Uncertainty"]];
    const stages = this.project?.stages ?? 1;
    const source = el("select", { "data-testid": "export-source" }) as HTMLSelectElement;
    if (stages > 1) {
      // An autocontext project: any stage's results, and every stage's probabilities at once.
      for (let stage = stages; stage >= 1; stage--) {
        for (const [value, label] of kinds) source.appendChild(el("option", { value: `${value}-stage-${stage}` }, `${label} stage ${stage}`));
      }
      source.appendChild(el("option", { value: "probabilities-all-stages" }, "Probabilities all stages"));
    } else {
      for (const [value, label] of kinds) source.appendChild(el("option", { value }, label));
    }
    const format = el("select", {}, ...["hdf5", "tiff", "png", "npy", "zarr", "n5"].map((f) => el("option", { value: f }, f))) as HTMLSelectElement;
    const output = el("input", { type: "text", class: "wide", placeholder: "{dataset_dir}/{nickname}_{result_type} (default)" }) as HTMLInputElement;
    const overwrite = el("input", { type: "checkbox" }) as HTMLInputElement;
    const start = el("button", { class: "button primary" }, "Export");
    const dialog = modal(
      "Export",
      el("label", { class: "form-row" }, el("span", {}, "Images"), scope),
      el("label", { class: "form-row" }, el("span", {}, "Result"), source),
      el("label", { class: "form-row" }, el("span", {}, "Format"), format),
      el("label", { class: "form-row" }, el("span", {}, "Output"), output),
      el("label", { class: "form-row" }, el("span", {}, "Overwrite"), overwrite),
      el("p", { class: "hint" }, "Placeholders: {dataset_dir}, {nickname}, {result_type}. Outputs must lie under the project folder."),
      el("div", { class: "row end" }, start),
    );
    start.onclick = async () => {
      try {
        const { job } = await api.export({
          images: scope.value === "all" || this.currentImage === null ? null : [this.currentImage],
          source: source.value,
          format: format.value,
          output: output.value.trim(),
          overwrite: overwrite.checked,
        });
        dialog.close();
        this.activeJobs.set(job, { id: job, kind: "export", state: "running", done: 0, total: 0, label: "starting", message: "", outputs: [] });
        this.renderJobs();
        this.setStatus("Export started");
      } catch (error) {
        this.error(error);
      }
    };
  }

  // ---- status, jobs, training

  private showJob(job: Job): void {
    this.activeJobs.set(job.id, job);
    if (job.state !== "running") {
      if (job.state === "succeeded") {
        const what = job.kind === "save" ? `Saved ${job.outputs.join(", ")}` : `Exported ${job.outputs.length} file(s): ${job.outputs.join(", ")}`;
        this.setStatus(what, "success");
        this.toast(what, "success");
      } else if (job.state === "failed") {
        this.error(`${job.kind === "save" ? "Saving" : "Export"} failed: ${job.message}`);
      } else {
        this.setStatus(`${job.kind} cancelled`);
      }
      setTimeout(() => {
        this.activeJobs.delete(job.id);
        this.renderJobs();
      }, 1500);
      this.scheduleRefresh();
    }
    this.renderJobs();
  }

  private renderJobs(): void {
    clear(this.jobArea);
    for (const job of this.activeJobs.values()) {
      const fraction = job.total > 0 ? job.done / job.total : job.state === "running" ? 0 : 1;
      const bar = el("span", { class: "progress" }, el("span", { class: "progress-fill", style: `width:${Math.round(fraction * 100)}%` }));
      const cancel = el("button", { class: "icon-button", title: "Cancel" }, "×");
      cancel.onclick = () => api.cancelJob(job.id).catch((e) => this.error(e));
      this.jobArea.appendChild(
        el("span", { class: `job ${job.state}`, "data-testid": `job-${job.kind}` }, `${job.kind === "save" ? "Saving" : "Exporting"} ${job.label}`, bar, job.state === "running" ? cancel : ""),
      );
    }
  }

  private showTraining(state: string, message: string, done?: number, total?: number): void {
    const labels: Record<string, string> = {
      running: "training…",
      done: "up to date",
      waiting: "needs labels",
      failed: "failed",
      idle: "idle",
    };
    this.trainingBadge.textContent = labels[state] ?? state;
    this.trainingBadge.className = `badge ${state}`;
    this.trainingBadge.title = message;
    if (state === "running" && total) this.trainingBadge.textContent = `training ${Math.round((100 * (done ?? 0)) / total)}%`;
    if (state === "waiting") this.setStatus(message || "Paint labels of at least two classes", "info");
    if (state === "failed") this.error(`Training failed: ${message}`);
    if (state === "done") this.setStatus("Prediction updated");
  }

  setStatus(message: string, kind: "info" | "success" | "warning" | "error" = "info"): void {
    this.statusText.textContent = message;
    this.statusText.className = `status-text ${kind}`;
    clearTimeout(this.statusTimer);
  }

  error(error: unknown): void {
    const message = error instanceof ApiError || error instanceof Error ? error.message : String(error);
    this.setStatus(message, "error");
    this.toast(message, "error");
  }

  private toast(message: string, kind: "error" | "success"): void {
    // The same news once, and at most three at a time: a burst of failing tiles must not bury
    // the views under notes.
    for (const existing of this.toasts.querySelectorAll<HTMLElement>(".toast")) {
      if (existing.dataset.message === message) return;
    }
    while (this.toasts.childElementCount >= 3) this.toasts.firstElementChild?.remove();
    const node = el("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status", "data-message": message }, message);
    const close = el("button", { class: "icon-button" }, "×");
    close.onclick = () => node.remove();
    node.appendChild(close);
    this.toasts.appendChild(node);
    setTimeout(() => node.remove(), kind === "error" ? 8000 : 4000);
  }

  // ---- keyboard

  private installShortcuts(): void {
    window.addEventListener("keydown", (event) => {
      const target = event.target as HTMLElement;
      if (target && (target.tagName === "INPUT" || target.tagName === "SELECT" || target.tagName === "TEXTAREA")) {
        if (!(target as HTMLInputElement).type || !["range", "checkbox", "color"].includes((target as HTMLInputElement).type)) return;
      }
      if (document.querySelector(".modal-backdrop")) return;
      const control = event.ctrlKey || event.metaKey;
      const key = event.key;
      if (control && key.toLowerCase() === "z") {
        event.preventDefault();
        if (event.shiftKey) this.redo();
        else this.undo();
      } else if (control && key.toLowerCase() === "y") {
        event.preventDefault();
        this.redo();
      } else if (control && key.toLowerCase() === "s") {
        event.preventDefault();
        this.save();
      } else if (control) {
        return;
      } else if (key === "b" || key === "B") this.setTool("brush");
      else if (key === "e" || key === "E") this.setTool("eraser");
      else if (key === "h" || key === "H") this.setTool("pan");
      else if (key === "l" || key === "L") this.toggleLive();
      else if (key === "[") this.setBrushSize(this.brushSizeState - 1);
      else if (key === "]") this.setBrushSize(this.brushSizeState + 1);
      else if (key === "+" || key === "=") this.views.forEach((v) => v.zoomBy(1.25));
      else if (key === "-") this.views.forEach((v) => v.zoomBy(0.8));
      else if (key === "0") this.fitAll();
      else if (key === "?") showShortcuts();
      else if (key === "PageUp" || key === "PageDown" || key === "ArrowUp" || key === "ArrowDown") {
        const image = this.image();
        if (!image || image.shape[1] <= 1) return;
        event.preventDefault();
        const delta = key === "PageUp" || key === "ArrowUp" ? 1 : -1;
        this.cursorState.z = Math.max(0, Math.min(image.shape[1] - 1, this.cursorState.z + delta));
        this.renderSliceBar();
        this.requestRender();
      } else if (/^[1-9]$/.test(key)) {
        const label = Number(key);
        if (this.project && label <= this.project.classes.length) this.selectClass(label);
      }
    });
  }
}

// ---- helpers

function intersects(a: TileAddress, box: Box): boolean {
  const [t0, z0, y0, x0] = box.begin;
  const [t1, z1, y1, x1] = box.end;
  if (a.t < t0 || a.t >= t1) return false;
  const step = TILE_SIZE << a.level;
  const u0 = a.u * step,
    u1 = u0 + step,
    v0 = a.v * step,
    v1 = v0 + step;
  const overlap = (b0: number, b1: number, c0: number, c1: number) => b0 < c1 && c0 < b1;
  if (a.plane === "xy") return a.slice >= z0 && a.slice < z1 && overlap(u0, u1, x0, x1) && overlap(v0, v1, y0, y1);
  if (a.plane === "xz") return a.slice >= y0 && a.slice < y1 && overlap(u0, u1, x0, x1) && overlap(v0, v1, z0, z1);
  return a.slice >= x0 && a.slice < x1 && overlap(u0, u1, z0, z1) && overlap(v0, v1, y0, y1);
}

function section(title: string, ...children: (Node | string)[]): HTMLElement {
  return el("section", { class: "panel" }, el("h2", {}, title), ...children);
}

function slider(min: number, max: number, step: number, value: number, onInput: (value: number) => void, testId?: string): HTMLInputElement {
  const input = el("input", { type: "range", min: String(min), max: String(max), step: String(step), value: String(value) }) as HTMLInputElement;
  if (testId) input.dataset.testid = testId;
  input.oninput = () => onInput(Number(input.value));
  return input;
}

function checkbox(checked: boolean, onChange: (on: boolean) => void, testId?: string): HTMLInputElement {
  const input = el("input", { type: "checkbox" }) as HTMLInputElement;
  input.checked = checked;
  if (testId) input.dataset.testid = testId;
  input.onchange = () => onChange(input.checked);
  return input;
}

function showShortcuts(): void {
  const rows: [string, string][] = [
    ["B / E / H", "Brush / eraser / pan"],
    ["1 … 9", "Paint with class 1 … 9"],
    ["[ and ]", "Smaller / larger brush"],
    ["Ctrl+Z, Ctrl+Shift+Z (Ctrl+Y)", "Undo, redo"],
    ["L", "Live update on or off"],
    ["Ctrl+S", "Save the project"],
    ["Scroll, + and -, 0", "Zoom, fit to the window"],
    ["Right-drag, or Space + drag", "Pan"],
    ["Ctrl+click", "Move the cursor of the orthogonal views"],
    ["Page Up / Page Down", "Next / previous z slice"],
  ];
  modal(
    "Keyboard and mouse",
    el("table", { class: "shortcuts" }, ...rows.map(([keys, what]) => el("tr", {}, el("th", {}, keys), el("td", {}, what)))),
  );
}

function askText(title: string, prompt: string, initial: string): Promise<string | null> {
  return new Promise((resolve) => {
    const input = el("input", { type: "text", class: "wide", value: initial, "data-testid": "save-path" }) as HTMLInputElement;
    const ok = el("button", { class: "button primary", "data-testid": "save-confirm" }, "Save");
    let answered = false;
    const dialog = modal(title, el("p", {}, prompt), el("div", { class: "row" }, input, ok), () => {
      if (!answered) resolve(null);
    });
    const finish = () => {
      answered = true;
      dialog.close();
      resolve(input.value.trim() || null);
    };
    ok.onclick = finish;
    input.onkeydown = (event) => {
      if (event.key === "Enter") finish();
    };
    input.focus();
    input.select();
  });
}

const app = new App();
(window as unknown as { grove: App }).grove = app;
app.start(document.getElementById("app")!).catch((error) => app.error(error));

export { planeExtent };
