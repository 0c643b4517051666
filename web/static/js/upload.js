/* Studio uploads: drag-and-drop or the file button, one request per file with a progress bar, and each
   file's own result (received / refused with the reason).  Without this script the same form posts all
   files at once and the server answers with a page; with it, a bad or too-large file never holds up the
   others.  After each accepted file the list of recordings is refreshed (htmx, event "kb-uploaded"),
   and it keeps polling while anything is being processed. */
(function () {
  "use strict";

  var form = document.getElementById("upload-form");
  if (!form || !window.FormData || !window.XMLHttpRequest) return;
  var input = document.getElementById("upload-files");
  var zone = document.getElementById("dropzone");
  var queue = document.getElementById("upload-queue");
  var submit = document.getElementById("upload-submit");
  var maxBytes = parseInt(form.dataset.maxBytes, 10) || 0;
  var chosen = [];   // File objects waiting to be sent
  var busy = false;

  input.removeAttribute("required");  // dropped files do not sit in the input; the script checks instead

  function csrf() {
    return window.TakumiKB && window.TakumiKB.csrfToken ? window.TakumiKB.csrfToken() : "";
  }

  var units = (form.dataset.sizeUnits || "bytes,KB,MB,GB").split(",");  // in the page's language

  function sizeText(n) {
    var i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
    return (i === 0 ? String(n) : n.toFixed(1).replace(/\.0$/, "")) + " " + units[i];
  }

  function itemFor(file) {
    var li = document.createElement("li");
    li.className = "upload-item";
    var name = document.createElement("span");
    name.className = "upload-name";
    name.textContent = file.name + " (" + sizeText(file.size) + ")";
    var bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", file.name);
    var message = document.createElement("span");
    message.className = "upload-message";
    message.textContent = form.dataset.waiting;
    li.appendChild(name);
    li.appendChild(bar);
    li.appendChild(message);
    queue.appendChild(li);
    return { li: li, bar: bar, message: message };
  }

  function finish(view, ok, text, detail) {
    view.li.classList.add(ok ? "is-ok" : "is-refused");
    view.bar.value = ok ? 100 : view.bar.value;
    if (!ok) view.bar.hidden = true;
    view.message.textContent = text;
    if (detail) {  // the technical reason (English, ffmpeg's words), folded away under the plain sentence
      var details = document.createElement("details");
      details.className = "problem-detail";
      var summary = document.createElement("summary");
      summary.textContent = form.dataset.details;
      var code = document.createElement("code");
      code.textContent = detail;
      details.appendChild(summary);
      details.appendChild(code);
      view.li.appendChild(details);
    }
  }

  function add(files) {
    for (var i = 0; i < files.length; i += 1) chosen.push({ file: files[i], view: itemFor(files[i]) });
  }

  input.addEventListener("change", function () {
    if (busy) return;
    queue.textContent = "";
    chosen = [];
    add(input.files);
  });

  ["dragenter", "dragover"].forEach(function (type) {
    zone.addEventListener(type, function (event) {
      event.preventDefault();
      zone.classList.add("is-over");
    });
  });
  ["dragleave", "drop"].forEach(function (type) {
    zone.addEventListener(type, function () { zone.classList.remove("is-over"); });
  });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    if (busy || !event.dataTransfer) return;
    add(event.dataTransfer.files);
  });

  function fields(withTitle) {
    var data = new FormData();
    var elements = form.elements;
    for (var i = 0; i < elements.length; i += 1) {
      var el = elements[i];
      if (!el.name || el.disabled || el.type === "file" || el.type === "submit") continue;
      if ((el.type === "radio" || el.type === "checkbox") && !el.checked) continue;
      if (el.name === "title" && !withTitle) continue;
      data.append(el.name, el.value);
    }
    return data;
  }

  function send(entry, withTitle) {
    return new Promise(function (resolve) {
      var view = entry.view;
      if (maxBytes && entry.file.size > maxBytes) {
        finish(view, false, form.dataset.tooLarge.replace("{name}", entry.file.name));
        resolve(false);
        return;
      }
      var data = fields(withTitle);
      data.append("file", entry.file, entry.file.name);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRF-Token", csrf());
      view.message.textContent = form.dataset.sending;
      xhr.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) view.bar.value = Math.round(100 * event.loaded / event.total);
      });
      xhr.addEventListener("load", function () {
        var body = null;
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
        var result = body && body.results && body.results[0];
        if (result) {
          finish(view, result.ok, result.message, result.detail);
          resolve(result.ok);
        } else {
          finish(view, false, (body && body.error) || form.dataset.failed, body && body.detail);
          resolve(false);
        }
      });
      xhr.addEventListener("error", function () { finish(view, false, form.dataset.failed); resolve(false); });
      xhr.send(data);
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (busy) return;
    if (!chosen.length) { input.focus(); input.click(); return; }
    busy = true;
    submit.disabled = true;
    var batch = chosen;
    chosen = [];
    var withTitle = batch.length === 1;
    var chain = Promise.resolve();
    batch.forEach(function (entry) {
      chain = chain.then(function () { return send(entry, withTitle); }).then(function (ok) {
        if (ok) document.body.dispatchEvent(new CustomEvent("kb-uploaded"));
      });
    });
    chain.then(function () {
      busy = false;
      submit.disabled = false;
      input.value = "";
    });
  });
})();
