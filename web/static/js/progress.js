/* Learning progress from the browser: the player reports that an item was watched, and nothing is lost
   when the connection is.

   Watched: the seconds of the item's moment (start..end; the whole recording for a whole-recording item)
   actually played are counted (seeking does not count); at the threshold (80 %) an event is made.
   Every event has a random id and goes into a queue in localStorage (one per user) before it is sent;
   it leaves the queue only when the server has answered for it (recorded, or duplicate: already counted,
   or refused: it can never be counted).  The queue is sent again on every page that loads this script,
   when the browser comes back online, and every 30 s.  The server stores each id once. */
(function () {
  "use strict";

  var banner = document.getElementById("learning-item");
  var anchor = banner || document.getElementById("learning-queue");
  if (!anchor) return;
  var user = anchor.getAttribute("data-user");
  var endpoint = anchor.getAttribute("data-endpoint");
  var key = "kb-progress-queue:" + user;
  var tokenMeta = document.querySelector('meta[name="csrf-token"]');
  var sending = false;

  function readQueue() {
    try { return JSON.parse(window.localStorage.getItem(key) || "[]"); } catch (e) { return []; }
  }
  function writeQueue(queue) {
    try { window.localStorage.setItem(key, JSON.stringify(queue)); } catch (e) { /* private mode: send only */ }
  }

  function uuid() {
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = [];
    for (var i = 0; i < 16; i++) h.push((b[i] + 0x100).toString(16).slice(1));
    return h.slice(0, 4).join("") + "-" + h.slice(4, 6).join("") + "-" + h.slice(6, 8).join("") + "-" +
      h.slice(8, 10).join("") + "-" + h.slice(10).join("");
  }

  function flush() {
    var queue = readQueue();
    if (sending || !queue.length) return;
    sending = true;
    var request = new XMLHttpRequest();
    request.open("POST", endpoint);
    request.setRequestHeader("Content-Type", "application/json");
    request.setRequestHeader("Accept", "application/json");
    if (tokenMeta) request.setRequestHeader("X-CSRF-Token", tokenMeta.getAttribute("content"));
    request.onload = function () {
      sending = false;
      if (request.status !== 200) return; /* keep everything: try again later */
      var answered = {};
      try {
        var results = JSON.parse(request.responseText).results || [];
        for (var i = 0; i < results.length; i++) answered[results[i].event_id] = results[i].status;
      } catch (e) { return; }
      writeQueue(readQueue().filter(function (ev) { return !answered[ev.event_id]; }));
      document.documentElement.setAttribute("data-progress-sent", String(Date.now()));
    };
    request.onerror = function () { sending = false; };
    request.send(JSON.stringify({ events: queue }));
  }

  function enqueue(event) {
    event.event_id = uuid();
    var queue = readQueue();
    queue.push(event);
    writeQueue(queue);
    flush();
  }

  window.addEventListener("online", flush);
  window.setInterval(flush, 30000);
  flush();

  var player = document.getElementById("player");
  if (!banner || !player || banner.getAttribute("data-kind") === "passage") return;
  var itemId = parseInt(banner.getAttribute("data-item"), 10);
  var threshold = parseFloat(banner.getAttribute("data-threshold")) || 0.8;
  var start = parseFloat(banner.getAttribute("data-start"));
  var end = parseFloat(banner.getAttribute("data-end"));
  var played = {};  /* whole seconds of the moment that were played */
  var last = null;
  var reported = false;

  function bounds() {
    var s = isNaN(start) ? 0 : start;
    var e = isNaN(end) ? player.duration : end;
    if (!isFinite(e) && isFinite(player.duration)) e = player.duration;
    return [s, e];
  }

  player.addEventListener("seeking", function () { last = null; });
  player.addEventListener("timeupdate", function () {
    var t = player.currentTime;
    if (player.paused || player.seeking) { last = t; return; }
    /* Played, not jumped: a seek fires "seeking" first (last = null); the step check is a second guard,
       scaled by the speed (timeupdate comes every 15-250 ms of wall time, so at 2x a step is up to 0.5 s). */
    if (last !== null && t > last && t - last < Math.max(2, player.playbackRate)) {
      var b = bounds();
      for (var s = Math.floor(Math.max(last, b[0])); s < Math.min(t, b[1]); s++) played[s] = true;
      var length = b[1] - b[0];
      var count = Object.keys(played).length;
      if (!reported && length > 0 && count / Math.ceil(length) >= threshold) {
        reported = true;
        enqueue({ item_id: itemId, kind: "watched", fraction: Math.min(1, count / Math.ceil(length)) });
        var status = banner.querySelector(".learning-status");
        if (status) status.textContent = banner.getAttribute("data-watched");
        banner.setAttribute("data-reported", "1");
      }
    }
    last = t;
  });
})();
