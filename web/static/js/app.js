/* Takumi KB: small behaviours shared by every page.  No inline script anywhere (the CSP forbids it).
   - forms marked data-autosubmit search again when a filter changes (htmx swaps the results);
   - "Copy link" copies the moment's address (with a fallback where the Clipboard API is missing);
   - "Print" opens the print dialog;
   - a written passage asked for with ?page= or ?c= is scrolled into view;
   - the header's menus (the phone's メニュー drawer and the account menu, both <details>, which open and
     close without this script) say aria-expanded, close with Escape (focus back on their button), on a tap
     outside them, and one closes when the other opens;
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

  var MENUS = "details.nav-drawer, details.user-menu";

  function expanded(menu) {
    var summary = menu.querySelector("summary");
    if (summary) summary.setAttribute("aria-expanded", menu.open ? "true" : "false");
  }

  function closeMenus(except) {
    document.querySelectorAll(MENUS).forEach(function (menu) {
      if (menu !== except && menu.open) menu.open = false;
    });
  }

  // "toggle" does not bubble: listen in the capture phase.  It only keeps aria-expanded true:
  // it arrives as a task after the change, so deciding here which menu stays open would act
  // on stale news (open the account menu, then the drawer quickly: the account menu's late
  // "toggle" would close the drawer).
  document.addEventListener("toggle", function (event) {
    var menu = event.target;
    if (!menu.matches || !menu.matches(MENUS)) return;
    expanded(menu);
  }, true);

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var menu = document.querySelector("details.nav-drawer[open], details.user-menu[open]");
    if (!menu) return;
    menu.open = false;
    expanded(menu);
    menu.querySelector("summary").focus();
  });

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!target.closest) return;
    // A menu about to open (a tap or Enter on its closed <summary>) closes the other one now,
    // in the same event, before the browser opens it.
    var summary = target.closest("summary");
    var opening = summary && summary.parentElement;
    if (opening && opening.matches(MENUS) && !opening.open) { closeMenus(opening); return; }
    // A tap on the dimmed page under the open drawer lands on the <details> itself (its ::before).
    if (target.matches(MENUS) && target.open) { target.open = false; return; }
    if (target.closest(MENUS)) return;
    closeMenus(null);
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(MENUS).forEach(expanded);
    var target = document.querySelector("[data-target]");
    if (target && !location.hash) target.scrollIntoView({ block: "start" });
  });
})();
