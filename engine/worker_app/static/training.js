// Training answer page: play/pause and rewind buttons and keyboard shortcuts for the audio
// (the page works without this script: the audio element has its own controls).
"use strict";
(function () {
  var audio = document.getElementById("segment-audio");
  var form = document.getElementById("training-form");
  if (!form) return;
  function toggle() { if (!audio) return; if (audio.paused) { audio.play(); } else { audio.pause(); } }
  function rewind() { if (audio) audio.currentTime = Math.max(0, audio.currentTime - 2); }
  var play = document.getElementById("play-pause");
  var back = document.getElementById("rewind");
  if (play) play.addEventListener("click", toggle);
  if (back) back.addEventListener("click", rewind);
  var sent = false;
  form.addEventListener("submit", function (event) {
    if (sent) { event.preventDefault(); return; } // one tap, one answer
    sent = true;
  });
  document.addEventListener("keydown", function (event) {
    if (!event.ctrlKey) return;
    if (event.code === "Space") { event.preventDefault(); toggle(); }
    else if (event.key === "ArrowLeft") { event.preventDefault(); rewind(); }
    else if (event.key === "Enter") { event.preventDefault(); form.requestSubmit ? form.requestSubmit() : form.submit(); }
  });
})();
