// Browser tests: Debian's Chromium driven by Playwright (no browser download), against a running
// mesh that tests/web (pytest) starts and describes in the environment (see tests/browser/env.ts).
// One browser, one worker: the flows share the mesh and build on each other's tenants.
import { defineConfig } from "@playwright/test";

const spki = process.env.CONSOLE_TLS_SPKI ?? "";

export default defineConfig({
  testDir: "tests/browser",
  fullyParallel: false,
  workers: 1,
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
