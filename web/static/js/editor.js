/* Takumi KB transcript editor (web/templates/transcripts/editor.html).
   The lines live in the page as form fields; this script adds what a plain form cannot do:
   - Split: cut a line where the cursor is (button or Ctrl+Enter).  When the line still has the
     recogniser's word timings, the cut moves to the nearest word's start and takes its time;
     otherwise the time is proportional to the characters before and after the cut;
   - Merge with next / Delete line;
   - Save: sends the lines as JSON with the version they are based on (X-CSRF-Token header);
     an error (invalid line, someone saved meanwhile) is shown and every edit stays on the page;
   - Times: shown and typed as 01:05 (1:02:15 past an hour); each line keeps its exact seconds in
     hidden fields, changed only when the shown time is retyped (or by a split or merge);
   - Listening: the recording's player beside the lines.  A click on a line (its text or its ▶
     button) plays that line from its start and stops at its end; Esc plays or pauses; Alt+R plays
     the current line (the one being edited) again from its start, also while typing in it.  The
     line being heard is marked.
   Everything is a button or a key in the text, so no mouse is needed.  No inline script (CSP). */
(function () {
  "use strict";

  var form, list, status, player, now;

  function fmt(template, n) { return (template || "").replace("{n}", String(n)); }

  function say(text, isError) {
    status.textContent = text;
    status.classList.toggle("is-error", !!isError);
    status.setAttribute("role", isError ? "alert" : "status");
  }

  function lines() { return Array.prototype.slice.call(list.querySelectorAll("li.editor-line")); }
  function field(li, name) { return li.querySelector("[name='" + name + "']"); }
  function round2(x) { return Math.round(x * 100) / 100; }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  /* 02:15, or 1:02:15 past an hour (as web.formatting.clock). */
  function clock(seconds) {
    var total = Math.max(0, Math.floor(seconds));
    var h = Math.floor(total / 3600), m = Math.floor(total % 3600 / 60), s = total % 60;
    return h ? h + ":" + pad(m) + ":" + pad(s) : pad(m) + ":" + pad(s);
  }

  /* Seconds from 01:05, 1:05.5, 1:02:15 or 65, also in full-width digits (as web.formatting.parse_clock). */
  function parseClock(text) {
    text = String(text || "").normalize("NFKC").trim().replace(",", ".");
    var parts = text.split(":");
    if (!text || parts.length > 3) return null;
    if (!/^\d+(\.\d+)?$/.test(parts[parts.length - 1])) return null;
    for (var i = 0; i < parts.length - 1; i++) if (!/^\d+$/.test(parts[i])) return null;
    var seconds = parseFloat(parts[parts.length - 1]);
    if (parts.length > 1 && seconds >= 60) return null;
    if (parts.length === 3 && parseInt(parts[1], 10) >= 60) return null;
    var total = seconds, unit = 60;
    for (var j = parts.length - 2; j >= 0; j--) { total += parseInt(parts[j], 10) * unit; unit *= 60; }
    return Math.round(total * 1000) / 1000;
  }

  /* A line's time: the exact seconds (hidden field) and the shown one (01:05). */
  function setTime(li, name, seconds) {
    var shown = field(li, name + "_at");
    field(li, name).value = seconds;
    shown.value = clock(seconds);
    shown.dataset.seconds = seconds;
    shown.setCustomValidity("");
    timesChanged();
  }

  /* The shown time was typed: keep the exact seconds while it still reads the same, else take it. */
  function typedTime(input) {
    var li = input.closest("li.editor-line");
    var name = input.name.replace(/_at$/, "");
    var original = input.dataset.seconds;
    var seconds = parseClock(input.value);
    if (seconds === null) {
      input.setCustomValidity(form.dataset.msgTimeInvalid);
      return;
    }
    input.setCustomValidity("");
    field(li, name).value = original !== "" && original !== undefined && clock(parseFloat(original)) === input.value.trim()
      ? original : seconds;
    timesChanged();
  }

  function renumber() {
    lines().forEach(function (li, i) {
      var n = i + 1;
      li.setAttribute("aria-label", fmt(form.dataset.lineLabel, n));
      var no = li.querySelector(".line-no");
      if (no) no.textContent = String(n);
      var play = li.querySelector("[data-action='play']");
      if (play) {
        play.setAttribute("aria-label", form.dataset.playLabel.replace("{n}", String(n))
          .replace("{time}", clock(parseFloat(field(li, "start").value) || 0)));
      }
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
    copy.classList.remove("speaking");
    if (cut.time !== null) {
      setTime(li, "end", cut.time);
      setTime(copy, "start", cut.time);
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
    var end = field(next, "end_at");
    field(li, "end").value = field(next, "end").value;
    field(li, "end_at").value = end.value;
    field(li, "end_at").dataset.seconds = end.dataset.seconds;
    var speaker = field(li, "speaker");
    if (!speaker.value) speaker.value = field(next, "speaker").value;
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
  function changed() { dirty = true; timesChanged(); }

  function collect() {
    return lines().map(function (li) {
      var idx = field(li, "idx").value;
      return { idx: idx === "" ? null : parseInt(idx, 10), text: field(li, "text").value,
               start: field(li, "start").value, end: field(li, "end").value, speaker: field(li, "speaker").value };
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
    var wrong = form.querySelector("input:invalid");
    if (wrong) { wrong.reportValidity(); return; }
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

  /* ---- Listening: the player beside the lines ---- */

  var currentLi = null;   // the line being edited (focus), for Alt+R
  var pendingLi = null;   // a line pressed on that was not the current one: its click plays it
  var stopAt = null;      // the end of the line being played
  var speaking = null;    // the line being heard
  var starts = null;      // the lines' start times, rebuilt after an edit

  function timesChanged() { starts = null; }

  function lineStarts() {
    if (starts === null) starts = lines().map(function (li) { return parseFloat(field(li, "start").value); });
    return starts;
  }

  function markSpeaking(t) {
    var all = lines(), times = lineStarts(), found = null;
    for (var i = 0; i < times.length; i++) {
      if (isFinite(times[i]) && times[i] <= t + 0.05) found = all[i]; else if (times[i] > t + 0.05) break;
    }
    if (found === speaking) return;
    if (speaking) speaking.classList.remove("speaking");
    speaking = found;
    if (found) {
      found.classList.add("speaking");
      now.textContent = fmt(now.dataset.template, all.indexOf(found) + 1) + " · " + clock(t);
    }
  }

  function playLine(li) {
    var start = parseFloat(field(li, "start").value);
    var end = parseFloat(field(li, "end").value);
    if (!isFinite(start)) return;
    stopAt = isFinite(end) && end > start ? end : null;
    player.currentTime = start;
    markSpeaking(start);
    var playing = player.play();
    if (playing && playing.catch) playing.catch(function () {});
  }

  function togglePlay() {
    stopAt = null;  // Esc plays on from where it is
    if (player.paused) {
      var playing = player.play();
      if (playing && playing.catch) playing.catch(function () {});
    } else {
      player.pause();
    }
  }

  function setUpPlayer() {
    player = document.getElementById("editor-player");
    now = document.getElementById("editor-now");
    if (!player) return;
    player.addEventListener("timeupdate", function () {
      if (stopAt !== null && player.currentTime >= stopAt) {
        player.pause();
        stopAt = null;
      }
      markSpeaking(player.currentTime);
    });
    player.addEventListener("seeked", function () { markSpeaking(player.currentTime); });
    list.addEventListener("focusin", function (event) {
      var li = event.target.closest("li.editor-line");
      if (li) currentLi = li;
    });
    list.addEventListener("pointerdown", function (event) {
      var li = event.target.closest("li.editor-line");
      pendingLi = li && li !== currentLi && !event.target.closest("button, input") ? li : null;
    });
    list.addEventListener("click", function (event) {
      var li = event.target.closest("li.editor-line");
      if (!li) return;
      if (event.target.closest("button[data-action='play']")) {
        currentLi = li;
        playLine(li);
      } else if (li === pendingLi) {  // a click on another line: hear it while correcting it
        playLine(li);
      }
      pendingLi = null;
    });
    document.addEventListener("keydown", function (event) {
      if (event.isComposing || event.keyCode === 229) return;  // the Japanese input method's own keys
      if (event.key === "Escape" && !event.altKey && !event.ctrlKey && !event.metaKey && !event.shiftKey) {
        event.preventDefault();
        togglePlay();
      } else if (event.altKey && !event.ctrlKey && !event.metaKey && event.code === "KeyR") {
        event.preventDefault();
        var li = currentLi && currentLi.isConnected ? currentLi : (speaking || lines()[0]);
        if (li) playLine(li);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    form = document.getElementById("transcript-editor");
    if (!form) return;
    list = document.getElementById("editor-lines");
    status = document.getElementById("editor-status");
    setUpPlayer();
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
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target.name === "text") {
        event.preventDefault();
        split(event.target.closest("li.editor-line"));
      }
    });
    form.addEventListener("input", function (event) {
      changed();
      if (event.target.name === "start_at" || event.target.name === "end_at") typedTime(event.target);
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
