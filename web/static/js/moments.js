/* Moving inside a recording (web/moments.py): chapters and matches on the timeline, next/previous
   through the passages a search found, a search box inside the transcript, and a moment with an end
   that stops there and offers to continue.

   It only seeks the player; player.js follows with the transcript highlight (on "seeked"). */
(function () {
  "use strict";

  var player = document.getElementById("player");
  if (!player) return;
  var list = document.getElementById("transcript");
  var lines = list ? list.querySelectorAll("li") : [];

  function seek(t) {
    if (isNaN(t)) return;
    player.currentTime = t;
    var playing = player.play();
    if (playing && playing.catch) playing.catch(function () {});
  }

  function lineStart(li) { return parseFloat(li.querySelector("a[data-start]").getAttribute("data-start")); }

  function show(li) {
    if (!list || !li) return;
    list.scrollTo({ top: Math.max(0, li.offsetTop - list.offsetTop - list.clientHeight / 3), behavior: "instant" });
  }

  /* ---------------------------------------------------------------- the timeline */
  var timeline = document.getElementById("timeline");
  var now = document.getElementById("timeline-now");
  if (timeline) {
    var duration = parseFloat(timeline.getAttribute("data-duration")) || 0;
    var place = function (el, start, end) {
      if (!duration) return;
      el.style.left = Math.min(100, 100 * start / duration) + "%";
      if (end !== undefined) el.style.width = Math.max(0.6, 100 * (end - start) / duration) + "%";
    };
    timeline.querySelectorAll(".tl-chapter").forEach(function (el) { place(el, parseFloat(el.getAttribute("data-start"))); });
    timeline.querySelectorAll(".tl-match").forEach(function (el) {
      place(el, parseFloat(el.getAttribute("data-start")), parseFloat(el.getAttribute("data-end")));
    });
    timeline.addEventListener("click", function (event) {
      var mark = event.target.closest("[data-start]");
      event.preventDefault();
      if (mark) { seek(parseFloat(mark.getAttribute("data-start"))); return; }
      var box = timeline.getBoundingClientRect();
      if (duration && box.width) seek(duration * (event.clientX - box.left) / box.width);
    });
    player.addEventListener("timeupdate", function () { if (now) place(now, player.currentTime); });
  }

  /* ---------------------------------------------------------------- chapters */
  var chapters = document.getElementById("chapters");
  if (chapters) {
    chapters.addEventListener("click", function (event) {
      var link = event.target.closest("a[data-start]");
      if (!link) return;
      event.preventDefault();
      seek(parseFloat(link.getAttribute("data-start")));
    });
  }

  /* ---------------------------------------------------------------- next / previous */
  /* A list of times to step through: the search's matching passages, or the transcript lines the
     box inside the transcript finds while it holds text. */
  function stepper(prevButton, nextButton, times) {
    function go(direction) {
      var list = times();
      if (!list.length) return;
      var t = player.currentTime, target = null;
      if (direction > 0) {
        for (var i = 0; i < list.length; i++) { if (list[i] > t + 0.5) { target = list[i]; break; } }
        if (target === null) target = list[0];
      } else {
        for (var j = list.length - 1; j >= 0; j--) { if (list[j] < t - 1.0) { target = list[j]; break; } }
        if (target === null) target = list[list.length - 1];
      }
      seek(target);
    }
    if (prevButton) prevButton.addEventListener("click", function () { go(-1); });
    if (nextButton) nextButton.addEventListener("click", function () { go(1); });
  }

  var matchTimes = [];
  if (timeline) {
    timeline.querySelectorAll(".tl-match").forEach(function (el) { matchTimes.push(parseFloat(el.getAttribute("data-start"))); });
  }
  matchTimes.sort(function (a, b) { return a - b; });
  stepper(document.getElementById("match-prev"), document.getElementById("match-next"), function () { return matchTimes; });

  /* ---------------------------------------------------------------- search inside the transcript */
  var box = document.getElementById("transcript-search");
  var count = document.getElementById("transcript-count");
  var findPrev = document.getElementById("find-prev");
  var findNext = document.getElementById("find-next");
  var found = [];
  var originals = [];
  for (var n = 0; n < lines.length; n++) {
    var span = lines[n].querySelector("a span");
    originals.push(span ? span.innerHTML : "");
  }

  function fold(text) { return (text.normalize ? text.normalize("NFKC") : text).toLowerCase(); }

  function find() {
    var wanted = fold(box.value.trim());
    found = [];
    for (var i = 0; i < lines.length; i++) {
      var li = lines[i];
      var span = li.querySelector("a span");
      if (!span) continue;
      span.innerHTML = originals[i];
      li.classList.remove("found");
      if (!wanted) continue;
      var text = span.textContent;
      var folded = fold(text);
      var at = folded.indexOf(wanted);
      if (at < 0) continue;
      li.classList.add("found");
      found.push(lineStart(li));
      if (folded.length === text.length) {  /* same positions after folding: mark the words */
        span.textContent = "";
        var last = 0;
        while (at >= 0) {
          span.appendChild(document.createTextNode(text.slice(last, at)));
          var mark = document.createElement("mark");
          mark.textContent = text.slice(at, at + wanted.length);
          span.appendChild(mark);
          last = at + wanted.length;
          at = folded.indexOf(wanted, last);
        }
        span.appendChild(document.createTextNode(text.slice(last)));
      }
    }
    var any = found.length > 0;
    if (findPrev) findPrev.hidden = !any;
    if (findNext) findNext.hidden = !any;
    if (count) {
      count.textContent = !wanted ? "" : (any ? count.getAttribute("data-found").replace("{n}", String(found.length))
                                               : count.getAttribute("data-none"));
    }
    if (any) show(list.querySelector("li.found"));
  }
  if (box) {
    box.addEventListener("input", find);
    box.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); if (found.length) findNext.click(); }
    });
    stepper(findPrev, findNext, function () { return found; });
  }

  /* ---------------------------------------------------------------- a moment's end */
  var banner = document.getElementById("learning-item");
  var end = parseFloat(player.getAttribute("data-end"));
  if (isNaN(end) && banner) end = parseFloat(banner.getAttribute("data-end"));
  var notice = document.getElementById("moment-end");
  var goOn = document.getElementById("moment-continue");
  if (!isNaN(end) && end > 0) {
    var stopped = false;
    player.addEventListener("timeupdate", function () {
      if (stopped || player.currentTime < end) return;
      if (player.currentTime > end + 2) { stopped = true; return; }  /* jumped past it on purpose */
      stopped = true;
      player.pause();
      if (notice) notice.hidden = false;
    });
    if (goOn) {
      goOn.addEventListener("click", function () {
        if (notice) notice.hidden = true;
        var playing = player.play();
        if (playing && playing.catch) playing.catch(function () {});
      });
    }
  }
})();
