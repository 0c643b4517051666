/* Takumi KB transcript editor (web/templates/transcripts/editor.html).
   The lines live in the page as form fields; this script adds what a plain form cannot do:
   - Split: cut a line where the cursor is (button or Ctrl+Enter).  When the line still has the
     recogniser's word timings, the cut moves to the nearest word's start and takes its time;
     otherwise the time is proportional to the characters before and after the cut;
   - Merge with next / Delete line;
   - Save: sends the lines as JSON with the version they are based on (X-CSRF-Token header);
     an error (invalid line, someone saved meanwhile) is shown and every edit stays on the page.
   Everything is a button or a key in the text, so no mouse is needed.  No inline script (CSP). */
(function () {
  "use strict";

  var form, list, status;

  function fmt(template, n) { return (template || "").replace("{n}", String(n)); }

  function say(text, isError) {
    status.textContent = text;
    status.classList.toggle("is-error", !!isError);
    status.setAttribute("role", isError ? "alert" : "status");
  }

  function lines() { return Array.prototype.slice.call(list.querySelectorAll("li.editor-line")); }
  function field(li, name) { return li.querySelector("[name='" + name + "']"); }
  function timed() { return form.dataset.timed === "1"; }
  function round2(x) { return Math.round(x * 100) / 100; }

  function renumber() {
    lines().forEach(function (li, i) {
      var n = i + 1;
      li.setAttribute("aria-label", fmt(form.dataset.lineLabel, n));
      var no = li.querySelector(".line-no");
      if (no) no.textContent = String(n);
      var text = field(li, "text");
      var label = li.querySelector("label[for^='line-text-']");
      text.id = "line-text-" + n;
      if (label) label.setAttribute("for", text.id);
    });
  }

  function isWordChar(ch) { return /[A-Za-z0-9\u00C0-\u024F]/.test(ch || ""); }

  /* Join two pieces of text: a space between Latin words, nothing between Japanese characters. */
  function joinText(a, b) {
    a = a.replace(/\s+$/, "");
    b = b.replace(/^\s+/, "");
    if (!a) return b;
    if (!b) return a;
    return isWordChar(a.slice(-1)) && isWordChar(b.charAt(0)) ? a + " " + b : a + b;
  }

  function wordsOf(li) {
    try { return JSON.parse(li.dataset.words || "null"); } catch (e) { return null; }
  }

  /* Where the recogniser's words start in the text (null when they no longer spell it, in order). */
  function wordStarts(words, text) {
    var lower = text.toLowerCase(), cursor = 0, starts = [];
    for (var i = 0; i < words.length; i++) {
      var word = String(words[i][0]).trim().toLowerCase();
      var at = word ? lower.indexOf(word, cursor) : -1;
      if (at < 0) return null;
      starts.push(at);
      cursor = at + word.length;
    }
    return starts;
  }

  /* Where and when to cut a line asked to be cut at character `pos`: at the nearest word's start
     when the line still has word timings, else at `pos` with the time in proportion to the characters. */
  function cutAt(li, text, pos, start, end) {
    var words = wordsOf(li);
    var starts = words && words.length > 1 ? wordStarts(words, text) : null;
    if (starts) {
      var best = 1;
      for (var j = 2; j < words.length; j++) {
        if (Math.abs(starts[j] - pos) < Math.abs(starts[best] - pos)) best = j;
      }
      var t = round2(words[best][1]);
      if (t > start && t < end && starts[best] > 0) return { pos: starts[best], time: t };
    }
    var cut = round2(start + (end - start) * (text.length ? pos / text.length : 0.5));
    if (cut <= start || cut >= end) cut = round2((start + end) / 2);
    return { pos: pos, time: cut };
  }

  function split(li) {
    var area = field(li, "text");
    var text = area.value;
    var pos = area.selectionStart;
    var start = parseFloat(field(li, "start").value);
    var end = parseFloat(field(li, "end").value);
    var timedLine = isFinite(start) && isFinite(end) && end > start;
    var cut = timedLine && pos !== null ? cutAt(li, text, pos, start, end) : { pos: pos, time: null };
    var left = text.slice(0, cut.pos).replace(/\s+$/, "");
    var right = text.slice(cut.pos).replace(/^\s+/, "");
    if (pos === null || !left.trim() || !right.trim()) {
      say(form.dataset.msgSplitWhere, true);
      area.focus();
      return;
    }
    var copy = li.cloneNode(true);
    if (cut.time !== null) {
      field(li, "end").value = cut.time;
      field(copy, "start").value = cut.time;
    }
    area.value = left;
    field(copy, "text").value = right;
    field(copy, "idx").value = "";        // a new line: not one the recogniser made
    li.dataset.words = "null";            // the words no longer spell either part
    copy.dataset.words = "null";
    li.parentNode.insertBefore(copy, li.nextSibling);
    renumber();
    changed();
    say(fmt(form.dataset.msgSplitDone, lines().indexOf(li) + 1));
    var next = field(copy, "text");
    next.focus();
    next.setSelectionRange(0, 0);
  }

  function merge(li) {
    var next = li.nextElementSibling;
    if (!next) { say(form.dataset.msgMergeLast, true); return; }
    var area = field(li, "text");
    var caret = area.value.replace(/\s+$/, "").length;
    area.value = joinText(area.value, field(next, "text").value);
    if (timed()) {
      field(li, "end").value = field(next, "end").value;
      var speaker = field(li, "speaker");
      if (!speaker.value) speaker.value = field(next, "speaker").value;
    }
    li.dataset.words = "null";
    next.parentNode.removeChild(next);
    renumber();
    changed();
    say(fmt(form.dataset.msgMergeDone, lines().indexOf(li) + 1));
    area.focus();
    area.setSelectionRange(caret, caret);
  }

  function remove(li) {
    var all = lines();
    if (all.length <= 1) { say(form.dataset.msgDeleteLast, true); return; }
    var n = all.indexOf(li) + 1;
    var focusNext = li.nextElementSibling || li.previousElementSibling;
    li.parentNode.removeChild(li);
    renumber();
    changed();
    say(fmt(form.dataset.msgDeleteDone, n));
    field(focusNext, "text").focus();
  }

  var dirty = false;
  function changed() { dirty = true; }

  function collect() {
    return lines().map(function (li) {
      var idx = field(li, "idx").value;
      var line = { idx: idx === "" ? null : parseInt(idx, 10), text: field(li, "text").value };
      if (timed()) {
        line.start = field(li, "start").value;
        line.end = field(li, "end").value;
        line.speaker = field(li, "speaker").value;
      } else {
        var page = field(li, "page");
        line.page = page && page.value !== "" ? parseInt(page.value, 10) : null;
      }
      return line;
    });
  }

  function csrfToken() {
    var meta = document.querySelector("meta[name='csrf-token']");
    if (meta && meta.content) return meta.content;
    var input = form.querySelector("input[name='csrf_token']");
    return input ? input.value : "";
  }

  function save(event) {
    event.preventDefault();
    var button = form.querySelector("[type='submit']");
    button.disabled = true;
    say(form.dataset.msgSaving);
    var body = {
      base_version: parseInt(field(form, "base_version").value, 10),
      note: field(form, "note").value,
      lines: collect()
    };
    fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (data) { return { ok: response.ok, data: data }; },
                                   function () { return { ok: false, data: {} }; });
    }).then(function (result) {
      if (result.ok && result.data.editor_url) {
        dirty = false;
        window.location.assign(result.data.editor_url);
        return;
      }
      button.disabled = false;
      say(result.data.error || form.dataset.msgFailed, true);
    }, function () {
      button.disabled = false;
      say(form.dataset.msgFailed, true);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    form = document.getElementById("transcript-editor");
    if (!form) return;
    list = document.getElementById("editor-lines");
    status = document.getElementById("editor-status");
    form.dataset.ready = "1";  // the tests wait for this before driving the page

    list.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-action]");
      if (!button) return;
      var li = button.closest("li.editor-line");
      if (button.dataset.action === "split") split(li);
      else if (button.dataset.action === "merge") merge(li);
      else if (button.dataset.action === "delete") remove(li);
    });
    list.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target.name === "text" && timed()) {
        event.preventDefault();
        split(event.target.closest("li.editor-line"));
      }
    });
    form.addEventListener("input", function (event) {
      changed();
      if (event.target.name === "text") {  // typed-in text: the recogniser's word timings no longer apply
        event.target.closest("li.editor-line").dataset.words = "null";
      }
    });
    form.addEventListener("submit", save);
    window.addEventListener("beforeunload", function (event) {
      if (!dirty) return;
      event.preventDefault();
      event.returnValue = form.dataset.msgUnsaved;
    });
  });
})();
