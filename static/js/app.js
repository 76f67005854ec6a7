// Till's small progressive enhancements: copy buttons, countdowns,
// redirects after success and print buttons.
// Everything here is optional; pages work without JavaScript.
(function () {
  "use strict";

  // Copy buttons: <button data-copy="element-id">.
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest && ev.target.closest("[data-copy]");
    if (!btn) return;
    var el = document.getElementById(btn.getAttribute("data-copy"));
    if (!el) return;
    var text = (el.value !== undefined && el.tagName === "INPUT") ? el.value : el.textContent.trim();
    var label = btn.querySelector("[data-copy-label]") || btn;
    var done = function () {
      var old = label.textContent;
      label.textContent = "Copied";
      btn.setAttribute("data-copied", "true");
      setTimeout(function () { label.textContent = old; btn.removeAttribute("data-copied"); }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallbackCopy(text); done(); });
    } else {
      fallbackCopy(text);
      done();
    }
  });

  function fallbackCopy(text) {
    var ta = document.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.style.position = "absolute";
    ta.style.left = "-9999px";
    document.body.appendChild(ta);
    ta.select();
    try { document.execCommand("copy"); } catch (e) { /* nothing to do */ }
    document.body.removeChild(ta);
  }

  // Countdowns: <span data-countdown="2026-02-08T13:00:00.000Z">.
  function tick() {
    var nodes = document.querySelectorAll("[data-countdown]");
    var now = Date.now();
    nodes.forEach(function (n) {
      var end = Date.parse(n.getAttribute("data-countdown"));
      if (isNaN(end)) return;
      var left = Math.max(0, Math.floor((end - now) / 1000));
      var h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
      var text = (h > 0 ? h + ":" + String(m).padStart(2, "0") : String(m)) + ":" + String(s).padStart(2, "0");
      if (n.textContent !== text) n.textContent = text;
      if (left === 0) n.setAttribute("data-expired", "true");
    });
  }
  tick();
  setInterval(tick, 1000);
  document.addEventListener("htmx:afterSwap", tick);

  // Redirect after success: <div data-redirect="url" data-redirect-delay="3">.
  function scheduleRedirects(root) {
    (root || document).querySelectorAll("[data-redirect]").forEach(function (n) {
      if (n.getAttribute("data-redirect-scheduled")) return;
      n.setAttribute("data-redirect-scheduled", "1");
      var url = n.getAttribute("data-redirect");
      var delay = parseInt(n.getAttribute("data-redirect-delay") || "3", 10) * 1000;
      if (!/^https?:\/\//i.test(url)) return;
      setTimeout(function () { window.location.assign(url); }, delay);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { scheduleRedirects(document); });
  document.addEventListener("htmx:afterSwap", function (ev) { scheduleRedirects(ev.target); });
  // Out-of-band swaps (the checkout's status poll) land outside ev.target;
  // once everything has settled, look at the whole page.
  document.addEventListener("htmx:afterSettle", function () { scheduleRedirects(document); });

  // Print buttons: <button data-print hidden>; shown only when script runs.
  function showPrintButtons() {
    document.querySelectorAll("[data-print]").forEach(function (b) { b.hidden = false; });
  }
  document.addEventListener("DOMContentLoaded", showPrintButtons);
  document.addEventListener("click", function (ev) {
    if (ev.target.closest && ev.target.closest("[data-print]")) window.print();
  });
})();
