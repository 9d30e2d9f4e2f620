// Follows a running job's log on its page (docs/dashboard.md#job-runs): appends what the
// job writes, without reloading and without asking for what is shown already.
//
// #log-text holds the log's tail as rendered and, in data-follow-url, the request for what
// comes after it: /job-runs/<id>/log?offset=<where the text ends>. That request waits on
// the service until the log grew (or the run ended, or ~25 s passed) and answers the new
// bytes, with X-Log-Next-Offset (where the next request continues) and X-Log-Complete
// (the run ended: nothing follows). The page's live updates leave #log-text alone
// (data-live-keep, dashboard.js). The view stays where the reader scrolled to, unless
// they were at the bottom: then it follows the end.
(function () {
  "use strict";
  if (window.dataBuildJobLog) { return; }  // a live update may load this script again
  window.dataBuildJobLog = true;
  var RETRY_MS = 5000;   // after a failed request
  var pre = null;
  var decoder = new TextDecoder("utf-8");
  var busy = false;

  function sleep(ms) { return new Promise(function (done) { setTimeout(done, ms); }); }
  function atBottom(el) { return el.scrollHeight - el.scrollTop - el.clientHeight < 4; }
  function state(text) {
    var el = document.getElementById("log-state");
    if (el) { el.textContent = text; }
  }
  function following() {
    var box = document.getElementById("log-follow");
    return !box || box.checked;
  }
  function errorOf(body) {
    try { return JSON.parse(body).error.message; } catch (e) { return body; }
  }

  function append(text) {
    if (!text) { return; }
    var bottom = atBottom(pre);
    pre.appendChild(document.createTextNode(text));
    if (bottom) { pre.scrollTop = pre.scrollHeight; }
  }

  async function follow() {
    if (busy) { return; }
    busy = true;
    try {
      while (following() && pre.dataset.followUrl) {
        var url = pre.dataset.followUrl;
        var answer;
        try {
          answer = await fetch(url, { headers: { Accept: "application/octet-stream" }, cache: "no-store" });
        } catch (e) {
          state("reconnecting");
          await sleep(RETRY_MS);
          continue;
        }
        if (!answer.ok) {
          state("stopped: " + errorOf(await answer.text()));
          pre.dataset.followUrl = "";
          return;
        }
        append(decoder.decode(new Uint8Array(await answer.arrayBuffer()), { stream: true }));
        var next = answer.headers.get("X-Log-Next-Offset");
        var size = document.getElementById("log-size");
        if (size) { size.textContent = next; }
        if (answer.headers.get("X-Log-Complete") === "true") {
          append(decoder.decode());
          pre.dataset.followUrl = "";
          state("the run ended");
          var box = document.getElementById("log-follow");
          if (box) { box.closest("label").hidden = true; }
          return;
        }
        pre.dataset.followUrl = url.replace(/offset=\d+/, "offset=" + next);
        state("following");
      }
      if (pre.dataset.followUrl) { state("paused"); }
    } finally {
      busy = false;
    }
  }

  function start() {
    pre = document.getElementById("log-text");
    if (!pre) { return; }
    pre.scrollTop = pre.scrollHeight;
    document.addEventListener("change", function (e) {
      if (e.target && e.target.id === "log-follow") {
        if (e.target.checked) { follow(); } else { state("paused"); }
      }
    });
    follow();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
