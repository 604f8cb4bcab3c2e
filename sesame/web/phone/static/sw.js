// The Sésame app's service worker (scope /app/): keeps the app's shell, script, style and icons so
// the app opens without a network. Never caches the device API (POSTs) nor anything outside /app/.
// No push: the app polls for requests while it is open.
"use strict";

var CACHE = "sesame-app-__VERSION__";
var SHELL = ["/app/static/app.js?v=__VERSION__", "/app/static/app.css?v=__VERSION__"];

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE).then(function (cache) { return cache.addAll(SHELL); }).then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(
        names.filter(function (name) { return name.indexOf("sesame-app-") === 0 && name !== CACHE; })
          .map(function (name) { return caches.delete(name); })
      );
    }).then(function () { return self.clients.claim(); })
  );
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || url.pathname.indexOf("/app/") !== 0) {
    return; // the network, as usual
  }
  if (url.pathname.indexOf("/app/static/") === 0 || /\/icon-\d+\.png$/.test(url.pathname)) {
    // Versioned files: the cache first.
    event.respondWith(
      caches.match(request).then(function (cached) {
        return cached || fetch(request).then(function (response) {
          var copy = response.clone();
          if (response.ok) {
            caches.open(CACHE).then(function (cache) { cache.put(request, copy); });
          }
          return response;
        });
      })
    );
    return;
  }
  if (request.mode === "navigate") {
    // The shell: the network first (a new version shows at once), the copy when offline.
    event.respondWith(
      fetch(request).then(function (response) {
        var copy = response.clone();
        if (response.ok) {
          caches.open(CACHE).then(function (cache) { cache.put(request, copy); });
        }
        return response;
      }).catch(function () {
        return caches.match(request).then(function (cached) { return cached || Response.error(); });
      })
    );
  }
});
