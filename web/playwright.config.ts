// Browser tests: Debian's Chromium driven by Playwright (no browser download), against a running
// mesh that tests/web (pytest) starts and describes in the environment (see tests/browser/env.ts).
// Two workers, each with its own browser, on the one mesh: a spec file runs whole and in order in
// one worker (fullyParallel off), so a flow that builds on an earlier one of its file still finds
// it; files make their own tenants (env.ts) and do not depend on each other. The flows mostly wait
// on the page and the mesh, so two at a time take about half as long on two cores.
import { defineConfig } from "@playwright/test";

const spki = process.env.CONSOLE_TLS_SPKI ?? "";

export default defineConfig({
  testDir: "tests/browser",
  fullyParallel: false,
  workers: 2,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [["list"]],
  outputDir: "test-results",
  use: {
    baseURL: process.env.CONSOLE_URL,
    // Failed runs keep a screenshot and a trace (test-results/, kept by CI as artifacts).
    screenshot: "only-on-failure",
    trace: "retain-on-failure",
    locale: "en-US",
    actionTimeout: 10_000,
    navigationTimeout: 15_000,
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      // The mesh's development certificate is trusted by its public key, as a browser that
      // imported the dev CA would: the page is a secure context and its service worker runs.
      args: spki ? [`--ignore-certificate-errors-spki-list=${spki}`] : [],
    },
  },
});
