// Keeps a dashboard page current without reloading it (docs/dashboard.md#live-updates).
//
// The page names its live URL in #live's data-url: the page itself with live=<the event
// log's index it was rendered at>. That request waits on the service until the log moves
// past the index (or about 25 s), then answers the page rendered anew; htmx's idiomorph
// extension morphs its #page into this one. One request per update, and none in flight
// twice. What the user is typing survives: idiomorph leaves the focused field alone, and
// no value, check or selection inside a form is overwritten by a morph.
(function () {
  "use strict";
  var USER_OWNED = { value: true, checked: true, selected: true };
  var PAUSE_MS = 300;      // between updates: a busy log re-renders at most ~3 times a second
  var RETRY_MS = 5000;     // after a failed request

  function configure() {
    Idiomorph.defaults.ignoreActiveValue = true;
    Idiomorph.defaults.callbacks.beforeAttributeUpdated = function (name, element) {
      return !(USER_OWNED[name] && element.closest && element.closest("form"));
    };
    // An element a script of its page keeps current itself (data-live-keep, e.g. a followed
    // log) is left as it is.
    Idiomorph.defaults.callbacks.beforeNodeMorphed = function (oldNode) {
      return !(oldNode.nodeType === 1 && oldNode.hasAttribute("data-live-keep"));
    };
  }

  function sleep(ms) { return new Promise(function (done) { setTimeout(done, ms); }); }

  function state(text) {
    var el = document.getElementById("live-state");
    if (el) { el.textContent = text; el.dataset.state = text; }
  }

  var failed = false;
  document.addEventListener("htmx:responseError", function () { failed = true; });
  document.addEventListener("htmx:sendError", function () { failed = true; });

  async function follow() {
    for (;;) {
      var live = document.getElementById("live");
      var url = live && live.dataset.url;
      if (!url) { return; }
      failed = false;
      await htmx.ajax("GET", url, { target: "#page", select: "#page", swap: "morph:outerHTML" });
      state(failed ? "reconnecting" : "live");
      await sleep(failed ? RETRY_MS : PAUSE_MS);
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    configure();
    follow();
  });
})();
