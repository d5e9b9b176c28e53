/* walkflow service worker: the walk-through logging page and its assets open without a network.
   Rendered by ledgers.views.walks.service_worker; the version is a hash of the assets, so a
   changed script or stylesheet installs a new cache and drops the old one. */
"use strict";
const VERSION = "{{ version }}";
const CACHE = "walkflow-walk-" + VERSION;
const PAGE = {{ page_url|safe }};
const ASSETS = {{ assets_json|safe }};
// On a weak network wait this long for a fresh page before showing the saved one.
const PAGE_TIMEOUT_MS = 4000;

async function cachePage(cache) {
  try {
    const response = await fetch(PAGE, { credentials: "same-origin" });
    // A redirect means the session is gone: the login page must not be kept as the logging page.
    if (response.ok && !response.redirected) await cache.put(PAGE, response);
  } catch (e) { /* offline at install: the page is cached on the next visit */ }
}

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(ASSETS);
    await cachePage(cache);
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    const keys = await caches.keys();
    await Promise.all(keys.filter((k) => k.startsWith("walkflow-walk-") && k !== CACHE).map((k) => caches.delete(k)));
    await self.clients.claim();
  })());
});

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  const network = fetch(request).then(async (response) => {
    if (response.ok && !response.redirected) await cache.put(PAGE, response.clone());
    return response;
  });
  const timeout = new Promise((resolve) => setTimeout(resolve, PAGE_TIMEOUT_MS));
  try {
    const first = await Promise.race([network, timeout]);
    if (first) return first;
  } catch (e) { /* offline */ }
  const cached = await cache.match(PAGE);
  if (cached) return cached;
  return network;
}

async function cacheFirst(request) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(request, { ignoreSearch: true });
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname === PAGE && request.mode === "navigate") {
    event.respondWith(networkFirst(request));
  } else if (ASSETS.includes(url.pathname)) {
    event.respondWith(cacheFirst(request));
  }
});
