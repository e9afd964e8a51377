// Benchmark (not a test) of live update in the browser UI, issue 8: on 2d.h5 (1024 × 1344)
// with all features and 100 trees, the time from the end of a stroke (mouse up) to the first
// updated overlay tile of the visible viewport and to the complete update of the viewport,
// median of 10 strokes. The peer, measured in the same run: ilastik's compute core rebuilt from
// VIGRA (../shared/peers/ilastik_core.py), doing the same update (train on the same labels with
// 100 trees, predict the image) on the same threads.
//
//   node bench/ui_live_update.mjs [--test-double] [--strokes 10] [--threads 2]
//
// Default: `grove serve` (the real backend, build/bin/grove). --test-double runs the test-only
// server over the test double instead (only to check the script; its figures mean nothing).
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const harness = await import(path.join(here, "..", "web", "e2e", "harness.mjs"));
const { INPUTS, REPO, SHARED, addImage, findSpots, apiTile, launchBrowser, loadPlaywright, makeRoot, paint, startServer, waitFor } = harness;

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const index = args.indexOf(name);
  return index >= 0 ? args[index + 1] : fallback;
};
const strokes = Number(option("--strokes", "10"));
const threads = Number(option("--threads", "2"));
if (!args.includes("--test-double")) process.env.GROVE_E2E_BACKEND = "real";
if (!fs.existsSync(SHARED)) harness.skip(`${SHARED} is absent`);

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

const playwright = await loadPlaywright();
const root = makeRoot(["2d.h5"]);
const server = await startServer(root);
const { browser, close } = await launchBrowser(playwright);
const page = await (await browser.newContext({ viewport: { width: 1600, height: 1000 } })).newPage();
await page.goto(server.url);
await addImage(page, "2d.h5");
const image = await page.evaluate(() => window.grove.image());

// All 49 features.
await page.evaluate(async () => {
  const current = await (await fetch("/api/features")).json();
  const selected = current.selected.map((row, family) => row.map((_, scale) => scale !== 0 || family === 0));
  const response = await fetch("/api/features", {
    method: "PUT",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ selected, in_2d: current.in_2d }),
  });
  if (!response.ok) throw new Error(await response.text());
});
await page.getByTestId("class-add").click();
await page.getByTestId("class-add").click();
const raw = await apiTile(page, { image: image.id, layer: "raw", w: 1024, h: 1024 });
const spots = findSpots(raw);
const select = (label) => page.locator(`[data-testid=class-list] li[data-label='${label}']`).click();

// Initial labels, then live update on and wait for the first full prediction.
await select(1);
await paint(page, "xy", [[spots.nuclei[0][0] - 3, spots.nuclei[0][1]], [spots.nuclei[0][0] + 3, spots.nuclei[0][1]]]);
await select(2);
await paint(page, "xy", [[spots.background[0][0] - 10, spots.background[0][1]], [spots.background[0][0] + 10, spots.background[0][1]]]);
await page.getByTestId("live-update").click();
await waitFor(() => page.evaluate(() => window.grove.timings.length > 0 && window.grove.timings.every((t) => t.complete !== undefined)), "first prediction", 300000, 50);

// Measured strokes: short strokes alternating between classes at varied places.
const first = [];
const complete = [];
for (let i = 0; i < strokes; i++) {
  const label = (i % 2) + 1;
  const spot = label === 1 ? spots.nuclei[(i >> 1) % spots.nuclei.length] : spots.background[(i >> 1) % spots.background.length];
  const offset = 2 + (i % 3);
  await select(label);
  const before = await page.evaluate(() => window.grove.timings.length);
  await paint(page, "xy", [[spot[0] - offset, spot[1] + offset], [spot[0] + offset, spot[1] - offset]]);
  const timing = await waitFor(
    () => page.evaluate((index) => {
      const t = window.grove.timings[index];
      return t && t.complete !== undefined && t.firstUpdate !== undefined ? t : null;
    }, before),
    `update after stroke ${i + 1}`,
    300000,
    20,
  );
  first.push(timing.firstUpdate - timing.strokeEnd);
  complete.push(timing.complete - timing.strokeEnd);
  console.log(`stroke ${i + 1}: first ${(timing.firstUpdate - timing.strokeEnd).toFixed(0)} ms, complete ${(timing.complete - timing.strokeEnd).toFixed(0)} ms`);
  await page.waitForTimeout(200);
}

// The peer: ilastik's core on the same labels (all features, 100 trees, same threads).
const labels = await apiTile(page, { image: image.id, layer: "labels", w: 1024, h: 1024 });
const labelsRight = await apiTile(page, { image: image.id, layer: "labels", u: 1024, w: 1024, h: 1024 });
const shape = image.shape;
const dense = new Uint8Array(shape[2] * shape[3]);
for (let y = 0; y < shape[2]; y++) {
  for (let x = 0; x < shape[3]; x++) {
    dense[y * shape[3] + x] = x < 1024 ? labels.pixels[y * labels.width + x] : labelsRight.pixels[y * labelsRight.width + x - 1024];
  }
}
const work = fs.mkdtempSync(path.join(os.tmpdir(), "grove-bench-"));
const header = `{'descr': '|u1', 'fortran_order': False, 'shape': (${shape[2]}, ${shape[3]}), }`;
const padded = header.padEnd(Math.ceil((header.length + 11) / 64) * 64 - 11, " ") + "\n";
const prefix = Buffer.alloc(10);
Buffer.from("\x93NUMPY", "latin1").copy(prefix);
prefix[6] = 1;
prefix[7] = 0;
prefix.writeUInt16LE(padded.length, 8);
fs.writeFileSync(path.join(work, "labels.npy"), Buffer.concat([prefix, Buffer.from(padded, "latin1"), Buffer.from(dense)]));
const peerStart = performance.now();
const peer = spawnSync("/usr/bin/python3", [path.resolve(REPO, "..", "shared", "peers", "ilastik_core.py"), "pixel", path.join(INPUTS, "2d.h5") + "/data", path.join(work, "labels.npy"), "--threads", String(threads), "--trees", "100"], { encoding: "utf8" });
const peerMs = performance.now() - peerStart;
let peerReport = peer.stdout.trim().split("\n").pop();

await close();
await server.stop();
fs.rmSync(work, { recursive: true, force: true });
fs.rmSync(root, { recursive: true, force: true });

const firstMedian = median(first);
const completeMedian = median(complete);
console.log(`\nbackend: ${process.env.GROVE_E2E_BACKEND === "real" ? "grove serve (real)" : "TEST DOUBLE (figures mean nothing)"}; 2d.h5 1024x1344, all features, 100 trees, ${strokes} strokes`);
console.log(`median stroke end -> first updated overlay tile: ${firstMedian.toFixed(0)} ms (goal < 300 ms)`);
console.log(`median stroke end -> complete viewport update:  ${completeMedian.toFixed(0)} ms (goal < 1000 ms)`);
if (peer.status === 0) {
  console.log(`peer ilastik_core.py (VIGRA: features + train + predict, ${threads} threads): ${peerMs.toFixed(0)} ms wall; its report: ${peerReport}`);
  console.log(`ratio peer / grove complete update: ${(peerMs / completeMedian).toFixed(1)}x`);
} else {
  console.log(`peer failed: ${peer.stderr.slice(-500)}`);
}
