// Tiny DOM helpers: element creation, modal dialogs and the handful of line icons the page uses
// (drawn here, so the page needs no icon font or network).

type Child = Node | string | null | undefined | false;

export function el(tag: string, attributes: Record<string, string> = {}, ...children: Child[]): HTMLElement {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "value" && "value" in node) (node as HTMLInputElement).value = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child);
  }
  return node;
}

export function clear(node: HTMLElement): void {
  while (node.firstChild) node.removeChild(node.firstChild);
}

export interface Modal {
  close(): void;
  body: HTMLElement;
}

// A dialog over the page; Escape or a click outside closes it.
export function modal(title: string, ...content: (Node | string | (() => void))[]): Modal {
  const onClose = content.find((item) => typeof item === "function") as (() => void) | undefined;
  const nodes = content.filter((item) => typeof item !== "function") as (Node | string)[];
  const close = el("button", { class: "icon-button", title: "Close (Esc)" }, "×");
  const body = el("div", { class: "modal-body" }, ...nodes);
  const box = el("div", { class: "modal", role: "dialog", "aria-label": title }, el("div", { class: "modal-head" }, el("h2", {}, title), close), body);
  const backdrop = el("div", { class: "modal-backdrop" }, box);
  const keys = (event: KeyboardEvent) => {
    if (event.key === "Escape") finish();
  };
  const finish = () => {
    backdrop.remove();
    window.removeEventListener("keydown", keys);
    onClose?.();
  };
  close.onclick = finish;
  backdrop.addEventListener("mousedown", (event) => {
    if (event.target === backdrop) finish();
  });
  window.addEventListener("keydown", keys);
  document.body.appendChild(backdrop);
  return { close: finish, body };
}

const PATHS: Record<string, string> = {
  save: "M5 3h11l3 3v15H5z M8 3v6h8V3 M8 21v-7h8v7",
  export: "M12 3v12 M7 8l5-5 5 5 M5 15v6h14v-6",
  grid: "M4 4h7v7H4z M13 4h7v7h-7z M4 13h7v7H4z M13 13h7v7h-7z",
  plus: "M12 5v14 M5 12h14",
  brush: "M4 20c3 0 5-1.5 5-4 0-1.5-1-2.5-2.5-2.5S4 14.5 4 16c0 1.5 0 3-1 4z M9.5 13.5 20 3l1 1-10.5 10.5",
  eraser: "M16 3l5 5-11 11H5l-3-3z M9 8l7 7 M5 19h15",
  pan: "M12 2v20 M2 12h20 M12 2l-3 3 M12 2l3 3 M12 22l-3-3 M12 22l3-3 M2 12l3-3 M2 12l3 3 M22 12l-3-3 M22 12l-3 3",
  undo: "M9 14 4 9l5-5 M4 9h10a6 6 0 0 1 0 12h-3",
  redo: "M15 14l5-5-5-5 M20 9H10a6 6 0 0 0 0 12h3",
};

export function icon(name: string): SVGSVGElement {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", "icon");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", PATHS[name] ?? "");
  svg.appendChild(path);
  return svg;
}
