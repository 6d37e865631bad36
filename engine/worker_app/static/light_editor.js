// Light transcription editor: play/pause, back 2 s, keyboard shortcuts, the heartbeat while the
// worker types or listens, and submitting through the outbox (kept on the phone when offline).
// Without this script the page still works: the form posts the text.
"use strict";
(function () {
  var form = document.getElementById("answer-form");
  if (!form) return;
  var audio = document.getElementById("segment-audio");
  var text = document.getElementById("answer-text");
  var statusBox = document.getElementById("task-status");
  var csrf = form.elements.csrf_token.value;
  var opened = Date.now(), lastActive = Date.now(), lastBeat = Date.now();
  var beatMs = Math.max(15, Number(form.dataset.heartbeatSeconds) || 60) * 1000;

  function message(key) {
    var t = document.getElementById("task-messages");
    var node = t && t.content.querySelector('[data-key="' + key + '"]');
    return node ? node.textContent : key;
  }
  function show(textValue, isError) {
    statusBox.textContent = textValue;
    statusBox.className = isError ? "error" : "notice";
    statusBox.hidden = false;
  }
  function active() { lastActive = Date.now(); }
  function togglePlay() { if (audio.paused) { audio.play().catch(function () {}); } else { audio.pause(); } active(); }
  function rewind() { audio.currentTime = Math.max(0, audio.currentTime - 2); active(); }

  document.getElementById("play-pause").addEventListener("click", togglePlay);
  document.getElementById("rewind").addEventListener("click", rewind);
  text.addEventListener("input", active);
  audio.addEventListener("play", active);
  audio.addEventListener("timeupdate", function () { if (!audio.paused) active(); });
  document.addEventListener("keydown", function (e) {
    if (!e.ctrlKey) return;
    if (e.code === "Space" || e.key === " ") { e.preventDefault(); togglePlay(); }
    else if (e.key === "ArrowLeft") { e.preventDefault(); rewind(); }
    else if (e.key === "Enter") { e.preventDefault(); form.requestSubmit(); }
  });

  // Heartbeat: only while the worker did something since the last one.
  setInterval(function () {
    if (lastActive <= lastBeat || !navigator.onLine) return;
    lastBeat = Date.now();
    fetch(form.dataset.heartbeatUrl, {
      method: "POST", credentials: "same-origin", body: "{}",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf }
    }).then(function (resp) {
      if (resp.status === 409) show(message("lease_ended"), true);
    }, function () {});
  }, beatMs);

  function done(result) {
    if (!result.sent) { show(message("saved_offline"), false); return; }
    var data = result.data || {};
    if (result.status >= 200 && result.status < 300) {
      window.location.assign("/app/task/done?outcome=" + encodeURIComponent(data.outcome || "filed"));
      return;
    }
    show(data.message || data.detail || message("failed"), true);
    document.getElementById("submit").disabled = true;
  }

  form.addEventListener("submit", function (e) {
    if (!window.KaziOutbox || !window.indexedDB) return; // plain form post
    e.preventDefault();
    var spent = Math.round((Date.now() - opened) / 1000);
    form.elements.time_spent_seconds.value = String(spent);
    show(message("sending"), false);
    window.KaziOutbox.submit(form.action, csrf, {
      client_answer_id: form.dataset.clientAnswerId,
      answer: { text: text.value },
      time_spent_seconds: spent
    }).then(done, function () { show(message("failed"), true); });
  });

  function retry() {
    if (!window.KaziOutbox) return;
    window.KaziOutbox.flush(csrf).then(function (results) {
      results.forEach(function (r) {
        if (r.record.client_answer_id === form.dataset.clientAnswerId) { done(r); return; }
        // An earlier task's answer that was refused: say so, never drop it silently.
        if (r.sent && r.status >= 400) show((r.data && r.data.message) || message("failed"), true);
      });
    }, function () {});
  }
  window.addEventListener("online", retry);
  retry(); // an answer left from an earlier visit goes out now
})();
