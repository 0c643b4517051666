/* Takumi KB: small behaviours shared by every page.  No inline script anywhere (the CSP forbids it).
   - forms marked data-autosubmit search again when a filter changes (htmx swaps the results);
   - "Copy link" copies the moment's address (with a fallback where the Clipboard API is missing);
   - "Print" opens the print dialog;
   - a written passage asked for with ?page= or ?c= is scrolled into view;
   - every htmx request carries the CSRF token (X-CSRF-Token, from <meta name="csrf-token">); other
     scripts get it from TakumiKB.csrfToken() for their own fetch() calls. */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  window.TakumiKB = window.TakumiKB || {};
  window.TakumiKB.csrfToken = csrfToken;

  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrfToken();
  });

  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field.tagName !== "SELECT") return;
    var form = field.closest("form[data-autosubmit]");
    if (form && typeof form.requestSubmit === "function") form.requestSubmit();
  });

  function say(text) {
    var status = document.getElementById("share-status");
    if (status) status.textContent = text;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("#copy-link, #print-now");
    if (!button) return;
    if (button.id === "print-now") { window.print(); return; }
    var input = document.getElementById("share-link");
    if (!input) return;
    var done = function () { say(button.dataset.copied); };
    var fallback = function () {
      input.focus();
      input.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      say(ok ? button.dataset.copied : button.dataset.failed);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, fallback);
    } else {
      fallback();
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var target = document.querySelector("[data-target]");
    if (target && !location.hash) target.scrollIntoView({ block: "start" });
  });
})();
