// The console's service worker. It precaches the shell (every page's HTML and RSC payload, the
// static assets, the offline page) listed by `serwist inject-manifest` at build time, and:
// - navigations: network first (pages are small and may change), the cached page when offline,
//   the offline page when that page was never cached;
// - /_next/static/ (content-hashed names): cache first;
// - the API (/v1/, /.well-known/) and everything else: never touched, never cached. Answers carry
//   personal data and tokens travel in headers: they stay between the page and the edge.

const PRECACHE = self.__SW_MANIFEST;
const CACHE = "tm-console-v1";
const OFFLINE_PAGE = "/offline.html";

function urlOf(entry) {
  return typeof entry === "string" ? entry : entry.url;
}

function cacheKey(entry) {
  // The revision makes a changed file a new cache entry.
  const url = new URL(urlOf(entry), self.location.origin);
  if (typeof entry !== "string" && entry.revision) {
    url.searchParams.set("__rev", entry.revision);
  }
  return url.href;
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      const wanted = new Set(PRECACHE.map(cacheKey));
      const have = new Set((await cache.keys()).map((request) => request.url));
      for (const entry of PRECACHE) {
        const key = cacheKey(entry);
        if (!have.has(key)) {
          const response = await fetch(new URL(urlOf(entry), self.location.origin), { cache: "no-cache" });
          if (response.ok) {
            await cache.put(key, response);
          }
        }
      }
      for (const url of have) {
        if (!wanted.has(url)) {
          await cache.delete(url);
        }
      }
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim());
});

/** The precached copy of a path (any revision). */
async function precached(pathname) {
  const cache = await caches.open(CACHE);
  for (const entry of PRECACHE) {
    if (new URL(urlOf(entry), self.location.origin).pathname === pathname) {
      return cache.match(cacheKey(entry));
    }
  }
  return undefined;
}

function pageFile(pathname) {
  if (pathname === "/") return "/index.html";
  return pathname.endsWith(".html") ? pathname : `${pathname.replace(/\/$/, "")}.html`;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) {
    return;
  }
  if (url.pathname.startsWith("/v1/") || url.pathname.startsWith("/.well-known/")) {
    return;
  }
  if (url.pathname.startsWith("/_next/static/")) {
    event.respondWith(
      (async () => (await precached(url.pathname)) ?? fetch(request))(),
    );
    return;
  }
  if (request.mode === "navigate") {
    event.respondWith(
      (async () => {
        try {
          return await fetch(request);
        } catch {
          return (
            (await precached(pageFile(url.pathname))) ??
            (await precached(OFFLINE_PAGE)) ??
            new Response("offline", { status: 503, headers: { "content-type": "text/plain" } })
          );
        }
      })(),
    );
    return;
  }
  // Client-side navigation fetches the pages' RSC payloads (.txt): network, then the cache.
  if (url.pathname.endsWith(".txt")) {
    event.respondWith(
      (async () => {
        try {
          return await fetch(request);
        } catch {
          return (await precached(url.pathname)) ?? Response.error();
        }
      })(),
    );
  }
});
