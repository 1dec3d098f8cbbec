// Drive the Meshmill web app in headless Chromium (Debian's) as an art lead would; save screenshots.
//   node tools/viewer_check.mjs BASE_URL OUT_DIR PLAN.json
// PLAN: {"tag": "...", "collection": "...", "output": <id>, "compare_image": <source id>, "views_output": <id>,
//        optionally "review_base": <a server with edits>, "review_output": <id>, "review_token": "...", "review_as": <variant>}
// Prints one JSON object of what it saw; the caller (tests/web/test_browser.py) asserts and checks pixels.
import { launchChromium } from "./chromium.mjs";
import { readFileSync } from "node:fs";

const [base, out, planFile] = process.argv.slice(2);
const plan = JSON.parse(readFileSync(planFile, "utf8"));
const browser = await launchChromium();
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
const seen = { errors: [] };
page.on("pageerror", (e) => seen.errors.push(String(e)));
page.on("console", (m) => { if (m.type() === "error") seen.errors.push(m.text()); });
const cards = () => page.locator("article.card").count();
const settle = () => page.waitForTimeout(400);

// search: everything, then narrowed through the form by tag, then by collection
await page.goto(`${base}/`);
seen.all = await cards();
await page.fill("input[name=tag]", plan.tag);
await Promise.all([page.waitForNavigation(), page.click("form.filters button[type=submit]")]);
seen.by_tag = await cards();
await page.fill("input[name=tag]", "");
await page.selectOption("select[name=collection]", plan.collection);
await Promise.all([page.waitForNavigation(), page.click("form.filters button[type=submit]")]);
seen.by_collection = await cards();
await page.screenshot({ path: `${out}/search.png`, fullPage: true });

// one output: the model drawn, then wireframe, then flat light
await page.goto(`${base}/outputs/${plan.output}?spin=0`);
await page.waitForSelector("#viewer[data-ready='1']", { timeout: 60000 });
await settle();
seen.faces = await page.evaluate(() => window.meshmill.viewers[0].faces);
await page.locator("#viewer canvas").screenshot({ path: `${out}/viewer-shaded.png` });
await page.screenshot({ path: `${out}/output-page.png` });
await page.click("#wireframe");
await settle();
await page.locator("#viewer canvas").screenshot({ path: `${out}/viewer-wireframe.png` });
await page.click("#wireframe");
await page.click("#lighting");
await settle();
await page.locator("#viewer canvas").screenshot({ path: `${out}/viewer-flat.png` });
await page.click("#lighting");
// levels of detail: the page lists them, and picking one shows its faces alone
seen.lod_options = await page.locator("#lod option").count();
if (seen.lod_options) {
  await page.selectOption("#lod", String(seen.lod_options - 1));
  await settle();
  seen.lod_faces = await page.evaluate(() => window.meshmill.viewers[0].faces);
  await page.locator("#viewer canvas").screenshot({ path: `${out}/viewer-last-lod.png` });
  await page.selectOption("#lod", "0");
}
seen.dagster_asset = await page.getAttribute("#dagster-asset", "href");
seen.dagster_run = await page.getAttribute("#dagster-run", "href").catch(() => null);

// compare: every variant of one image, cameras linked
await page.goto(`${base}/compare?image=${plan.compare_image}&spin=0`);
await page.waitForFunction(() => document.querySelectorAll(".viewer").length > 0 &&
  [...document.querySelectorAll(".viewer")].every((v) => v.dataset.ready === "1"), null, { timeout: 60000 });
seen.compare_viewers = await page.locator(".viewer canvas").count();
seen.cameras_before = await page.evaluate(() => window.meshmill.viewers.map((v) => v.camera.position.toArray()));
const box = await page.locator(".viewer canvas").first().boundingBox();
await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
await page.mouse.down();
await page.mouse.move(box.x + box.width / 2 + 160, box.y + box.height / 2 + 40, { steps: 8 });
await page.mouse.up();
await page.waitForTimeout(800);
seen.cameras = await page.evaluate(() => window.meshmill.viewers.map((v) => v.camera.position.toArray()));
await page.screenshot({ path: `${out}/compare.png` });
for (let i = 0; i < seen.compare_viewers; i++) {
  await page.locator(".viewer canvas").nth(i).screenshot({ path: `${out}/compare-${i}.png` });
}
// a view set's output: every view shown, each picture loaded; its search card (the newest in its collection) shows the front
await page.goto(`${base}/outputs/${plan.views_output}?spin=0`);
await page.waitForSelector("#viewer[data-ready='1']", { timeout: 60000 });
await page.waitForFunction(() => [...document.querySelectorAll("#source-views img")].every((i) => i.complete), null, { timeout: 30000 });
seen.views = await page.evaluate(() => [...document.querySelectorAll("#source-views figure")].map((f) => ({
  view: f.dataset.view, width: f.querySelector("img").naturalWidth, used: !f.classList.contains("unused"),
})));
await page.screenshot({ path: `${out}/view-set-output.png` });
await page.goto(`${base}/?collection=${encodeURIComponent(plan.views_collection)}`);
await page.waitForFunction(() => document.querySelector("article.card img.source")?.naturalWidth > 0, null, { timeout: 30000 });
seen.views_card = await page.evaluate(() => {
  const card = document.querySelector("article.card");
  const img = card.querySelector("img.source");
  return { badge: card.querySelector(".views")?.textContent ?? null, src: img.getAttribute("src"), width: img.naturalWidth };
});
// a browser without WebGL: the output page shows the preview render and says why, its controls greyed out
const bare = await browser.newPage({ viewport: { width: 1400, height: 900 } });
bare.on("pageerror", (e) => seen.errors.push(`no WebGL: ${e}`));
await bare.addInitScript(() => {
  const getContext = HTMLCanvasElement.prototype.getContext;
  HTMLCanvasElement.prototype.getContext = function (kind, ...rest) {
    return /webgl/i.test(kind) ? null : getContext.call(this, kind, ...rest);
  };
});
await bare.goto(`${base}/outputs/${plan.output}`);
await bare.waitForSelector("#viewer[data-ready='no-webgl']", { timeout: 30000 });
await bare.waitForFunction(() => document.querySelector("#viewer img.fallback")?.complete, null, { timeout: 30000 });
seen.no_webgl = await bare.evaluate(() => ({
  preview: document.querySelector("#viewer img.fallback").getAttribute("src"),
  width: document.querySelector("#viewer img.fallback").naturalWidth,
  note: document.querySelector("#viewer .fallback-note").textContent,
  disabled: [...document.querySelectorAll(".toolbar button")].every((b) => b.disabled),
}));
await bare.screenshot({ path: `${out}/output-page-no-webgl.png` });

// review (a server with edits and reviewers' tokens): sign in, reject with a note, ask for it as another variant
if (plan.review_base) {
  const lead = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  lead.on("pageerror", (e) => seen.errors.push(`review: ${e}`));
  await lead.goto(`${plan.review_base}/outputs/${plan.review_output}?spin=0`);
  await lead.fill("#sign-in-form input[name=token]", plan.review_token);
  await Promise.all([lead.waitForNavigation(), lead.click("#sign-in-form button[type=submit]")]);
  await lead.fill("#review-form input[name=note]", "the lid is missing");
  await Promise.all([lead.waitForNavigation(), lead.click("#reject")]);
  seen.review_seed_disabled = await lead.locator("#another-seed").isDisabled();  // the built-in has no random stage
  await lead.selectOption("#review-form select[name=variant]", plan.review_as);
  await lead.click("#as-variant");
  await lead.waitForFunction(() => document.querySelector("#review-message").textContent.includes("asked for"), null, { timeout: 30000 });
  seen.review = await lead.evaluate(() => ({
    state: document.querySelector("#review-state").textContent.replace(/\s+/g, " ").trim(),
    message: document.querySelector("#review-message").textContent,
    approve_disabled: document.querySelector("#approve").disabled,
  }));
  await lead.locator("aside").screenshot({ path: `${out}/review.png` });
}
console.log(JSON.stringify(seen));
await browser.close();
