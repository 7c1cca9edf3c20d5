// The candidate's recording page: each question in turn, the camera's preview, a countdown, recording
// (MediaRecorder) up to the time allowed, the recording played back, one re-record, and the upload
// with its progress bar (XHR upload progress). A full analysis queue (429) is waited out and the
// same recording sent again; nothing is sent that the candidate did not choose to send.
"use strict";

const COUNTDOWN_S = 3;
const TYPES = ["video/webm;codecs=vp9", "video/webm;codecs=vp8", "video/webm", "video/mp4"];

const state = JSON.parse(document.getElementById("invitation").textContent);
const $ = (id) => document.getElementById(id);
const show = (...ids) => ids.forEach((id) => { $(id).hidden = false; });
const hide = (...ids) => ids.forEach((id) => { $(id).hidden = true; });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let stream = null;
let recording = null;  // the Blob of the answer being decided on
let retakesLeft = state.retakes;

function current() {
  return state.questions.find((q) => !q.answered);
}

function say(text, isError = false) {
  $(isError ? "error" : "message").textContent = text;
  if (!isError) $("error").textContent = "";
}

function showQuestion() {
  const question = current();
  if (!question) { finish(); return; }
  const total = state.questions.length;
  $("step").textContent = `Question ${question.position} of ${total}`;
  $("question-text").textContent = question.text;
  $("allowed").textContent = `You have up to ${question.seconds} seconds. Press "Start recording" when you are ready.`;
  retakesLeft = state.retakes;
  recording = null;
  hide("playback", "send", "retake", "stop", "sending", "timer");
  show("preview", "record");
  $("record").disabled = stream === null;
  say("");
}

async function startCamera() {
  try {
    const camera = await navigator.mediaDevices.getUserMedia({video: {width: {ideal: 640}, height: {ideal: 480},
                                                                  facingMode: "user"}, audio: false});
    const preview = $("preview");
    preview.srcObject = camera;
    // Recording starts only once the candidate can see themselves (the first frame's size is known).
    if (preview.readyState < HTMLMediaElement.HAVE_METADATA) {
      await new Promise((resolve) => preview.addEventListener("loadedmetadata", resolve, {once: true}));
    }
    stream = camera;
    $("record").disabled = false;
  } catch (error) {
    say(`The camera could not be started (${error.name}). Allow this page to use the camera, then reload it.`, true);
  }
}

async function countdown() {
  const box = $("countdown");
  show("countdown");
  for (let n = COUNTDOWN_S; n > 0; n -= 1) {
    box.textContent = String(n);
    await sleep(1000);
  }
  hide("countdown");
}

async function record() {
  const question = current();
  hide("record", "send", "retake", "playback");
  show("preview");
  say("");
  await countdown();
  const mimeType = TYPES.find((type) => window.MediaRecorder && MediaRecorder.isTypeSupported(type)) || "";
  const recorder = new MediaRecorder(stream, mimeType ? {mimeType} : {});
  const chunks = [];
  recorder.addEventListener("dataavailable", (event) => { if (event.data.size) chunks.push(event.data); });
  const stopped = new Promise((resolve) => recorder.addEventListener("stop", resolve));
  recorder.start(1000);
  $("allowed").textContent = "Answer now. Press Stop when you are done.";
  show("stop", "timer");
  const started = Date.now();
  const tick = setInterval(() => {
    const left = Math.max(0, question.seconds - (Date.now() - started) / 1000);
    $("timer").textContent = `recording · ${Math.ceil(left)} s left`;
    if (left <= 0 && recorder.state === "recording") recorder.stop();
  }, 200);
  $("stop").onclick = () => { if (recorder.state === "recording") recorder.stop(); };
  await stopped;
  clearInterval(tick);
  hide("stop", "timer", "preview");
  $("allowed").textContent = `You had up to ${question.seconds} seconds.`;
  recording = new Blob(chunks, {type: recorder.mimeType || mimeType || "video/webm"});
  const playback = $("playback");
  if (playback.src) URL.revokeObjectURL(playback.src);
  playback.src = URL.createObjectURL(recording);
  show("playback", "send");
  if (retakesLeft > 0) show("retake");
  say(retakesLeft > 0 ? "Watch your answer. Send it, or record it again once."
                      : "Watch your answer, then send it.");
}

function upload(question, blob) {
  // resolves with {status, body, retryAfter}; rejects when the connection fails
  return new Promise((resolve, reject) => {
    const data = new FormData();
    const extension = blob.type.includes("mp4") ? "mp4" : "webm";
    data.append("video", blob, `answer-${question.position}.${extension}`);
    const xhr = new XMLHttpRequest();
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) {
        const percent = (100 * event.loaded) / event.total;
        $("upload-progress").value = percent;
        $("upload-status").textContent = `uploading ${Math.round(percent)}%`;
      }
    });
    xhr.addEventListener("load", () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (err) { /* not JSON */ }
      resolve({status: xhr.status, body, retryAfter: Number(xhr.getResponseHeader("Retry-After")) || 10});
    });
    xhr.addEventListener("error", () => reject(new Error("the connection was lost")));
    xhr.open("POST", state.upload + question.position);
    xhr.send(data);
  });
}

async function send() {
  const question = current();
  hide("send", "retake");
  show("sending");
  $("upload-progress").value = 0;
  for (;;) {
    let answer;
    try {
      answer = await upload(question, recording);
    } catch (error) {
      $("upload-status").textContent = "";
      say(`The upload failed: ${error.message}. Check your connection and send again.`, true);
      show("send");
      return;
    }
    if (answer.status === 202 || answer.status === 409) {  // 409: it arrived before (a lost answer to a retry)
      $("upload-progress").value = 100;
      $("upload-status").textContent = "sent";
      question.answered = true;
      await sleep(600);
      showQuestion();
      return;
    }
    if (answer.status === 429) {  // the server is busy: the same recording again, later
      for (let left = answer.retryAfter; left > 0; left -= 1) {
        $("upload-status").textContent = `the server is busy; sending again in ${left} s`;
        await sleep(1000);
      }
      continue;
    }
    $("upload-status").textContent = "";
    say(answer.body.error || `The upload was refused (${answer.status}).`, true);
    if (answer.status !== 410) show("send");
    return;
  }
}

function finish() {
  if (stream) stream.getTracks().forEach((track) => track.stop());
  hide("recorder");
  show("finished");
}

document.addEventListener("DOMContentLoaded", () => {
  $("record").addEventListener("click", record);
  $("retake").addEventListener("click", () => { retakesLeft -= 1; record(); });
  $("send").addEventListener("click", send);
  showQuestion();
  if (current()) startCamera();
});
