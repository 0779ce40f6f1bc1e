import path from "node:path";
import { fileURLToPath } from "node:url";
import type { NextConfig } from "next";
import { PHASE_PRODUCTION_BUILD } from "next/constants";

const here = path.dirname(fileURLToPath(import.meta.url));

// The console is a static export served by the mesh's static server behind Envoy, on the same
// origin as the API. Export is enabled only for the production build: `next dev` keeps its
// server. Pages take their ids from the query string, so no route is dynamic.
export default function config(phase: string): NextConfig {
  return {
    output: phase === PHASE_PRODUCTION_BUILD ? "export" : undefined,
    trailingSlash: false,
    reactStrictMode: true,
    poweredByHeader: false,
    images: { unoptimized: true },
    // The SDK and the form engine are packages of this repository (linked by npm).
    turbopack: { root: path.join(here, "..") },
  };
}
