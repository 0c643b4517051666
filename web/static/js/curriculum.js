/* The curriculum editor: reorder items by drag and drop (the ↑/↓ buttons are the keyboard way, and
   work without this script).  A drop sends the whole order ([[section id or null, [item ids]], ...]) to
   the server, which refuses it if the curriculum changed meanwhile; the page then reloads. */
(function () {
  "use strict";

  var outline = document.getElementById("cur-outline");
  if (!outline) return;
  var status = document.getElementById("reorder-status");
  var tokenMeta = document.querySelector('meta[name="csrf-token"]');
  var dragged = null;

  function currentLayout() {
    var groups = outline.querySelectorAll("ol.cur-items");
    var layout = [];
    for (var g = 0; g < groups.length; g++) {
      var raw = groups[g].getAttribute("data-section");
      var ids = [];
      var items = groups[g].querySelectorAll("li[data-item]");
      for (var i = 0; i < items.length; i++) ids.push(parseInt(items[i].getAttribute("data-item"), 10));
      layout.push([raw ? parseInt(raw, 10) : null, ids]);
    }
    return layout;
  }

  function save() {
    var request = new XMLHttpRequest();
    request.open("POST", outline.getAttribute("data-layout-url"));
    request.setRequestHeader("Content-Type", "application/json");
    request.setRequestHeader("Accept", "application/json");
    if (tokenMeta) request.setRequestHeader("X-CSRF-Token", tokenMeta.getAttribute("content"));
    request.onload = function () {
      if (request.status === 200) {
        if (status) status.textContent = outline.getAttribute("data-saved");
        outline.setAttribute("data-saved-at", String(Date.now()));
      } else {
        failed();
      }
    };
    request.onerror = failed;
    request.send(JSON.stringify({ layout: currentLayout() }));
  }

  function failed() {
    if (status) status.textContent = outline.getAttribute("data-failed");
    window.setTimeout(function () { window.location.reload(); }, 1500);
  }

  /* The item (or list) under the pointer, and whether to drop before or after it. */
  function dropTarget(event) {
    var el = event.target;
    while (el && el !== outline) {
      if (el.matches && el.matches("li[data-item]")) return { item: el };
      if (el.matches && el.matches("ol.cur-items, .cur-group")) {
        return { list: el.matches("ol") ? el : el.querySelector("ol.cur-items") };
      }
      el = el.parentNode;
    }
    return null;
  }

  outline.addEventListener("dragstart", function (event) {
    var li = event.target.closest ? event.target.closest("li[data-item]") : null;
    if (!li) return;
    dragged = li;
    li.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", li.getAttribute("data-item"));
  });
  outline.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
  });
  outline.addEventListener("dragover", function (event) {
    if (dragged && dropTarget(event)) event.preventDefault();
  });
  outline.addEventListener("drop", function (event) {
    var target = dropTarget(event);
    if (!dragged || !target) return;
    event.preventDefault();
    if (target.item && target.item !== dragged) {
      var box = target.item.getBoundingClientRect();
      var after = event.clientY > box.top + box.height / 2;
      target.item.parentNode.insertBefore(dragged, after ? target.item.nextSibling : target.item);
    } else if (target.list && !target.item) {
      target.list.appendChild(dragged);
    } else {
      return;
    }
    dragged.classList.remove("dragging");
    dragged = null;
    save();
  });
})();
