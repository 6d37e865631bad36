// Full editor: Label Studio's open-source frontend (vendor/lsf/main.js), started with the
// labeling config of today's projects. Its annotation result goes to the engine's submit as
// JSON through the outbox; the engine turns it into the answer exactly as it does a Label
// Studio webhook's (boxes: percent of the image -> pixels of the task image).
"use strict";
(function () {
  var form = document.getElementById("answer-form");
  var setupNode = document.getElementById("editor-setup");
  if (!form || !setupNode) return;
  var setup = JSON.parse(setupNode.textContent);
  var statusBox = document.getElementById("task-status");
  var csrf = form.elements.csrf_token.value;
  var opened = Date.now(), lastActive = Date.now(), lastBeat = Date.now();
  var beatMs = Math.max(15, Number(form.dataset.heartbeatSeconds) || 60) * 1000;

  function message(key) {
    var t = document.getElementById("task-messages");
    var node = t && t.content.querySelector('[data-key="' + key + '"]');
    return node ? node.textContent : key;
  }
  function show(text, isError) {
    statusBox.textContent = text;
    statusBox.className = isError ? "error" : "notice";
    statusBox.hidden = false;
  }
  ["pointerdown", "keydown", "wheel"].forEach(function (name) {
    document.addEventListener(name, function () { lastActive = Date.now(); }, true);
  });
  setInterval(function () {
    if (lastActive <= lastBeat || !navigator.onLine) return;
    lastBeat = Date.now();
    fetch(form.dataset.heartbeatUrl, {
      method: "POST", credentials: "same-origin", body: "{}",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf }
    }).then(function (resp) { if (resp.status === 409) show(message("lease_ended"), true); }, function () {});
  }, beatMs);

  function done(result) {
    if (!result.sent) { show(message("saved_offline"), false); return; }
    var data = result.data || {};
    if (result.status >= 200 && result.status < 300) {
      window.location.assign("/app/task/done?outcome=" + encodeURIComponent(data.outcome || "filed"));
      return;
    }
    show(data.message || data.detail || message("failed"), true);
  }

  function send(result) {
    var spent = Math.round((Date.now() - opened) / 1000);
    var payload = { client_answer_id: form.dataset.clientAnswerId, result: result, time_spent_seconds: spent };
    show(message("sending"), false);
    window.KaziOutbox.submit(form.action, csrf, payload).then(done, function () { show(message("failed"), true); });
  }

  function start(LS) {
    // The worker's own annotation, starting from the machine draft (made as Label Studio's
    // "copy the prediction" does), so Submit sends the edited draft.
    var store = LS.annotationStore;
    var draft = (setup.draft_result || []).map(function (r) { return Object.assign({}, r); });
    var annotation = store.addAnnotation({ userGenerate: true, result: draft });
    store.selectAnnotation(annotation.id);
    if (draft.length) {
      annotation.deserializeResults(draft);
      if (annotation.updateObjects) annotation.updateObjects();
    }
  }

  form.addEventListener("submit", function (e) { e.preventDefault(); });
  if (!window.LabelStudio) { show(message("editor_missing"), true); return; } // not installed
  window.kaziEditor = new window.LabelStudio("label-studio", {
    config: setup.config,
    interfaces: ["panel", "topbar", "submit", "controls", "side-column", "annotations:current"],
    user: { pk: 1, firstName: "", lastName: "" },
    task: setup.task,
    onLabelStudioLoad: start,
    onSubmitAnnotation: function (LS, annotation) { send(annotation.serializeAnnotation()); }
  });
  window.KaziOutbox.flush(csrf).then(function (results) {
    results.forEach(function (r) { if (r.record.client_answer_id === form.dataset.clientAnswerId) done(r); });
  }, function () {});
  window.addEventListener("online", function () {
    window.KaziOutbox.flush(csrf).then(function (results) {
      results.forEach(function (r) { if (r.record.client_answer_id === form.dataset.clientAnswerId) done(r); });
    }, function () {});
  });
})();
