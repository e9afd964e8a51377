// Shared pieces of the browser tests and the benchmark: starting a grove server on a temporary
// root folder, launching Debian's Chromium through playwright-core (never a downloaded browser),
// and helpers that talk to the page the way a person does (mouse on the canvas).
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const WEB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const REPO = process.env.GROVE_SOURCE_DIR ?? path.resolve(WEB_DIR, "..");
export const SHARED = path.resolve(REPO, "..", "shared", "data");
export const INPUTS = path.join(SHARED, "ilastik_testdata", "inputdata");
export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
export const SKIP = 77; // ctest's SKIP_RETURN_CODE

export function skip(reason) {
  console.log(`SKIPPED: ${reason}`);
  process.exit(SKIP);
}

export async function loadPlaywright() {
  try {
    return await import("playwright-core");
  } catch {
    skip("playwright-core is not installed in web/node_modules (run scripts/install-deps)");
  }
}

// Which server to test: grove serve (the real backend) when GROVE_E2E_BACKEND=real, else the
// test-only server over the test double. extra: more arguments of grove serve (real only).
export function serverCommand(root, project, extra = []) {
  const real = process.env.GROVE_E2E_BACKEND === "real";
  if (real) {
    const grove = process.env.GROVE_BIN ?? path.join(REPO, "build", "bin", "grove");
    const args = ["serve", "--port", "0", "--no-browser", "--root", root, ...extra];
    if (project) args.splice(1, 0, project);
    return { command: grove, args, real };
  }
  const server = process.env.GROVE_TEST_SERVER ?? path.join(REPO, "build", "bin", "grove_test_server");
  const args = ["--port", "0", "--root", root];
  if (project) args.push("--project", project);
  return { command: server, args, real };
}

// Starts the server and resolves with { url, origin, process, stop() } once it prints its URL.
export function startServer(root, project, extra = []) {
  const { command, args } = serverCommand(root, project, extra);
  if (!fs.existsSync(command)) skip(`${command} is not built`);
  const env = { ...process.env };
  if (!env.GROVE_WEB_DIR) env.GROVE_WEB_DIR = path.join(REPO, "build", "web");
  const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 30000);
    const onData = (chunk) => {
      output += chunk.toString();
      const match = output.match(/http:\/\/[^\s]+\?token=[0-9a-f]+/);
      if (match) {
        clearTimeout(timer);
        const url = match[0];
        resolve({
          url,
          origin: new URL(url).origin,
          process: child,
          output: () => output,
          stop: () =>
            new Promise((done) => {
              if (child.exitCode !== null) return done();
              child.once("exit", done);
              child.kill("SIGTERM");
              setTimeout(() => child.kill("SIGKILL"), 5000);
            }),
        });
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${output}`));
    });
  });
}

// A fresh root folder with copies of the input files (symbolic links out of the root would be
// refused, by design).
export function makeRoot(files) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "grove-e2e-"));
  for (const file of files) fs.copyFileSync(path.join(INPUTS, file), path.join(root, file));
  return root;
}

export async function launchBrowser(playwright) {
  if (!fs.existsSync(CHROMIUM)) skip(`${CHROMIUM} is missing (apt-get install chromium)`);
  // playwright-core gives every launch a fresh, empty profile (its own --user-data-dir).
  const browser = await playwright.chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return {
    browser,
    close: async () => {
      await browser.close();
    },
  };
}

// ---- page helpers

export async function waitFor(predicate, what, timeout = 30000, interval = 100) {
  const start = Date.now();
  let last;
  while (Date.now() - start < timeout) {
    last = await predicate();
    if (last) return last;
    await new Promise((r) => setTimeout(r, interval));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export async function addImage(page, file) {
  await page.getByTestId("image-add").click();
  await page.getByTestId("image-path").fill(file);
  await page.getByTestId("image-open").click();
  await waitFor(
    () => page.evaluate((name) => window.grove.image()?.name === name, file),
    `image ${file} to open`,
  );
}

// Screen position (page coordinates) of plane pixel (u, v) in the view of `plane`.
export async function screenOf(page, plane, u, v) {
  return page.evaluate(
    ({ plane, u, v }) => {
      const view = window.grove.views.find((candidate) => candidate.plane === plane);
      const rect = view.canvas.getBoundingClientRect();
      const [x, y] = view.toScreen(u + 0.5, v + 0.5);
      return { x: rect.left + x, y: rect.top + y };
    },
    { plane, u, v },
  );
}

// Paints a polyline of plane pixels with the mouse.
export async function paint(page, plane, points) {
  const first = await screenOf(page, plane, points[0][0], points[0][1]);
  await page.mouse.move(first.x, first.y);
  await page.mouse.down();
  for (const [u, v] of points.slice(1)) {
    const p = await screenOf(page, plane, u, v);
    await page.mouse.move(p.x, p.y, { steps: 4 });
  }
  await page.mouse.up();
}

// The colour the viewer shows at plane pixel (u, v): [r, g, b] from the view's canvas.
export async function shownColor(page, plane, u, v) {
  return page.evaluate(
    ({ plane, u, v }) => {
      const view = window.grove.views.find((candidate) => candidate.plane === plane);
      const [x, y] = view.toScreen(u + 0.5, v + 0.5);
      const ratio = window.devicePixelRatio || 1;
      const pixel = view.canvas.getContext("2d").getImageData(Math.round(x * ratio), Math.round(y * ratio), 1, 1).data;
      return [pixel[0], pixel[1], pixel[2]];
    },
    { plane, u, v },
  );
}

// A tile from the API, decoded (header fields and pixels as a plain array).
export async function apiTile(page, params) {
  return page.evaluate(async (params) => {
    const query = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]));
    const response = await fetch(`/api/tile?${query}`);
    if (response.status === 204) return null;
    const buffer = await response.arrayBuffer();
    const view = new DataView(buffer);
    const code = view.getUint8(5);
    const channels = view.getUint16(6, true);
    const width = view.getUint32(8, true);
    const height = view.getUint32(12, true);
    const body = buffer.slice(32);
    const pixels = code === 1 ? new Uint8Array(body) : code === 2 ? new Uint16Array(body) : new Float32Array(body);
    return { channels, width, height, generation: Number(view.getBigUint64(16, true)), pixels: Array.from(pixels) };
  }, params);
}

// Values of a tile at (u, v) positions inside it (fetched and sampled in the page, so that only
// the few numbers travel to the test).
export async function tileValues(page, params, points) {
  return page.evaluate(
    async ({ params, points }) => {
      const query = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]));
      const response = await fetch(`/api/tile?${query}`);
      if (response.status === 204) return null;
      const buffer = await response.arrayBuffer();
      const view = new DataView(buffer);
      const channels = view.getUint16(6, true);
      const width = view.getUint32(8, true);
      const pixels = new Uint8Array(buffer, 32);
      return points.map(([u, v]) => pixels[(v * width + u) * channels]);
    },
    { params, points },
  );
}

// Finds bright blobs (nuclei) and dark places in a 2D raw tile: local means over a window.
export function findSpots(tile, { radius = 4, darkRadius = 20 } = {}) {
  const { width, height, pixels } = tile;
  const at = (x, y) => pixels[y * width + x];
  const mean = (cx, cy, r) => {
    let sum = 0;
    let n = 0;
    for (let y = cy - r; y <= cy + r; y++)
      for (let x = cx - r; x <= cx + r; x++) {
        if (x < 0 || y < 0 || x >= width || y >= height) continue;
        sum += at(x, y);
        n++;
      }
    return sum / n;
  };
  const bright = [];
  const dark = [];
  for (let y = darkRadius; y < height - darkRadius; y += 3)
    for (let x = darkRadius; x < width - darkRadius; x += 3) {
      bright.push([mean(x, y, radius), x, y]);
    }
  bright.sort((a, b) => b[0] - a[0]);
  const nuclei = [];
  for (const [value, x, y] of bright) {
    if (nuclei.every(([, nx, ny]) => Math.hypot(nx - x, ny - y) > 40)) nuclei.push([value, x, y]);
    if (nuclei.length >= 4) break;
  }
  for (let y = darkRadius; y < height - darkRadius; y += 9)
    for (let x = darkRadius; x < width - darkRadius; x += 9) {
      const m = mean(x, y, darkRadius);
      if (m < 12) dark.push([m, x, y]);
    }
  dark.sort((a, b) => a[0] - b[0]);
  const background = [];
  for (const [value, x, y] of dark) {
    if (background.every(([, bx, by]) => Math.hypot(bx - x, by - y) > 80)) background.push([value, x, y]);
    if (background.length >= 3) break;
  }
  return { nuclei: nuclei.map(([, x, y]) => [x, y]), background: background.map(([, x, y]) => [x, y]) };
}
