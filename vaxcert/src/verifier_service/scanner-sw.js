// The scanner page's service worker: the page, its script and style and the WebAssembly verifier are
// kept in the Cache API so that the page opens and verifies with no network. Network first (a new
// release is used as soon as it can be fetched), the cache when offline. Nothing else is touched: the
// lists live in the page's localStorage, and /v1/verify is never cached.
"use strict";

var CACHE = "vaxcert-scanner-v1";
var FILES = ["/", "/scanner.js", "/scanner.css", "/wasm/verifier_wasm.js", "/wasm/verifier_wasm_bg.wasm"];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    // Each file on its own: without the WebAssembly verifier the page still works, on the server.
    return Promise.all(FILES.map(function (path) {
      return cache.add(path).catch(function () { return null; });
    }));
  }).then(function () {
    return self.skipWaiting();
  }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) { return name !== CACHE; }).map(function (name) {
      return caches.delete(name);
    }));
  }).then(function () {
    return self.clients.claim();
  }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || FILES.indexOf(url.pathname) < 0) {
    return;
  }
  event.respondWith(fetch(request).then(function (response) {
    if (response.ok) {
      var copy = response.clone();
      event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.put(url.pathname, copy); }));
    }
    return response;
  }, function () {
    return caches.match(url.pathname).then(function (cached) { return cached || Response.error(); });
  }));
});
