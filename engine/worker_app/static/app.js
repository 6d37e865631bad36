// Kazi worker app: registers the service worker (offline shell); nothing else needs script.
"use strict";
if ("serviceWorker" in navigator) {
  window.addEventListener("load", function () {
    navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch(function () {});
  });
}
