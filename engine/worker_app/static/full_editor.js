// Full editor: Label Studio's open-source frontend (vendor/lsf/main.js), started with the
// labeling config of today's projects. Its annotation result goes to the engine's submit as
// JSON through the outbox; the engine turns it into the answer exactly as it does a Label
// Studio webhook's (boxes: percent of the image -> pixels of the task image).
"use strict";
(function () {
  var form = document.getElementById("answer-form");
  var setupNode = document.getElementById("editor-setup");
  if (!form || !setupNode || !window.KaziTaskPage) return;
  var setup = JSON.parse(setupNode.textContent);
  var page = new window.KaziTaskPage(form);
  ["pointerdown", "keydown", "wheel"].forEach(function (name) {
    document.addEventListener(name, function () { page.active(); }, true);
  });
  page.startHeartbeat();

  function send(result) {
    page.submit({ client_answer_id: form.dataset.clientAnswerId, result: result,
                  time_spent_seconds: page.secondsSpent() });
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
  if (!window.LabelStudio) { page.show(page.message("editor_missing"), true); return; } // not installed
  window.kaziEditor = new window.LabelStudio("label-studio", {
    config: setup.config,
    interfaces: ["panel", "topbar", "submit", "controls", "side-column", "annotations:current"],
    user: { pk: 1, firstName: "", lastName: "" },
    task: setup.task,
    onLabelStudioLoad: start,
    onSubmitAnnotation: function (LS, annotation) { send(annotation.serializeAnnotation()); }
  });
  page.sendWaiting();
})();
