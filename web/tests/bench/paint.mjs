// `make bench-console`'s browser half: first contentful paint and time to interactive of a page in
// headless Chromium, cold (fresh profile) and warm (reloaded with the service worker in control).
// Usage: node paint.mjs URL SESSION_JSON|"" READY_SELECTOR MIN_COUNT ROUNDS -> JSON on stdout.
import { chromium } from "@playwright/test";

const [url, session, selector, minCount, rounds] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: [`--ignore-certificate-errors-spki-list=${process.env.CONSOLE_TLS_SPKI}`],
});

async function measure(page) {
  await page.goto(url);
  await page.waitForFunction(([sel, n]) => document.querySelectorAll(sel).length >= n, [selector, Number(minCount)], {
    timeout: 60_000,
  });
  const interactive = await page.evaluate(() => performance.now());
  const fcp = await page.evaluate(() => performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? null);
  return { fcp, interactive };
}

const results = { cold: [], warm: [] };
for (let round = 0; round < Number(rounds); round += 1) {
  const context = await browser.newContext();
  if (session) {
    await context.addInitScript((value) => window.sessionStorage.setItem("tm.session", value), session);
  }
  const page = await context.newPage();
  results.cold.push(await measure(page));
  await page
    .waitForFunction(() => navigator.serviceWorker?.controller != null, undefined, { timeout: 30_000 })
    .catch(() => null);
  results.warm.push(await measure(page));
  await context.close();
}
await browser.close();
console.log(JSON.stringify(results));
