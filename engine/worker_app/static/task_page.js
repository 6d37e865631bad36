// What both task editors share: the page's messages, the status line, the heartbeat while the
// worker is active, and the outcome of a send through the outbox (offline_queue.js).
"use strict";
(function () {
  function TaskPage(form) {
    this.form = form;
    this.csrf = form.elements.csrf_token.value;
    this.statusBox = document.getElementById("task-status");
    this.opened = Date.now();
    this.lastActive = Date.now();
    this.lastBeat = Date.now();
  }
  TaskPage.prototype.message = function (key) {
    var t = document.getElementById("task-messages");
    var node = t && t.content.querySelector('[data-key="' + key + '"]');
    return node ? node.textContent : key;
  };
  TaskPage.prototype.show = function (text, isError) {
    this.statusBox.textContent = text;
    this.statusBox.className = isError ? "error" : "notice";
    this.statusBox.hidden = false;
  };
  TaskPage.prototype.active = function () { this.lastActive = Date.now(); };
  TaskPage.prototype.secondsSpent = function () { return Math.round((Date.now() - this.opened) / 1000); };
  // Extends the lease, only while the worker did something since the last beat.
  TaskPage.prototype.startHeartbeat = function () {
    var page = this, form = this.form;
    var beatMs = Math.max(15, Number(form.dataset.heartbeatSeconds) || 60) * 1000;
    setInterval(function () {
      if (page.lastActive <= page.lastBeat || !navigator.onLine) return;
      page.lastBeat = Date.now();
      fetch(form.dataset.heartbeatUrl, {
        method: "POST", credentials: "same-origin", body: "{}",
        headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": page.csrf }
      }).then(function (resp) {
        if (resp.status === 409) page.show(page.message("lease_ended"), true);
      }, function () {});
    }, beatMs);
  };
  // A send's outcome: kept on the phone, filed (to the done page) or refused (the reason).
  // Returns true when refused.
  TaskPage.prototype.done = function (result) {
    if (!result.sent) { this.show(this.message("saved_offline"), false); return false; }
    var data = result.data || {};
    if (result.status >= 200 && result.status < 300) {
      window.location.assign("/app/task/done?outcome=" + encodeURIComponent(data.outcome || "filed"));
      return false;
    }
    this.show(data.message || data.detail || this.message("failed"), true);
    return true;
  };
  TaskPage.prototype.submit = function (payload, onRefused) {
    var page = this;
    page.show(page.message("sending"), false);
    window.KaziOutbox.submit(page.form.action, page.csrf, payload).then(function (r) {
      if (page.done(r) && onRefused) onRefused();
    }, function () { page.show(page.message("failed"), true); });
  };
  // Sends what waits in the outbox: now, and whenever the connection returns. This task's own
  // answer ends as done() says; an earlier task's refusal is shown, never dropped silently.
  TaskPage.prototype.sendWaiting = function (onRefused) {
    var page = this;
    function retry() {
      if (!window.KaziOutbox) return;
      window.KaziOutbox.flush(page.csrf).then(function (results) {
        results.forEach(function (r) {
          if (r.record.client_answer_id === page.form.dataset.clientAnswerId) {
            if (page.done(r) && onRefused) onRefused();
            return;
          }
          if (r.sent && r.status >= 400) page.show((r.data && r.data.message) || page.message("failed"), true);
        });
      }, function () {});
    }
    window.addEventListener("online", retry);
    retry();
  };
  window.KaziTaskPage = TaskPage;
})();
