// Kazi worker app service worker (served at /app/sw.js, scope /app/).
// Shell files: cached on install, served from the cache and refreshed behind. The task page:
// network first, the last one kept for when there is no connection. Media (the task's audio):
// cache first, whole files (a Range request is answered from the cached file), last few kept.
// POSTs are never cached: answers made offline wait in the outbox (offline_queue.js).
"use strict";
importScripts("/app/static/offline_queue.js");
var VERSION = "kazi-app-v2";
var SHELL = VERSION + "-shell", PAGES = VERSION + "-pages", MEDIA = VERSION + "-media";
var SHELL_FILES = ["/app/static/app.css", "/app/static/app.js", "/app/static/task.css",
                   "/app/static/light_editor.js", "/app/static/offline_queue.js",
                   "/app/static/task_page.js"];
var TASK_PAGE = "/app/task";
var MEDIA_KEPT = 3;

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(SHELL).then(function (cache) {
    return Promise.all(SHELL_FILES.map(function (url) { return cache.add(url).catch(function () {}); }));
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n.indexOf(VERSION) !== 0; })
      .map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});

function isMedia(request, url) {
  return request.destination === "audio" || url.pathname.indexOf("/v1/media/") === 0;
}

function taskPage(request) {
  return fetch(request).then(function (resp) {
    if (resp.ok && !resp.redirected && (resp.headers.get("content-type") || "").indexOf("text/html") === 0) {
      var copy = resp.clone();
      caches.open(PAGES).then(function (cache) { cache.put(TASK_PAGE, copy); });
    }
    return resp;
  }, function () {
    return caches.open(PAGES).then(function (cache) { return cache.match(TASK_PAGE); })
      .then(function (hit) { return hit || Response.error(); });
  });
}

function shellFile(request) {
  return caches.open(SHELL).then(function (cache) {
    return cache.match(request).then(function (hit) {
      var fresh = fetch(request).then(function (resp) {
        if (resp.ok) cache.put(request, resp.clone());
        return resp;
      });
      if (hit) { fresh.catch(function () {}); return hit; }
      return fresh;
    });
  });
}

function ranged(response, range) {
  // "bytes=start-end" of a whole cached file, as a 206 (media elements ask for ranges).
  var m = /bytes=(\d*)-(\d*)/.exec(range || "");
  if (!m) return response;
  return response.arrayBuffer().then(function (buf) {
    var size = buf.byteLength, start = m[1] ? Number(m[1]) : 0, end = m[2] ? Number(m[2]) : size - 1;
    if (!m[1] && m[2]) { start = Math.max(0, size - Number(m[2])); end = size - 1; }
    end = Math.min(end, size - 1);
    if (start > end) return new Response(null, { status: 416, headers: { "Content-Range": "bytes */" + size } });
    return new Response(buf.slice(start, end + 1), { status: 206, headers: {
      "Content-Type": response.headers.get("content-type") || "application/octet-stream",
      "Content-Range": "bytes " + start + "-" + end + "/" + size,
      "Content-Length": String(end - start + 1), "Accept-Ranges": "bytes" } });
  });
}

function media(request) {
  var range = request.headers.get("range");
  return caches.open(MEDIA).then(function (cache) {
    return cache.match(request.url).then(function (hit) {
      if (hit) return range ? ranged(hit, range) : hit;
      // The whole file, without the Range header, so it can be cached and replayed offline.
      return fetch(request.url, { credentials: "same-origin" }).then(function (resp) {
        if (resp.status !== 200) return resp;
        var copy = resp.clone();
        cache.put(request.url, copy).then(function () { return cache.keys(); }).then(function (keys) {
          keys.slice(0, Math.max(0, keys.length - MEDIA_KEPT)).forEach(function (k) { cache.delete(k); });
        });
        return range ? ranged(resp, range) : resp;
      });
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return; // never cache a POST
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (isMedia(request, url)) { event.respondWith(media(request)); return; }
  if (url.pathname === TASK_PAGE) { event.respondWith(taskPage(request)); return; }
  if (SHELL_FILES.indexOf(url.pathname) >= 0) { event.respondWith(shellFile(request)); }
});

self.addEventListener("sync", function (event) {
  if (event.tag === "kazi-outbox") event.waitUntil(self.KaziOutbox.flush());
});
