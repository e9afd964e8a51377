// Feature selection as ilastik shows it (family × scale, with 2D/3D per scale) and the
// feature-importance plot after training.

import type { FeatureImportance, FeatureSelection } from "./api";
import { clear, el, modal } from "./dom";

const FAMILY_LABELS: Record<string, string> = {
  GaussianSmoothing: "Gaussian smoothing",
  LaplacianOfGaussian: "Laplacian of Gaussian",
  GaussianGradientMagnitude: "Gaussian gradient magnitude",
  DifferenceOfGaussians: "Difference of Gaussians",
  StructureTensorEigenvalues: "Structure tensor eigenvalues",
  HessianOfGaussianEigenvalues: "Hessian of Gaussian eigenvalues",
};

const FAMILY_GROUPS: Record<string, string> = {
  GaussianSmoothing: "Colour / intensity",
  LaplacianOfGaussian: "Edge",
  GaussianGradientMagnitude: "Edge",
  DifferenceOfGaussians: "Edge",
  StructureTensorEigenvalues: "Texture",
  HessianOfGaussianEigenvalues: "Texture",
};

export function openFeatureDialog(
  current: FeatureSelection,
  is3d: boolean,
  apply: (selection: { selected: boolean[][]; in_2d: boolean[] }) => Promise<void>,
  onError: (error: unknown) => void,
): void {
  const selected = current.selected.map((row) => [...row]);
  const in2d = [...current.in_2d];
  const count = el("span", { class: "hint" });
  const table = el("table", { class: "feature-matrix", "data-testid": "feature-matrix" });
  const boxes: HTMLInputElement[][] = [];
  const updateCount = () => {
    const n = selected.flat().filter(Boolean).length;
    count.textContent = `${n} feature${n === 1 ? "" : "s"} per channel selected`;
  };
  const head = el("tr", {}, el("th", {}, ""), ...current.scales.map((s) => el("th", {}, `σ ${s.toFixed(1)}`)));
  table.appendChild(head);
  current.families.forEach((family, f) => {
    const row = el("tr", {}, el("th", { class: "family" }, el("span", { class: "group" }, FAMILY_GROUPS[family] ?? ""), FAMILY_LABELS[family] ?? family));
    boxes.push([]);
    current.scales.forEach((_, s) => {
      const valid = s !== 0 || f === 0;
      const box = el("input", { type: "checkbox", "data-family": family, "data-scale": String(s) }) as HTMLInputElement;
      box.checked = selected[f][s];
      box.disabled = !valid;
      box.onchange = () => {
        selected[f][s] = box.checked;
        updateCount();
      };
      boxes[f].push(box);
      row.appendChild(el("td", { class: valid ? "" : "invalid" }, box));
    });
    table.appendChild(row);
  });
  const dimensionRow = el("tr", { class: "dimension" }, el("th", { class: "family" }, "Compute in 2D (per slice)"));
  current.scales.forEach((_, s) => {
    const box = el("input", { type: "checkbox", title: "2D: per z-slice; unticked: in 3D" }) as HTMLInputElement;
    box.checked = in2d[s];
    box.disabled = !is3d;
    box.onchange = () => (in2d[s] = box.checked);
    dimensionRow.appendChild(el("td", {}, box));
  });
  table.appendChild(dimensionRow);

  const setAll = (on: boolean) => {
    boxes.forEach((row, f) =>
      row.forEach((box, s) => {
        if (box.disabled) return;
        box.checked = on;
        selected[f][s] = on;
      }),
    );
    updateCount();
  };
  const all = el("button", { class: "button small" }, "Select all");
  all.onclick = () => setAll(true);
  const none = el("button", { class: "button small" }, "Clear");
  none.onclick = () => setAll(false);
  const ok = el("button", { class: "button primary", "data-testid": "features-apply" }, "Apply");
  const dialog = modal(
    "Features",
    el("p", { class: "hint" }, "Each feature is computed per input channel at each ticked scale σ (in pixels). Larger scales see more context; more features train slower."),
    table,
    el("div", { class: "row" }, all, none, el("span", { class: "spacer" }), count, ok),
  );
  ok.onclick = async () => {
    try {
      await apply({ selected, in_2d: in2d });
      dialog.close();
    } catch (error) {
      onError(error);
    }
  };
  updateCount();
}

export function renderImportance(panel: HTMLElement, features: FeatureImportance[]): void {
  clear(panel);
  if (features.length === 0) {
    panel.appendChild(el("p", { class: "hint" }, "Train to see which features matter."));
    return;
  }
  const sorted = [...features].sort((a, b) => b.importance - a.importance).slice(0, 12);
  const top = sorted[0].importance || 1;
  for (const feature of sorted) {
    const name = `${FAMILY_LABELS[feature.family] ?? feature.family} σ${feature.scale}` + (feature.component ? ` #${feature.component + 1}` : "") + (feature.channel ? ` ch${feature.channel}` : "");
    panel.appendChild(
      el(
        "div",
        { class: "bar-row", title: `${name}: ${(100 * feature.importance).toFixed(1)} %` },
        el("span", { class: "bar-label" }, name),
        el("span", { class: "bar" }, el("span", { class: "bar-fill", style: `width:${(100 * feature.importance) / top}%` })),
        el("span", { class: "bar-value" }, `${(100 * feature.importance).toFixed(1)}%`),
      ),
    );
  }
  if (features.length > sorted.length) panel.appendChild(el("p", { class: "hint" }, `and ${features.length - sorted.length} more`));
}
