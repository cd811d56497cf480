// DataInsight chunked uploader.
//
// Any element with class "upload-zone" becomes a drop zone (and opens a file picker on
// click). Each file is sent in chunks to /api/v1/uploads with a progress bar and a
// cancel button; an interrupted upload resumes where the server says it stopped
// (remembered in localStorage). When every file of a drop is finished, the browser goes
// to the import screen, which shows what each file holds before anything is saved.
//
// Zone attributes: data-progress (id of the element that holds the progress rows),
// data-mode ("new", "replace" or "append") and data-dataset (the dataset for
// replace/append).
(function () {
  "use strict";

  var MAX_RETRIES = 5;

  function storageKey(file) {
    return "datainsight-upload:" + file.name + ":" + file.size + ":" + file.lastModified;
  }

  function humanSize(bytes) {
    if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(0) + " KB";
    if (bytes < 1024 * 1024 * 1024) return (bytes / (1024 * 1024)).toFixed(1) + " MB";
    return (bytes / (1024 * 1024 * 1024)).toFixed(2) + " GB";
  }

  function errorMessage(xhr) {
    try {
      var body = JSON.parse(xhr.responseText);
      if (body && body.error && body.error.message) return body.error.message;
    } catch (e) { /* not JSON */ }
    if (xhr.status === 0) return "The connection to the server was lost";
    return "The server answered " + xhr.status;
  }

  function request(method, url, body, onProgress) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open(method, url);
      xhr.withCredentials = true;
      if (body && !(body instanceof Blob)) {
        xhr.setRequestHeader("Content-Type", "application/json");
        body = JSON.stringify(body);
      } else if (body) {
        xhr.setRequestHeader("Content-Type", "application/octet-stream");
      }
      if (onProgress && xhr.upload) {
        xhr.upload.onprogress = function (e) { if (e.lengthComputable) onProgress(e.loaded); };
      }
      xhr.onload = function () {
        var json = null;
        try { json = xhr.responseText ? JSON.parse(xhr.responseText) : null; } catch (e) { /* empty */ }
        if (xhr.status >= 200 && xhr.status < 300) resolve(json);
        else reject({ status: xhr.status, message: errorMessage(xhr), body: json });
      };
      xhr.onerror = function () { reject({ status: 0, message: errorMessage(xhr) }); };
      xhr.onabort = function () { reject({ status: -1, message: "Cancelled" }); };
      if (onProgress) onProgress.xhr = xhr;
      xhr.send(body || null);
      request.last = xhr;
    });
  }

  function makeRow(container, file) {
    var row = document.createElement("div");
    row.className = "upload-row";
    row.innerHTML =
      '<div class="d-flex justify-content-between align-items-center mb-1">' +
      '<span class="upload-name text-truncate"></span>' +
      '<span><span class="upload-status small text-body-secondary me-2"></span>' +
      '<button type="button" class="btn btn-sm btn-outline-secondary upload-cancel">Cancel</button></span></div>' +
      '<div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax="100">' +
      '<div class="progress-bar" style="width: 0%"></div></div>';
    row.querySelector(".upload-name").textContent = file.name + " (" + humanSize(file.size) + ")";
    container.appendChild(row);
    return {
      row: row,
      set: function (fraction, text) {
        var pct = Math.max(0, Math.min(100, Math.round(fraction * 100)));
        var bar = row.querySelector(".progress-bar");
        bar.style.width = pct + "%";
        row.querySelector(".progress").setAttribute("aria-valuenow", String(pct));
        row.querySelector(".upload-status").textContent = text || pct + "%";
      },
      fail: function (text) {
        row.querySelector(".progress-bar").classList.add("bg-danger");
        row.querySelector(".upload-status").textContent = "";
        var msg = document.createElement("div");
        msg.className = "upload-error small text-danger mt-1";
        msg.textContent = text;
        row.appendChild(msg);
        row.querySelector(".upload-cancel").remove();
      },
      done: function () {
        row.querySelector(".progress-bar").classList.add("bg-success");
        row.querySelector(".upload-status").textContent = "Uploaded";
        var cancel = row.querySelector(".upload-cancel");
        if (cancel) cancel.remove();
      }
    };
  }

  function uploadFile(file, ui) {
    var state = { cancelled: false, xhr: null, id: null };
    ui.row.querySelector(".upload-cancel").addEventListener("click", function () {
      state.cancelled = true;
      if (state.xhr) state.xhr.abort();
      if (state.id) request("DELETE", "/api/v1/uploads/" + state.id).catch(function () {});
      localStorage.removeItem(storageKey(file));
      ui.fail("Cancelled");
    });

    function begin() {
      var known = localStorage.getItem(storageKey(file));
      if (known) {
        return request("GET", "/api/v1/uploads/" + known).then(function (info) {
          if (info.status === "receiving" || info.status === "complete") return info;
          throw { status: 404 };
        }).catch(function () {
          localStorage.removeItem(storageKey(file));
          return request("POST", "/api/v1/uploads", { filename: file.name, size: file.size });
        });
      }
      return request("POST", "/api/v1/uploads", { filename: file.name, size: file.size });
    }

    function sendFrom(info, retries) {
      state.id = info.id;
      localStorage.setItem(storageKey(file), info.id);
      if (info.offset >= file.size) return Promise.resolve(info);
      if (state.cancelled) return Promise.reject({ status: -1, message: "Cancelled" });
      var end = Math.min(file.size, info.offset + info.chunk_size);
      var chunk = file.slice(info.offset, end);
      var progress = function (loaded) { ui.set((info.offset + loaded) / file.size); };
      var sending = request("PUT", "/api/v1/uploads/" + info.id + "?offset=" + info.offset, chunk, progress);
      state.xhr = request.last;
      return sending.then(function (next) {
        ui.set(next.offset / file.size);
        return sendFrom(next, MAX_RETRIES);
      }).catch(function (err) {
        if (state.cancelled || err.status === -1) throw err;
        if (err.status === 409 && err.body && err.body.error && err.body.error.details) {
          info.offset = err.body.error.details.offset;  // the server knows better: resume there
          return sendFrom(info, retries);
        }
        if ((err.status === 0 || err.status >= 500) && retries > 0) {
          ui.set(info.offset / file.size, "Connection lost; retrying…");
          return new Promise(function (r) { setTimeout(r, 1000 * (MAX_RETRIES - retries + 1)); })
            .then(function () { return request("GET", "/api/v1/uploads/" + info.id); })
            .then(function (fresh) { return sendFrom(fresh, retries - 1); },
                  function () { return sendFrom(info, retries - 1); });
        }
        throw err;
      });
    }

    return begin().then(function (info) { return sendFrom(info, MAX_RETRIES); }).then(function (info) {
      localStorage.removeItem(storageKey(file));
      ui.done();
      return info.id;
    }).catch(function (err) {
      if (!state.cancelled) ui.fail(err.message || "The upload failed");
      return null;
    });
  }

  function handleFiles(zone, files) {
    if (!files || !files.length) return;
    var container = document.getElementById(zone.getAttribute("data-progress")) || zone;
    var jobs = [];
    // Two at a time: enough to keep the line busy without starving the server.
    var queue = Array.prototype.slice.call(files);
    var results = [];
    function next() {
      var file = queue.shift();
      if (!file) return Promise.resolve();
      var ui = makeRow(container, file);
      return uploadFile(file, ui).then(function (id) { if (id) results.push(id); return next(); });
    }
    jobs.push(next(), next());
    Promise.all(jobs).then(function () {
      if (!results.length) return;
      var params = new URLSearchParams();
      params.set("uploads", results.join(","));
      var mode = zone.getAttribute("data-mode") || "new";
      params.set("mode", mode);
      if (zone.getAttribute("data-dataset")) params.set("dataset", zone.getAttribute("data-dataset"));
      window.location.assign("/datasets/import?" + params.toString());
    });
  }

  function zoneOf(target) {
    return target && target.closest ? target.closest(".upload-zone") : null;
  }

  document.addEventListener("dragover", function (e) {
    var zone = zoneOf(e.target);
    if (!zone) return;
    e.preventDefault();
    zone.classList.add("upload-zone-active");
  });
  document.addEventListener("dragleave", function (e) {
    var zone = zoneOf(e.target);
    if (zone) zone.classList.remove("upload-zone-active");
  });
  document.addEventListener("drop", function (e) {
    var zone = zoneOf(e.target);
    if (!zone) return;
    e.preventDefault();
    zone.classList.remove("upload-zone-active");
    handleFiles(zone, e.dataTransfer.files);
  });
  document.addEventListener("click", function (e) {
    var zone = zoneOf(e.target);
    if (!zone) return;
    var input = document.createElement("input");
    input.type = "file";
    input.multiple = zone.getAttribute("data-mode") === "new" || !zone.getAttribute("data-mode");
    input.className = "upload-input d-none";
    input.addEventListener("change", function () { handleFiles(zone, input.files); input.remove(); });
    document.body.appendChild(input);
    input.click();
  });
  // Tests and keyboard users: the zone is a button; Enter opens the picker too.
  document.addEventListener("keydown", function (e) {
    var zone = zoneOf(e.target);
    if (zone && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); zone.click(); }
  });
  window.DataInsightUploader = { handleFiles: handleFiles };
})();
