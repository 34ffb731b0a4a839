// The upload page: each PDF goes from the browser straight to storage through a presigned
// POST (the web app only signs it), then the page follows its job until the text is ready.
// Plain JavaScript, no build step.
"use strict";

const API = "/api/v1/pdf";
const MAGIC = "%PDF-"; // readers accept it anywhere in the first KiB, as pdfq does
const SHOWN_CHARS = 200000; // longer texts are cut on screen; the download has everything
// sessionStorage, not localStorage: the token is forgotten with the tab.
const TOKEN_KEY = "pdfq.token";

// Error codes (docs/api.md) in plain words.
const MESSAGES = {
  not_a_pdf: "This file is not a PDF.",
  empty_file: "This file is empty.",
  too_large: "This file is larger than the upload limit.",
  unsupported_media_type: "Only PDF files can be uploaded.",
  encrypted: "This PDF is protected by a password, so its text cannot be read.",
  corrupt: "This PDF is damaged; its text could not be read.",
  unsupported: "This PDF uses a feature the text extractor does not support.",
  source_missing: "The uploaded file disappeared from storage before it could be read.",
  storage_unavailable: "Storage is unreachable right now. Try again in a minute.",
  queue_unavailable: "The job queue is unreachable right now. Try again in a minute.",
  not_found: "This job no longer exists.",
  canceled: "The job was canceled.",
  unauthorized: "This pdfq needs an API token: enter yours in the API token field, then try again.",
  invalid_token:
    "pdfq did not accept this API token: check the API token field (paste the whole token), " +
    "then try again.",
  too_many_jobs: "You have too many files in progress. Wait for some to finish, then try again.",
  queue_full: "pdfq is busy right now. Try again in a minute.",
  network: "pdfq could not be reached. Check your connection and try again.",
  upload_blocked:
    "The file could not be sent to storage: the network failed, or storage does not " +
    "accept uploads from this page (its CORS rules must list this page's origin).",
  upload_expired: "The upload link expired before the file was sent. Try again.",
  upload_refused: "Storage refused the upload.",
};
const WARNINGS = {
  no_text_layer: "No text found: this looks like a scanned image, which needs OCR.",
};

class Failure extends Error {
  constructor(code, detail) {
    super(MESSAGES[code] || detail || code);
    this.code = code;
    this.detail = detail;
  }
}

// --- the API token ---

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

function askForToken() {
  const box = document.getElementById("token-box");
  box.classList.add("wanted");
  box.querySelector("input").focus();
}

// --- talking to pdfq and to storage ---

async function call(method, path, body) {
  // One request to pdfq, with the token when one is set; a refusal becomes a Failure
  // carrying pdfq's error code.
  const init = { method, headers: {} };
  if (token()) init.headers.Authorization = `Bearer ${token()}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new Failure("network", error.message);
  }
  if (!response.ok) {
    const data = isJson(response) ? await response.json() : null;
    const error = (data && data.error) || {};
    if (response.status === 401) askForToken();
    throw new Failure(error.code || `http_${response.status}`, error.message);
  }
  return response;
}

const isJson = (response) =>
  (response.headers.get("Content-Type") || "").startsWith("application/json");

async function api(method, path, body) {
  // JSON in and out.
  const response = await call(method, path, body);
  return isJson(response) ? response.json() : null;
}

function sendToStorage(post, file, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [name, value] of Object.entries(post.fields)) form.append(name, value);
    form.append("file", file); // last: S3 ignores every field after the file
    const xhr = new XMLHttpRequest();
    xhr.open("POST", post.url);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve();
      else reject(storageFailure(xhr));
    });
    // A CORS refusal looks exactly like a network error to the page.
    xhr.addEventListener("error", () => reject(new Failure("upload_blocked")));
    xhr.send(form);
  });
}

function storageFailure(xhr) {
  // S3 answers <Error><Code>...</Code><Message>...</Message></Error>.
  const xml = new DOMParser().parseFromString(xhr.responseText || "", "application/xml");
  const code = xml.querySelector("Code")?.textContent || `HTTP ${xhr.status}`;
  const message = xml.querySelector("Message")?.textContent || "";
  if (code === "EntityTooLarge") return new Failure("too_large");
  if (code === "EntityTooSmall") return new Failure("empty_file");
  if (/expired/i.test(message)) return new Failure("upload_expired");
  return new Failure("upload_refused", `Storage refused the upload (${code}). ${message}`);
}

async function looksLikePdf(file) {
  const head = new Uint8Array(await file.slice(0, 1024).arrayBuffer());
  return new TextDecoder("latin1").decode(head).includes(MAGIC);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// --- one card per file ---

function fileCard(file) {
  const node = document.getElementById("file-template").content.firstElementChild.cloneNode(true);
  const $ = (selector) => node.querySelector(selector);
  $(".name").textContent = file.name;
  $(".size").textContent = `${(file.size / 1024).toFixed(file.size < 10240 ? 1 : 0)} KiB`;
  document.getElementById("files").prepend(node);
  return {
    node,
    $,
    state(state, status) {
      node.dataset.state = state;
      $(".status").textContent = status;
    },
  };
}

async function handleFile(file) {
  const card = fileCard(file);
  try {
    card.state("checking", "Checking the file…");
    if (file.size === 0) throw new Failure("empty_file");
    if (!(await looksLikePdf(file))) throw new Failure("not_a_pdf");

    const job = await api("POST", `${API}/uploads`, {
      filename: file.name,
      content_type: "application/pdf",
      size: file.size,
    });
    card.node.dataset.jobId = job.id;
    card.state("uploading", "Uploading to storage…");
    await sendToStorage(job.upload.post, file, (fraction) => {
      card.$(".upload").value = fraction;
      card.$(".status").textContent = `Uploading to storage… ${Math.floor(fraction * 100)}%`;
    });
    card.$(".upload").value = 1;

    card.state("queued", "Uploaded. Waiting for a worker…");
    await api("POST", job.links.complete);
    const done = await follow(job.id, card);
    await showText(done, file, card);
  } catch (error) {
    const failure = error instanceof Failure ? error : new Failure("internal", String(error));
    card.state("failed", "");
    card.node.dataset.error = failure.code;
    card.$(".error").textContent = failure.message;
    card.$(".error").hidden = false;
  }
}

async function follow(jobId, card) {
  let delay = 400;
  for (;;) {
    const job = await api("GET", `${API}/jobs/${jobId}`);
    const { status, pages_done: done, pages_total: total } = job;
    if (status === "succeeded") return job;
    if (status === "failed") throw new Failure(job.error?.code || "failed", job.error?.message);
    if (status === "canceled") throw new Failure("canceled");
    if (status === "processing") {
      card.$(".extract").max = total || 1;
      card.$(".extract").value = done || 0;
      card.state("processing", total ? `Extracting: page ${done || 0} of ${total}` : "Extracting…");
    }
    await sleep(delay);
    delay = Math.min(delay * 1.25, 2000);
  }
}

async function showText(job, file, card) {
  const text = await (await call("GET", job.links.result)).text();
  card.$(".extract").max = 1;
  card.$(".extract").value = 1;

  // A link to the API could not carry the token: the download is the text already fetched.
  const link = card.$(".download");
  link.href = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
  link.download = `${file.name.replace(/\.pdf$/i, "")}.txt`;
  const notes = (job.warnings || []).map((code) => WARNINGS[code] || code);
  card.$(".summary").textContent =
    `${job.pages_total} pages, ${text.length.toLocaleString()} characters. ${notes.join(" ")}`;

  // Every page ends with a form feed, as pdfminer's extract_text writes it: one block a page.
  const box = card.$(".text");
  let shown = 0;
  const pages = text.split("\f").slice(0, -1);
  for (const [index, page] of pages.entries()) {
    if (shown > SHOWN_CHARS) {
      const cut = box.appendChild(document.createElement("p"));
      cut.className = "cut";
      cut.textContent = `Pages ${index + 1} to ${pages.length} are in the download.`;
      break;
    }
    const pre = box.appendChild(document.createElement("pre"));
    pre.dataset.page = index + 1;
    pre.textContent = page;
    shown += page.length;
  }
  card.$(".result").hidden = false;
  card.state("succeeded", "Done.");
}

// --- picking and dropping ---

function start(files) {
  for (const file of files) handleFile(file);
}

document.addEventListener("DOMContentLoaded", () => {
  const field = document.getElementById("token");
  field.value = token();
  field.addEventListener("input", () => {
    const value = field.value.trim();
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
    document.getElementById("token-box").classList.remove("wanted");
  });

  const drop = document.getElementById("drop");
  const pick = document.getElementById("pick");
  pick.addEventListener("change", () => {
    start([...pick.files]);
    pick.value = ""; // picking the same file again starts a new job
  });
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    start([...event.dataTransfer.files]);
  });
  // A file dropped beside the zone would otherwise replace the page.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());
});
