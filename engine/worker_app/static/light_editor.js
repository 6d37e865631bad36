// Light transcription editor: play/pause, back 2 s, keyboard shortcuts, the heartbeat while the
// worker types or listens, and submitting through the outbox (kept on the phone when offline).
// Without this script the page still works: the form posts the text.
"use strict";
(function () {
  var form = document.getElementById("answer-form");
  if (!form || !window.KaziTaskPage) return;
  var page = new window.KaziTaskPage(form);
  var audio = document.getElementById("segment-audio");
  var text = document.getElementById("answer-text");
  function active() { page.active(); }
  function togglePlay() { if (audio.paused) { audio.play().catch(function () {}); } else { audio.pause(); } active(); }
  function rewind() { audio.currentTime = Math.max(0, audio.currentTime - 2); active(); }
  function refused() { document.getElementById("submit").disabled = true; }

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
  page.startHeartbeat();

  form.addEventListener("submit", function (e) {
    if (!window.KaziOutbox || !window.indexedDB) return; // plain form post
    e.preventDefault();
    var spent = page.secondsSpent();
    form.elements.time_spent_seconds.value = String(spent);
    page.submit({
      client_answer_id: form.dataset.clientAnswerId,
      answer: { text: text.value },
      time_spent_seconds: spent
    }, refused);
  });
  page.sendWaiting(refused); // an answer left from an earlier visit goes out now
})();
