// End-to-end tests of grove's browser UI in Debian's Chromium (playwright-core). A person's
// session: open a 2D image, add two classes, paint nuclei and background with the mouse, turn
// on live update, check the overlay's colours where nuclei and background are, undo a stroke,
// save, reload and see the labels again (also after restarting the server on the saved
// project); open a 3D volume and paint in the orthogonal views. Screenshots go to
// $GROVE_E2E_SCREENSHOTS (default: build/e2e-screenshots).
//
// Server: the test-only server over the test double by default; GROVE_E2E_BACKEND=real runs
// `grove serve` (the real pixel-classification backend).
// Exit status: 0 all passed, 1 a test failed, 77 skipped (Chromium, the npm packages, the
// server or the test data missing), with the reason printed.
import fs from "node:fs";
import path from "node:path";
import {
  REPO,
  SHARED,
  addImage,
  apiTile,
  findSpots,
  tileValues,
  launchBrowser,
  loadPlaywright,
  makeRoot,
  paint,
  shownColor,
  skip,
  serverCommand,
  startServer,
  waitFor,
} from "./harness.mjs";

if (!fs.existsSync(SHARED)) skip(`${SHARED} is absent: the test data is not available here`);
const playwright = await loadPlaywright();
const screenshots = process.env.GROVE_E2E_SCREENSHOTS ?? path.join(REPO, "build", "e2e-screenshots");
fs.mkdirSync(screenshots, { recursive: true });

const results = [];
function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function test(name, body) {
  const started = Date.now();
  try {
    await body();
    results.push([name, true]);
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    results.push([name, false]);
    console.log(`FAIL ${name}: ${error.stack ?? error}`);
  }
}

const root = makeRoot(["2d.h5", "3d.h5"]);
let server = await startServer(root);
const { browser, close } = await launchBrowser(playwright);
const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
let page = await context.newPage();
const pageErrors = [];
page.on("pageerror", (error) => pageErrors.push(String(error)));

const shot = async (name) => {
  const file = path.join(screenshots, `${name}.png`);
  await page.screenshot({ path: file });
  console.log(`     screenshot ${file}`);
};

// Red-dominant / green-dominant: the two classes' colours (#e6194b, #3cb44b) over the image.
const reddish = ([r, g]) => r > g + 30;
const greenish = ([r, g]) => g > r + 30;
let spots = null;

await test("without the token the page and the API answer 401", async () => {
  const anonymous = await browser.newContext();
  const other = await anonymous.newPage();
  const response = await other.goto(server.origin + "/");
  check(response.status() === 401, `page gave ${response.status()}`);
  check((await other.textContent("body")).includes("access token"), "no explanation on the 401 page");
  const api = await other.goto(server.origin + "/api/project");
  check(api.status() === 401, `API gave ${api.status()}`);
  await anonymous.close();
});

await test("the page opens with the token and shows its controls", async () => {
  await page.goto(server.url);
  check(!page.url().includes("token="), "the token stays in the address bar");
  for (const id of ["viewer", "tool-brush", "tool-eraser", "brush-size", "class-list", "class-add", "live-update", "undo", "redo", "save", "status"]) {
    check((await page.getByTestId(id).count()) === 1, `data-testid=${id} missing`);
  }
  await waitFor(async () => /Connected|Ready/.test(await page.getByTestId("status").textContent()), "status Ready");
  await shot("01-empty");
});

await test("2D: open an image, add two classes, paint, live update colours nuclei and background", async () => {
  await addImage(page, "2d.h5");
  const image = await page.evaluate(() => window.grove.image());
  check(image.shape[2] === 1024 && image.shape[3] === 1344, `shape ${image.shape}`);
  await page.getByTestId("class-add").click();
  await page.getByTestId("class-add").click();
  await waitFor(async () => (await page.locator("[data-testid=class-list] li[data-label]").count()) === 2, "two classes");

  const raw = await apiTile(page, { image: image.id, layer: "raw", plane: "xy", level: 0, u: 0, v: 0, w: 1024, h: 1024 });
  spots = findSpots(raw);
  check(spots.nuclei.length >= 3 && spots.background.length >= 3, "could not find nuclei and background in 2d.h5");
  const [n0, n1] = spots.nuclei;
  const [b0, b1] = spots.background;
  await page.waitForTimeout(300); // let the first tiles draw
  await page.getByTestId("brush-size").fill("5");
  await page.locator("[data-testid=class-list] li[data-label='1']").click();
  await paint(page, "xy", [[n0[0] - 3, n0[1]], [n0[0] + 3, n0[1]]]);
  await paint(page, "xy", [[n1[0], n1[1] - 3], [n1[0], n1[1] + 3]]);
  await page.locator("[data-testid=class-list] li[data-label='2']").click();
  await paint(page, "xy", [[b0[0] - 15, b0[1]], [b0[0] + 15, b0[1]]]);
  await paint(page, "xy", [[b1[0], b1[1] - 15], [b1[0], b1[1] + 15]]);

  // The strokes are stored: label tiles show them.
  await waitFor(async () => {
    const stored = await tileValues(page, { image: image.id, layer: "labels", w: 1024, h: 1024 }, [n0, b0]);
    return stored[0] === 1 && stored[1] === 2;
  }, "the nucleus and background strokes to be stored", 10000);

  await page.getByTestId("live-update").click();
  await waitFor(() => page.evaluate(() => window.grove.project?.live_update === true), "live update on");
  // Unpainted places: a third nucleus and a third dark area.
  const [n2] = spots.nuclei.slice(2);
  const [b2] = spots.background.slice(2);
  await waitFor(async () => {
    const nucleus = await shownColor(page, "xy", n2[0], n2[1]);
    const background = await shownColor(page, "xy", b2[0], b2[1]);
    return reddish(nucleus) && greenish(background);
  }, "the prediction overlay to colour an unpainted nucleus red and background green", 60000);
  const status = await page.getByTestId("status").textContent();
  check(!/error|failed/i.test(status), `status shows ${status}`);
  await shot("02-2d-live-update");
});

await test("undo removes the last stroke, redo brings it back", async () => {
  const image = await page.evaluate(() => window.grove.image());
  const [, , n3] = spots.nuclei.slice(1);
  const target = n3 ?? spots.nuclei[3];
  await page.locator("[data-testid=class-list] li[data-label='1']").click();
  await paint(page, "xy", [[target[0] - 2, target[1]], [target[0] + 2, target[1]]]);
  const labelAt = async () => (await tileValues(page, { image: image.id, layer: "labels", w: 1024, h: 1024 }, [target]))[0];
  await waitFor(async () => (await labelAt()) === 1, "the third stroke to be stored", 10000);
  await page.getByTestId("undo").click();
  await waitFor(async () => (await labelAt()) === 0, "undo");
  const [earlier] = await tileValues(page, { image: image.id, layer: "labels", w: 1024, h: 1024 }, [spots.nuclei[0]]);
  check(earlier === 1, "undo removed an earlier stroke too");
  await page.getByTestId("redo").click();
  await waitFor(async () => (await labelAt()) === 1, "redo");
  await page.keyboard.press("Control+z");
  await waitFor(async () => (await labelAt()) === 0, "undo by keyboard");
  // The page shows the undone stroke's place without the label colour again.
  await waitFor(async () => {
    const [r, g, b] = await shownColor(page, "xy", target[0], target[1]);
    return !(r > 200 && g < 80 && b < 120);
  }, "the undone stroke to disappear from the view");
});

await test("segmentation and uncertainty layers, and export with progress", async () => {
  const [, , n2] = spots.nuclei;
  const [, , b2] = spots.background;
  await page.getByTestId("prediction-layer").selectOption("segmentation");
  await waitFor(async () => reddish(await shownColor(page, "xy", n2[0], n2[1])) && greenish(await shownColor(page, "xy", b2[0], b2[1])), "segmentation colours");
  await page.getByTestId("show-uncertainty").check();
  await page.waitForTimeout(300);
  await shot("02b-2d-segmentation-uncertainty");
  await page.getByTestId("show-uncertainty").uncheck();
  await page.getByTestId("prediction-layer").selectOption("probabilities");
  // Export the simple segmentation as .npy next to the image.
  await page.getByRole("button", { name: "Export" }).click();
  const dialog = page.locator(".modal");
  await dialog.locator("select").nth(1).selectOption("simple-segmentation");
  await dialog.locator("select").nth(2).selectOption("npy");
  await dialog.getByRole("button", { name: "Export" }).click();
  await waitFor(async () => (await page.locator(".toast.success", { hasText: "Exported" }).count()) > 0, "the export to finish", 120000);
  const written = fs.readdirSync(root).filter((name) => name.startsWith("2d_") && name.endsWith(".npy"));
  check(written.length === 1, `export wrote ${written.join(", ") || "nothing"}`);
  const bytes = fs.readFileSync(path.join(root, written[0]));
  check(bytes.subarray(1, 6).toString() === "NUMPY", "the export is not an .npy file");
});

let savedProject = null;
await test("save, reload the page and see the labels again", async () => {
  await page.getByTestId("save").click();
  const pathInput = page.getByTestId("save-path");
  if (await pathInput.count()) {
    await pathInput.fill("e2e-project.grove");
    await page.getByTestId("save-confirm").click();
  }
  // The page says so (a toast; the status line may already show newer news).
  await waitFor(async () => (await page.locator(".toast.success", { hasText: "Saved" }).count()) > 0, "the page to say Saved");
  savedProject = path.join(root, "e2e-project.grove");
  check(fs.existsSync(savedProject), "no project file written");
  await waitFor(() => page.evaluate(() => window.grove.project.dirty === false), "the project to be marked saved");
  await page.reload();
  await waitFor(() => page.evaluate(() => window.grove.image()?.name === "2d.h5"), "image after reload");
  const [n0] = spots.nuclei;
  const [b0] = spots.background;
  await waitFor(async () => reddish(await shownColor(page, "xy", n0[0], n0[1])) && greenish(await shownColor(page, "xy", b0[0], b0[1])), "labels shown after reload");
  await shot("03-2d-after-reload");
});

await test("restarting the server on the saved project brings the labels back", async () => {
  await server.stop();
  server = await startServer(root, savedProject);
  await page.goto(server.url);
  await waitFor(() => page.evaluate(() => window.grove.image()?.name === "2d.h5"), "image of the saved project");
  const image = await page.evaluate(() => window.grove.image());
  const [n0] = spots.nuclei;
  const [b0] = spots.background;
  const [nucleus, background] = await tileValues(page, { image: image.id, layer: "labels", w: 1024, h: 1024 }, [n0, b0]);
  check(nucleus === 1, "nucleus label lost");
  check(background === 2, "background label lost");
  const classes = await page.evaluate(() => window.grove.project.classes.length);
  check(classes === 2, `${classes} classes after reopening`);
});

await test("3D: three linked orthogonal views, painting in XY and YZ, prediction in all views", async () => {
  // A new project: a classifier of 2D images does not apply to volumes (nor does ilastik's).
  await server.stop();
  server = await startServer(root);
  await page.goto(server.url);
  await addImage(page, "3d.h5");
  await page.getByTestId("class-add").click();
  await page.getByTestId("class-add").click();
  await waitFor(async () => (await page.locator("[data-testid=class-list] li[data-label]").count()) === 2, "two classes");
  const image = await page.evaluate(() => window.grove.image());
  check(image.shape[1] === 50, `3D shape ${image.shape}`);
  check((await page.locator(".slice-view").count()) === 3, "three views");
  // Ctrl+click in XY moves the cursor (and paints nothing); the other views follow.
  const view = page.locator(".slice-view[data-plane=xy] canvas");
  const box = await view.boundingBox();
  const target = await page.evaluate(() => {
    const v = window.grove.views.find((candidate) => candidate.plane === "xy");
    return v.toScreen(20.5, 30.5);
  });
  await page.keyboard.down("Control");
  await page.mouse.click(box.x + target[0], box.y + target[1]);
  await page.keyboard.up("Control");
  await waitFor(() => page.evaluate(() => window.grove.cursor().x === 20 && window.grove.cursor().y === 30), "cursor moved by Ctrl+click");
  const [painted] = await tileValues(page, { image: image.id, layer: "labels", plane: "xy", slice: 25, w: 64, h: 64 }, [[20, 30]]);
  check(painted === 0, "Ctrl+click painted a label");
  // The z slider changes the XY slice.
  await page.getByTestId("slider-z").fill("10");
  check((await page.evaluate(() => window.grove.cursor().z)) === 10, "z slider");
  // Paint in XY (class 1) and YZ (class 2).
  await page.locator("[data-testid=class-list] li[data-label='1']").click();
  await paint(page, "xy", [[5, 5], [15, 5]]);
  await page.locator("[data-testid=class-list] li[data-label='2']").click();
  await paint(page, "yz", [[30, 40], [40, 40]]); // u = z, v = y, in slice x = 20
  // (The stroke's request may still be on its way when the mouse is up.)
  await waitFor(async () => (await tileValues(page, { image: image.id, layer: "labels", plane: "xy", slice: 10, w: 64, h: 64 }, [[10, 5]]))[0] === 1, "the XY stroke stored at z=10", 10000);
  await page.getByTestId("live-update").click();
  try {
    await waitFor(async () => (await tileValues(page, { image: image.id, layer: "labels", plane: "xz", slice: 40, w: 64, h: 64 }, [[20, 35]]))[0] === 2, "the YZ stroke seen in XZ at y=40, x=20, z=35", 10000);
  } catch (error) {
    await shot("04-3d-failure");
    const cursor = await page.evaluate(() => window.grove.cursor());
    const points = [];
    for (let v = 0; v < 60; v++) for (let u = 0; u < 50; u++) points.push([u, v]);
    const values = await tileValues(page, { image: image.id, layer: "labels", plane: "yz", slice: cursor.x, w: 64, h: 64 }, points);
    const hits = points.filter((_, i) => values[i]);
    throw new Error(`${error.message}; cursor ${JSON.stringify(cursor)}; yz labels at ${JSON.stringify(hits.slice(0, 4))}… (${hits.length}); status: ${await page.getByTestId("status").textContent()}`);
  }
  await waitFor(async () => {
    const counts = await page.evaluate(() =>
      ["xy", "xz", "yz"].map((plane) => {
        const v = window.grove.views.find((candidate) => candidate.plane === plane);
        return v ? 1 : 0;
      }),
    );
    const tiles = await Promise.all(
      ["xy", "xz", "yz"].map((plane) => apiTile(page, { image: image.id, layer: "probabilities", plane, slice: 10, w: 32, h: 32 })),
    );
    return counts.every(Boolean) && tiles.every((tile) => tile && tile.channels === 2);
  }, "predictions in all three planes", 60000);
  await page.waitForTimeout(500);
  await shot("04-3d-views");
});

await test("features dialog shows ilastik's matrix and applies a selection", async () => {
  await page.getByRole("button", { name: "Features" }).click();
  const matrix = page.getByTestId("feature-matrix");
  check((await matrix.locator("input[data-family]").count()) === 42, "6 × 7 matrix");
  check(await matrix.locator("input[data-family=LaplacianOfGaussian][data-scale='0']").isDisabled(), "σ 0.3 only for smoothing");
  await shot("05-features");
  await matrix.locator("input[data-family=GaussianGradientMagnitude][data-scale='5']").check();
  await page.getByTestId("features-apply").click();
  await waitFor(() => page.evaluate(() => window.grove.project.features.selected[2][5] === true), "feature applied");
});

await test("errors from the server are shown in the page", async () => {
  await page.getByTestId("image-add").click();
  await page.getByTestId("image-path").fill("../outside.h5");
  await page.getByTestId("image-open").click();
  await waitFor(async () => /outside|not allowed/i.test(await page.getByTestId("status").textContent()), "error in the status area");
  await page.keyboard.press("Escape");
  await shot("06-error");
});

// Autocontext (the real backend only: the test double has one stage). A two-stage project:
// stage 1 as above, then stage 2 with its own strokes, its own overlay, and both stages' labels
// back after saving and restarting on the project. Few features keep it quick.
if (serverCommand(root).real) {
  await test("autocontext: paint and train stage 1, switch to stage 2, paint, its overlay, save and reopen", async () => {
    await server.stop();
    const project = path.join(root, "e2e-autocontext.grove");
    server = await startServer(root, project);
    await page.goto(server.url);
    // A new project is one of pixel classification; the stage count makes it autocontext.
    await waitFor(() => page.evaluate(() => window.grove.project?.stages === 1), "a new project");
    await page.getByTestId("stage-count").selectOption("2");
    await waitFor(() => page.evaluate(() => window.grove.project?.stages === 2), "a project of two stages");
    check(await page.getByTestId("stage-select").isVisible(), "the stage switcher is hidden");
    await addImage(page, "2d.h5");
    const image = await page.evaluate(() => window.grove.image());
    if (!spots) spots = findSpots(await apiTile(page, { image: image.id, layer: "raw", w: 1024, h: 1024 }));
    const few = { selected: [0, 1, 2, 3, 4, 5].map((family) => [0, 1, 2, 3, 4, 5, 6].map((scale) => (family === 0 || family === 4) && (scale === 2 || scale === 4))), in_2d: Array(7).fill(false) };
    const setFeatures = () => page.evaluate(async (body) => (await fetch("/api/features", { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })).status, few);
    check((await setFeatures()) === 200, "could not set stage 1's features");
    await page.getByTestId("class-add").click();
    await page.getByTestId("class-add").click();
    await waitFor(async () => (await page.locator("[data-testid=class-list] li[data-label]").count()) === 2, "two classes");
    const [n0, n1, n2, n3] = spots.nuclei;
    const [b0, b1, b2] = spots.background;
    await page.waitForTimeout(300);
    await page.getByTestId("brush-size").fill("5");
    await page.locator("[data-testid=class-list] li[data-label='1']").click();
    await paint(page, "xy", [[n0[0] - 3, n0[1]], [n0[0] + 3, n0[1]]]);
    await page.locator("[data-testid=class-list] li[data-label='2']").click();
    await paint(page, "xy", [[b0[0] - 15, b0[1]], [b0[0] + 15, b0[1]]]);
    await page.getByTestId("live-update").click();
    await waitFor(async () => reddish(await shownColor(page, "xy", n1[0], n1[1])) && greenish(await shownColor(page, "xy", b1[0], b1[1])), "stage 1's overlay", 60000);

    await page.getByTestId("stage-2").click();
    await waitFor(() => page.evaluate(() => window.grove.project.stage === 2), "stage 2 selected");
    check((await page.evaluate(() => window.grove.project.classes.length)) === 2, "stage 2 did not start with stage 1's classes");
    check((await page.evaluate(() => window.grove.project.trained)) === false, "stage 2 claims a classifier before training");
    check((await setFeatures()) === 200, "could not set stage 2's features");
    await page.locator("[data-testid=class-list] li[data-label='1']").click();
    await paint(page, "xy", [[n2[0] - 3, n2[1]], [n2[0] + 3, n2[1]]]);
    await page.locator("[data-testid=class-list] li[data-label='2']").click();
    await paint(page, "xy", [[b2[0] - 15, b2[1]], [b2[0] + 15, b2[1]]]);
    // Stage 2's own labels are where its strokes are, not stage 1's.
    const [stage2n2, stage2n0] = await tileValues(page, { image: image.id, layer: "labels", stage: 2, w: 1024, h: 1024 }, [n2, n0]);
    check(stage2n2 === 1 && stage2n0 === 0, `stage 2's labels ${stage2n2}, ${stage2n0}`);
    await waitFor(async () => (await apiTile(page, { image: image.id, layer: "probabilities", stage: 2, w: 64, h: 64 }))?.channels === 2, "stage 2 trained by live update", 60000);
    await waitFor(async () => reddish(await shownColor(page, "xy", n3[0], n3[1])) && greenish(await shownColor(page, "xy", b1[0], b1[1])), "stage 2's overlay", 60000);
    await shot("07-autocontext-stage-2");

    await page.getByTestId("save").click();
    await waitFor(async () => (await page.locator(".toast.success", { hasText: "Saved" }).count()) > 0, "the page to say Saved");
    check(fs.existsSync(project), "no autocontext project written");
    await server.stop();
    server = await startServer(root, project);
    await page.goto(server.url);
    await waitFor(() => page.evaluate(() => window.grove.image()?.name === "2d.h5" && window.grove.project.stages === 2), "the saved project of two stages");
    const reopened = await page.evaluate(() => window.grove.image().id);
    const first = await tileValues(page, { image: reopened, layer: "labels", stage: 1, w: 1024, h: 1024 }, [n0, b0, n2]);
    const second = await tileValues(page, { image: reopened, layer: "labels", stage: 2, w: 1024, h: 1024 }, [n2, b2, n0]);
    check(first.join() === "1,2,0", `stage 1's labels after reopening: ${first}`);
    check(second.join() === "1,2,0", `stage 2's labels after reopening: ${second}`);
    await page.getByTestId("stage-2").click();
    await waitFor(async () => reddish(await shownColor(page, "xy", n2[0], n2[1])), "stage 2's labels shown after reopening");
    check((await page.evaluate(() => window.grove.project.trained)) === true, "stage 2's classifier lost");
    await waitFor(async () => (await apiTile(page, { image: reopened, layer: "probabilities", stage: 2, w: 64, h: 64 }))?.channels === 2, "stage 2's prediction after reopening");
    await shot("08-autocontext-reopened");
  });
}

await test("no uncaught errors in the page", async () => {
  check(pageErrors.length === 0, pageErrors.join("\n"));
});

await close();
await server.stop();
fs.rmSync(root, { recursive: true, force: true });
const passed = results.filter(([, ok]) => ok).length;
const failed = results.length - passed;
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
