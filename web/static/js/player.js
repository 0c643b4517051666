/* The recording page: start at ?t=, follow the transcript as it plays, seek when a line is clicked.

   Built for long transcripts: the line start times are read once into a typed array, each
   timeupdate is a binary search and touches at most two elements, and the list scrolls inside
   its own box (never the page) unless the user has just scrolled it by hand. */
(function () {
  "use strict";

  var player = document.getElementById("player");
  if (!player) return;
  var list = document.getElementById("transcript");
  var links = list ? list.querySelectorAll("a[data-start]") : [];
  var starts = new Float64Array(links.length);
  for (var i = 0; i < links.length; i++) {
    var value = parseFloat(links[i].getAttribute("data-start"));
    starts[i] = isNaN(value) ? -1 : value;
  }
  var current = -1;
  for (var j = 0; j < links.length; j++) {
    if (links[j].parentNode.classList.contains("current")) { current = j; break; }
  }
  var userScrolledAt = 0;

  /* The last line that has started at time t (the line being spoken). */
  function indexAt(t) {
    var lo = 0, hi = starts.length - 1, found = -1;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (starts[mid] <= t + 0.05) { found = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    return found;
  }

  function outOfView(item) {
    var top = item.offsetTop - list.offsetTop;
    return top < list.scrollTop || top + item.offsetHeight > list.scrollTop + list.clientHeight;
  }

  /* Lines far down use an estimated height (content-visibility:auto) until they are drawn, so
     the first scroll can land short of the line; check again once they are, and correct. */
  function reveal(index, smooth, retries) {
    if (!list || index < 0) return;
    var item = links[index].parentNode;
    if (outOfView(item) || !smooth) {
      var wanted = item.offsetTop - list.offsetTop - list.clientHeight / 3;
      list.scrollTo({ top: Math.max(0, wanted), behavior: smooth ? "smooth" : "instant" });
    }
    if (retries === undefined) retries = 3;
    if (retries > 0) {
      setTimeout(function () {
        if (index === current && outOfView(item) && Date.now() - userScrolledAt > 4000) reveal(index, false, retries - 1);
      }, smooth ? 700 : 100);
    }
  }

  function highlight(index, follow) {
    if (index === current) return;
    if (current >= 0) {
      var old = links[current].parentNode;
      old.classList.remove("current");
      old.removeAttribute("aria-current");
    }
    current = index;
    if (index < 0) return;
    var item = links[index].parentNode;
    item.classList.add("current");
    item.setAttribute("aria-current", "true");
    if (follow && Date.now() - userScrolledAt > 4000) reveal(index, true);
  }

  function sync() { highlight(indexAt(player.currentTime), true); }

  player.addEventListener("timeupdate", sync);
  player.addEventListener("seeked", sync);

  if (list) {
    ["wheel", "touchmove", "keydown"].forEach(function (name) {
      list.addEventListener(name, function () { userScrolledAt = Date.now(); }, { passive: true });
    });
    list.addEventListener("click", function (event) {
      var link = event.target.closest("a[data-start]");
      if (!link) return;
      var t = parseFloat(link.getAttribute("data-start"));
      if (isNaN(t)) return;
      event.preventDefault();
      player.currentTime = t;
      highlight(indexAt(t), false);
      userScrolledAt = 0;
      var playing = player.play();
      if (playing && playing.catch) playing.catch(function () {});
      history.replaceState(null, "", "?t=" + Math.floor(t));
    });
  }

  /* Start at the moment the link named, and play if the browser allows it. */
  var start = parseFloat(player.getAttribute("data-start")) || 0;
  function begin() {
    if (start > 0 && Math.abs(player.currentTime - start) > 0.5) player.currentTime = start;
    highlight(indexAt(start), false);
    reveal(current, false);
    var playing = player.play();
    if (playing && playing.catch) playing.catch(function () {});
  }
  if (player.readyState >= 1) begin(); else player.addEventListener("loadedmetadata", begin, { once: true });
  if (current >= 0) reveal(current, false);

  /* "Link to the current time": the link, the QR code and the print card follow the player. */
  var now = document.getElementById("link-now");
  if (now) {
    now.addEventListener("click", function () {
      var t = Math.floor(player.currentTime);
      var input = document.getElementById("share-link");
      var qr = document.getElementById("share-qr");
      var print = document.getElementById("print-link");
      if (input) input.value = input.getAttribute("data-base") + "?t=" + t;
      if (qr) qr.src = qr.src.split("?")[0] + "?t=" + t;
      if (print) print.href = print.href.split("?")[0] + "?t=" + t;
    });
  }
})();
