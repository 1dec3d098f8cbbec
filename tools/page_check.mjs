// Open a page in headless Chromium (Debian's), wait for texts to appear, save a screenshot.
//   node tools/page_check.mjs URL SCREENSHOT.png TEXT [TEXT ...]
// Prints {"found": [...], "missing": [...]} and exits 0 whatever it found (the caller asserts).
import { launchChromium } from "./chromium.mjs";

const [url, screenshot, ...texts] = process.argv.slice(2);
const browser = await launchChromium();
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
await page.goto(url, { waitUntil: "domcontentloaded", timeout: 60000 });
const deadline = Date.now() + 60000;
let body = "";
while (Date.now() < deadline) {
  body = await page.evaluate(() => document.body.innerText);
  if (texts.every((t) => body.includes(t))) break;
  await page.waitForTimeout(500);
}
await page.getByRole("button", { name: "Skip" }).click({ timeout: 2000 }).catch(() => {}); // first-visit modal
await page.waitForTimeout(1000);
await page.screenshot({ path: screenshot, fullPage: process.env.FULL_PAGE === "1" });
console.log(JSON.stringify({ found: texts.filter((t) => body.includes(t)), missing: texts.filter((t) => !body.includes(t)) }));
await browser.close();
