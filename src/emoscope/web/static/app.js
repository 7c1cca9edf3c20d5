// The dashboard's behaviour: add and delete candidates, upload a video (drag and drop, XHR upload
// progress), follow each job by server-sent events, cancel. The API authenticates by the login cookie;
// every change also sends the page's CSRF token (the X-CSRF-Token header).
"use strict";

const csrfToken = () => document.querySelector("meta[name=csrf-token]")?.content || "";

async function api(method, url, body) {
  const headers = {"X-CSRF-Token": csrfToken()};
  if (body) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {method, headers, body: body ? JSON.stringify(body) : undefined});
  if (!response.ok) {
    const text = await response.text();
    let message = text;
    try { message = JSON.parse(text).error; } catch (e) { /* not JSON */ }
    throw new Error(message || response.statusText);
  }
  return response.status === 204 ? null : response.json();
}

function showError(form, error) {
  const slot = form.querySelector("[data-error]");
  if (slot) slot.textContent = error ? String(error.message || error) : "";
}

// Follow a job until it finishes; `onUpdate(job)` gets every state the server sends.
function follow(jobId, onUpdate) {
  const events = new EventSource(`/v1/jobs/${jobId}/events`);
  events.addEventListener("job", (event) => {
    const job = JSON.parse(event.data);
    onUpdate(job);
    if (!["queued", "running"].includes(job.state)) events.close();
  });
  events.onerror = () => { /* the browser reconnects by itself; a finished stream is closed above */ };
  return events;
}

function bindJob(box) {
  if (!["queued", "running"].includes(box.dataset.state)) return;
  follow(box.dataset.job, (job) => {
    box.querySelector("progress").value = job.percent;
    box.querySelector("[data-status]").textContent = job.state + (job.state === "running" ? ` ${job.percent}%` : "");
    if (!["queued", "running"].includes(job.state)) window.location.reload();
  });
}

function bindUpload(form) {
  const drop = form.querySelector("#drop");
  const input = form.querySelector("input[type=file]");
  const label = form.querySelector("[data-file]");
  let file = null;
  const choose = (f) => { file = f; label.textContent = f ? ` ${f.name} (${(f.size / 1e6).toFixed(1)} MB)` : ""; };
  input.addEventListener("change", () => choose(input.files[0]));
  ["dragenter", "dragover"].forEach((name) => drop.addEventListener(name, (e) => {
    e.preventDefault(); drop.classList.add("over");
  }));
  ["dragleave", "drop"].forEach((name) => drop.addEventListener(name, (e) => {
    e.preventDefault(); drop.classList.remove("over");
  }));
  drop.addEventListener("drop", (e) => { if (e.dataTransfer.files.length) choose(e.dataTransfer.files[0]); });

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    showError(form, null);
    if (!file) { showError(form, "choose or drop a video first"); return; }
    const data = new FormData();
    data.append("question", form.elements.question.value);
    data.append("video", file);
    const xhr = new XMLHttpRequest();
    const uploadBar = form.querySelector("#upload-progress");
    const analysisBar = form.querySelector("#analysis-progress");
    const status = form.querySelector("#upload-status");
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) uploadBar.value = (100 * event.loaded) / event.total;
    });
    xhr.addEventListener("load", () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (err) { /* not JSON */ }
      if (xhr.status !== 202) { showError(form, body.error || `upload failed (${xhr.status})`); return; }
      uploadBar.value = 100;
      status.textContent = "queued";
      follow(body.job.id, (job) => {
        analysisBar.value = job.percent;
        status.textContent = job.state + (job.state === "running" ? ` ${job.percent}%` : "");
        if (job.state === "done") {
          status.innerHTML = `done: <a id="report-link" href="/interviews/${body.id}">open the report</a>`;
        } else if (job.error) {
          showError(form, job.error);
        }
      });
    });
    xhr.addEventListener("error", () => showError(form, "the upload was cut off"));
    xhr.open("POST", `/v1/candidates/${form.dataset.candidate}/interviews`);
    xhr.setRequestHeader("X-CSRF-Token", csrfToken());
    xhr.send(data);
    status.textContent = "uploading";
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const create = document.getElementById("new-candidate");
  if (create) create.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const candidate = await api("POST", "/v1/candidates", {name: create.elements.name.value});
      window.location.href = `/candidates/${candidate.id}`;
    } catch (error) { showError(create, error); }
  });
  const upload = document.getElementById("upload");
  if (upload) bindUpload(upload);
  document.querySelectorAll(".job").forEach(bindJob);
  document.querySelectorAll("[data-cancel]").forEach((button) => button.addEventListener("click", async () => {
    try { await api("POST", `/v1/jobs/${button.dataset.cancel}/cancel`); } catch (error) { alert(error.message); }
    window.location.reload();
  }));
  document.querySelectorAll("[data-delete-candidate]").forEach((button) => button.addEventListener("click", async () => {
    if (!confirm("Delete this candidate with every video, report and record of theirs?")) return;
    try { await api("DELETE", `/v1/candidates/${button.dataset.deleteCandidate}`); window.location.href = "/"; }
    catch (error) { alert(error.message); }
  }));
});
