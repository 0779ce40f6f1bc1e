// axe-core (npm) injected into the page and run there: its results, as axe reports them.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Page } from "@playwright/test";
import type { AxeResults, Result } from "axe-core";

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

export default async function runAxe(page: Page): Promise<Result[]> {
  // Through the DevTools protocol, not a <script> tag: the page's CSP allows no foreign script.
  await page.evaluate(AXE_SOURCE);
  const results = (await page.evaluate(
    "window.axe.run(document, { resultTypes: ['violations'] })",
  )) as AxeResults;
  return results.violations;
}
