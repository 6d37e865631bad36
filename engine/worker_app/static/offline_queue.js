// Kazi outbox: answers wait in IndexedDB (store "outbox", keyed by client_answer_id) until the
// engine has them. Sent on submit, on page load, when the connection returns and on a service
// worker sync; a record is deleted only once the engine answered 2xx (filed or a replay) or a
// final refusal (409, 404, 422: the worker is shown the message). The engine files each
// client_answer_id once, so sending again after a lost reply is safe. Works in a page and in
// the service worker (importScripts).
"use strict";
(function (root) {
  var DB = "kazi-app", STORE = "outbox";
  function open() {
    return new Promise(function (resolve, reject) {
      var req = indexedDB.open(DB, 1);
      req.onupgradeneeded = function () { req.result.createObjectStore(STORE, { keyPath: "client_answer_id" }); };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }
  function run(mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode), out = work(tx.objectStore(STORE));
        tx.oncomplete = function () { db.close(); resolve(out && "result" in out ? out.result : undefined); };
        tx.onerror = tx.onabort = function () { db.close(); reject(tx.error); };
      });
    });
  }
  function put(record) { return run("readwrite", function (s) { s.put(record); }); }
  function remove(id) { return run("readwrite", function (s) { s.delete(id); }); }
  function all() { return run("readonly", function (s) { return s.getAll(); }); }
  var FINAL = { 404: 1, 409: 1, 410: 1, 413: 1, 422: 1 };

  // One record: {client_answer_id, url, body (JSON text), csrf}. Resolves with
  // {sent: true, status, data} or {sent: false} (no connection, or the session needs a login).
  function send(record) {
    return fetch(record.url, {
      method: "POST", credentials: "same-origin", body: record.body,
      headers: { "Content-Type": "application/json", "Accept": "application/json",
                 "X-CSRF-Token": record.csrf }
    }).then(function (resp) {
      if (resp.ok || FINAL[resp.status]) {
        return resp.json().catch(function () { return {}; }).then(function (data) {
          return remove(record.client_answer_id).then(function () {
            return { sent: true, status: resp.status, data: data };
          });
        });
      }
      return { sent: false, status: resp.status };
    }, function () { return { sent: false, status: 0 }; });
  }
  var flushing = null;
  function flush(csrf) {
    if (flushing) return flushing;
    flushing = all().then(function (records) {
      return records.reduce(function (chain, record) {
        return chain.then(function (results) {
          if (csrf) record.csrf = csrf; // the page's current token (a new session has a new one)
          return send(record).then(function (r) { r.record = record; results.push(r); return results; });
        });
      }, Promise.resolve([]));
    }).then(function (results) { flushing = null; return results; },
            function (err) { flushing = null; throw err; });
    return flushing;
  }
  // Keep the answer, then try to send it; resolves as send() does.
  function submit(url, csrf, payload) {
    var record = { client_answer_id: payload.client_answer_id, url: url, csrf: csrf,
                   body: JSON.stringify(payload), saved_at: Date.now() };
    return put(record).then(function () { return send(record); }, function () { return send(record); });
  }
  root.KaziOutbox = { submit: submit, flush: flush, pending: all };
})(typeof self !== "undefined" ? self : this);
