// The upload page: each PDF goes from the browser straight to storage through a presigned
// POST (the web app only signs it), then the page follows its job until the text is ready:
// through the job's Server-Sent Events (events.js), or by polling where they cannot be had.
// When storage refuses the browser (CORS, network), the file goes through POST /documents.
// Plain JavaScript, no build step. docs/page.md describes what a person sees.
"use strict";

const API = "/api/v1/pdf";
const MAGIC = "%PDF-"; // readers accept it anywhere in the first KiB, as pdfq does
const SHOWN_CHARS = 200000; // longer texts are cut on screen; the download has everything
const SIMULTANEOUS = 3; // files between "checking" and "queued" at once; the rest wait
const POLL_FIRST_MS = 400;
const POLL_MAX_MS = 2000;
const BLIP_MAX_MS = 30000; // the longest wait between tries while pdfq cannot be reached
const KEPT_JOBS = 30; // cards that come back after a reload
// sessionStorage, not localStorage: the token is forgotten with the tab. Job ids are no
// secret without a token, so they stay on this browser for the cards to come back.
const TOKEN_KEY = "pdfq.token";
const JOBS_KEY = "pdfq.jobs";

// Error codes (docs/api.md) in plain words.
const MESSAGES = {
  not_a_pdf: "This file is not a PDF.",
  empty_file: "This file is empty.",
  too_large: "This file is larger than the upload limit.",
  unsupported_media_type: "Only PDF files can be uploaded.",
  encrypted: "This PDF is protected by a password: enter it to read the text.",
  corrupt: "This PDF is damaged; its text could not be read.",
  unsupported: "This PDF uses a feature the text extractor does not support.",
  source_missing: "The uploaded file disappeared from storage before it could be read.",
  storage_unavailable: "Storage is unreachable right now. Try again in a minute.",
  queue_unavailable: "The job queue is unreachable right now. Try again in a minute.",
  not_found: "This job no longer exists.",
  canceled: "Canceled.",
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
  interrupted: "The page was reloaded before this file was uploaded: add it again.",
};
const WARNINGS = {
  no_text_layer:
    "No text found: this looks like a scanned image with no text layer. It needs OCR.",
  garbled_text: "Some pages came out garbled: their fonts do not say which letters they draw.",
  truncated: "Only the first pages were read (the page limit).",
};
// "ocr_pages:N": N pages had no text layer and were read by OCR.
const ocrNote = (code) =>
  code.startsWith("ocr_pages:") &&
  `${plural(Number(code.slice("ocr_pages:".length)), "page")} read by OCR (scanned images).`;
// Failures that the same file cannot get past: no "Try again" for them.
const FINAL = new Set(["not_a_pdf", "empty_file", "too_large", "unsupported_media_type"]);
const FALLBACK_NOTE =
  "Storage refused this page's direct upload (its CORS rules, or the network), so the file " +
  "went through pdfq instead.";

class Failure extends Error {
  constructor(code, detail, retryAfter = null) {
    super(MESSAGES[code] || detail || code);
    this.code = code;
    this.detail = detail;
    this.retryAfter = retryAfter; // seconds, from a 429 or 503
  }
}

// Transient: worth trying again by itself (a blip, a busy service), not a verdict.
const transient = (failure) =>
  failure.code === "network" || failure.retryAfter !== null || /^http_5/.test(failure.code);

// --- the API token and the kept jobs ---

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

function askForToken() {
  const box = document.getElementById("token-box");
  box.classList.add("wanted");
  box.querySelector("input").focus();
}

function keptJobs() {
  try {
    const jobs = JSON.parse(localStorage.getItem(JOBS_KEY) || "[]");
    return Array.isArray(jobs) ? jobs.filter((job) => job && typeof job.id === "string") : [];
  } catch {
    return [];
  }
}

function keepJob(entry) {
  const jobs = keptJobs().filter((job) => job.id !== entry.jobId);
  jobs.push({ id: entry.jobId, name: entry.name, size: entry.size });
  localStorage.setItem(JOBS_KEY, JSON.stringify(jobs.slice(-KEPT_JOBS)));
}

function forgetJob(jobId) {
  localStorage.setItem(JOBS_KEY, JSON.stringify(keptJobs().filter((job) => job.id !== jobId)));
}

// --- talking to pdfq and to storage ---

async function call(method, path, body, signal) {
  // One request to pdfq, with the token when one is set; a refusal becomes a Failure
  // carrying pdfq's error code (and Retry-After, when pdfq asks to wait).
  const init = { method, headers: {}, signal };
  if (token()) init.headers.Authorization = `Bearer ${token()}`;
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (signal?.aborted) throw new Failure("canceled");
    throw new Failure("network", error.message);
  }
  if (!response.ok) throw await refusal(response);
  return response;
}

async function refusal(response) {
  const data = isJson(response) ? await response.json().catch(() => null) : null;
  const error = (data && data.error) || {};
  if (response.status === 401) askForToken();
  const wait = Number.parseInt(response.headers.get("Retry-After") || "", 10);
  const retryAfter = [429, 503].includes(response.status) ? (wait >= 0 ? wait : 10) : null;
  return new Failure(error.code || `http_${response.status}`, error.message, retryAfter);
}

const isJson = (response) =>
  (response.headers.get("Content-Type") || "").startsWith("application/json");

async function api(method, path, body, signal) {
  // JSON in and out.
  const response = await call(method, path, body, signal);
  return isJson(response) ? response.json() : null;
}

function send(url, form, headers, entry, onProgress) {
  // A multipart POST with upload progress (fetch has none); entry.cancel() aborts it.
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => resolve(xhr));
    // A CORS refusal looks exactly like a network error to the page.
    xhr.addEventListener("error", () => reject(new Failure("upload_blocked")));
    xhr.addEventListener("abort", () => reject(new Failure("canceled")));
    entry.signal.addEventListener("abort", () => xhr.abort());
    xhr.send(form);
  });
}

async function sendToStorage(post, entry, onProgress) {
  const form = new FormData();
  for (const [name, value] of Object.entries(post.fields)) form.append(name, value);
  form.append("file", entry.file); // last: S3 ignores every field after the file
  const xhr = await send(post.url, form, {}, entry, onProgress);
  if (xhr.status < 200 || xhr.status >= 300) throw storageFailure(xhr);
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

async function sendThroughPdfq(entry, onProgress) {
  // POST /documents: the same file and options, streamed by pdfq to storage.
  const form = new FormData();
  for (const [name, value] of Object.entries(entry.options)) form.append(name, value);
  form.append("file", entry.file, entry.name);
  const auth = token() ? { Authorization: `Bearer ${token()}` } : {};
  let xhr;
  try {
    xhr = await send(`${API}/documents`, form, auth, entry, onProgress);
  } catch (failure) {
    throw failure.code === "upload_blocked" ? new Failure("network") : failure;
  }
  const headers = {};
  for (const name of ["Content-Type", "Retry-After"]) {
    headers[name] = xhr.getResponseHeader(name) || "";
  }
  const response = new Response(xhr.responseText, { status: xhr.status, headers });
  if (!response.ok) throw await refusal(response);
  return response.json();
}

async function looksLikePdf(file) {
  const head = new Uint8Array(await file.slice(0, 1024).arrayBuffer());
  return new TextDecoder("latin1").decode(head).includes(MAGIC);
}

function sleep(ms, signal) {
  // Ends early, with Failure("canceled"), when the file's card is canceled.
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new Failure("canceled"));
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(new Failure("canceled"));
    });
  });
}

// --- a bound on files starting at once, and pdfq's own limit ---

const slots = { free: SIMULTANEOUS, waiting: [] };
let notBefore = 0; // pdfq asked every new file to wait until then (429 / 503 Retry-After)

function takeSlot(signal) {
  if (slots.free > 0) {
    slots.free -= 1;
    return Promise.resolve();
  }
  return new Promise((resolve, reject) => {
    slots.waiting.push({ resolve, signal });
    signal.addEventListener("abort", () => reject(new Failure("canceled")));
  });
}

function giveSlot() {
  // Handed straight to the next waiting file that was not canceled meanwhile.
  for (let next = slots.waiting.shift(); next; next = slots.waiting.shift()) {
    if (!next.signal.aborted) return next.resolve();
  }
  slots.free += 1;
}

const WAIT_WORDS = {
  too_many_jobs: "Your other files in progress come first: this one starts in",
  queue_full: "pdfq is busy: this file starts in",
};
let waitWords = WAIT_WORDS.queue_full;

async function whenAllowed(entry, attempt, { queue = true } = {}) {
  // attempt() again while pdfq answers 429 or 503, after the Retry-After it gave. A new job
  // (`queue`) also waits while pdfq has asked any file to wait; finishing an upload does not.
  let own = 0;
  for (;;) {
    const wait = Math.max(queue ? notBefore : 0, own) - Date.now();
    if (wait > 0) {
      entry.state("waiting", `${waitWords} ${Math.ceil(wait / 1000)} s…`);
      await sleep(wait, entry.signal);
    }
    try {
      return await attempt();
    } catch (failure) {
      if (!(failure instanceof Failure) || failure.retryAfter === null) throw failure;
      own = Date.now() + failure.retryAfter * 1000;
      waitWords = WAIT_WORDS[failure.code] || WAIT_WORDS.queue_full;
      if (queue) notBefore = Math.max(notBefore, own);
    }
  }
}

// --- one card per file ---

const active = (state) => !["succeeded", "failed", "canceled"].includes(state);

let direct = false; // storage refused this page once: send the next files through pdfq

class Entry {
  constructor({ file = null, name, size, options = {}, jobId = null }) {
    Object.assign(this, { file, name, size, options, jobId });
    this.accepted = false; // pdfq holds the PDF: a retry reprocesses instead of uploading
    this.node = document.getElementById("file-template").content.firstElementChild.cloneNode(true);
    const label = `file-${Math.random().toString(36).slice(2)}`;
    this.$(".name").id = label;
    this.node.setAttribute("aria-labelledby", label);
    this.$(".name").textContent = name;
    this.$(".size").textContent = `${(size / 1024).toFixed(size < 10240 ? 1 : 0)} KiB`;
    for (const [selector, words] of [
      [".cancel", "Cancel"],
      [".retry", "Try again"],
      [".remove", "Remove"],
      [".copy", "Copy the text of"],
      [".markdown", "Markdown of"],
    ]) {
      this.$(selector).setAttribute("aria-label", `${words} ${name}`);
    }
    this.$("progress.upload").setAttribute("aria-label", `Upload of ${name}`);
    this.$("progress.extract").setAttribute("aria-label", `Extraction of ${name}`);
    this.$(".text").setAttribute("aria-label", `Text of ${name}`);
    this.$(".cancel").addEventListener("click", () => this.cancel());
    this.$(".retry").addEventListener("click", () => this.retry());
    this.$(".remove").addEventListener("click", () => this.remove());
    this.$(".copy").addEventListener("click", () => this.copy());
    this.$(".markdown").addEventListener("click", () => this.toggleMarkdown());
    this.$(".unlock").addEventListener("submit", (event) => {
      event.preventDefault();
      this.unlock(this.$(".unlock .password").value);
    });
    this.fresh();
    document.getElementById("files").prepend(this.node);
  }

  $(selector) {
    return this.node.querySelector(selector);
  }

  fresh() {
    this.controller = new AbortController();
    this.signal = this.controller.signal;
  }

  state(state, status) {
    this.node.dataset.state = state;
    this.$(".status").textContent = this.canceling && active(state) ? "Canceling…" : status;
    this.$(".cancel").disabled = Boolean(this.canceling);
    this.$(".cancel").hidden = !active(state);
    this.$(".remove").hidden = active(state);
    if (active(state)) this.$(".retry").hidden = true;
  }

  note(words) {
    this.$(".note").textContent = words;
    this.$(".note").hidden = false;
  }

  async run(work) {
    // One attempt at this file (upload, reprocess or follow), ending in a settled card.
    this.fresh();
    this.canceling = false;
    this.$(".error").hidden = true;
    this.$(".unlock").hidden = true;
    delete this.node.dataset.error;
    try {
      await work();
    } catch (error) {
      this.failed(error instanceof Failure ? error : new Failure("internal", String(error)));
    }
  }

  failed(failure) {
    if (failure.code === "canceled") {
      this.state("canceled", "Canceled.");
      announce(`${this.name}: canceled.`);
    } else {
      this.state("failed", "");
      this.node.dataset.error = failure.code;
      this.$(".error").textContent = failure.message;
      this.$(".error").hidden = false;
      announce(`${this.name}: ${failure.message}`);
    }
    const locked = failure.code === "encrypted" && this.accepted;
    if (locked && this.triedPassword) {
      this.$(".error").textContent = "That password did not open this PDF: try another.";
    }
    this.$(".unlock").hidden = !locked;
    if (locked) this.$(".unlock .password").focus();
    const again = this.accepted || (this.file && failure.code !== "interrupted");
    this.$(".retry").hidden = locked || !again || FINAL.has(failure.code);
  }

  async upload() {
    await this.run(async () => {
      this.state("waiting", "Waiting for the files before it…");
      await takeSlot(this.signal);
      try {
        this.state("checking", "Checking the file…");
        if (this.file.size === 0) throw new Failure("empty_file");
        if (!(await looksLikePdf(this.file))) throw new Failure("not_a_pdf");
        await (direct ? this.viaPdfq() : this.viaStorage());
      } finally {
        giveSlot();
      }
      await this.follow();
    });
  }

  progress(fraction, where) {
    this.$(".upload").value = fraction;
    this.$(".status").textContent = `Uploading ${where}… ${Math.floor(fraction * 100)}%`;
  }

  async viaStorage() {
    const job = await whenAllowed(this, () =>
      api("POST", `${API}/uploads`, this.uploadRequest(), this.signal),
    );
    this.started(job.id);
    this.state("uploading", "Uploading to storage…");
    try {
      await sendToStorage(job.upload.post, this, (f) => this.progress(f, "to storage"));
    } catch (failure) {
      if (failure.code !== "upload_blocked") throw failure;
      // The job that never got its PDF is ended at once, so it stops counting in flight.
      forgetJob(job.id);
      await api("POST", `${API}/jobs/${job.id}/cancel`).catch(() => null);
      direct = true;
      this.note(FALLBACK_NOTE);
      return this.viaPdfq();
    }
    this.$(".upload").value = 1;
    this.state("queued", "Uploaded. Waiting for a worker…");
    await whenAllowed(this, () => api("POST", `${API}/uploads/${job.id}/complete`), {
      queue: false,
    });
    this.accepted = true;
  }

  async viaPdfq() {
    if (direct && !this.$(".note").textContent) this.note(FALLBACK_NOTE);
    this.state("uploading", "Uploading through pdfq…");
    const job = await whenAllowed(this, () =>
      sendThroughPdfq(this, (f) => this.progress(f, "through pdfq")),
    );
    this.started(job.id);
    this.accepted = true;
    this.$(".upload").value = 1;
  }

  uploadRequest() {
    return { filename: this.name, content_type: "application/pdf", size: this.size, ...this.options };
  }

  started(jobId) {
    this.jobId = jobId;
    this.node.dataset.jobId = jobId;
    keepJob(this);
  }

  async follow() {
    // Follows the job through its events (events.js) and, when the stream cannot be had or
    // is cut, by polling it until it ends.
    if (!this.file) {
      // A card come back after a reload: a job still waiting for its upload (which has no
      // event to come) is the polling's to settle.
      const job = await api("GET", `${API}/jobs/${this.jobId}`, undefined, this.signal).catch(
        (failure) => (failure.code === "canceled" ? Promise.reject(failure) : null),
      );
      if (!job || job.status === "awaiting_upload") return this.poll();
    }
    const job = await followEvents(this.jobId, this.signal, (kind, data) => this.heard(kind, data));
    if (job) return this.ended(job);
    delete this.node.dataset.live;
    return this.poll();
  }

  heard(kind, data) {
    // One event of the job's stream: its statuses (all of them, from the first) and pages.
    this.node.dataset.live = "events";
    if (kind === "progress") return this.showProgress({ status: "processing", ...data });
    if (kind !== "status" || data.status === "awaiting_upload") return;
    this.accepted = true;
    if (["queued", "scheduled", "processing"].includes(data.status)) this.showProgress(data);
  }

  ended(job) {
    // The job has ended: its text, or why not.
    if (job.status === "succeeded") return this.show(job);
    if (job.status === "failed") {
      this.accepted = !["upload_expired", "not_a_pdf", "empty_file", "too_large"].includes(
        job.error?.code,
      );
      throw new Failure(job.error?.code || "failed", job.error?.message);
    }
    throw new Failure("canceled");
  }

  async poll() {
    // Polls the job until it ends; a blip (network, 5xx, 429) waits longer and tries again.
    let delay = POLL_FIRST_MS;
    let blip = 0;
    for (;;) {
      let job;
      try {
        job = await api("GET", `${API}/jobs/${this.jobId}`, undefined, this.signal);
        blip = 0;
      } catch (failure) {
        if (!(failure instanceof Failure) || !transient(failure)) throw failure;
        blip = Math.min(blip ? blip * 2 : 1000, BLIP_MAX_MS);
        const wait = Math.max(blip, (failure.retryAfter || 0) * 1000);
        this.node.dataset.reconnecting = "true";
        this.$(".status").textContent =
          `pdfq cannot be reached; trying again in ${Math.round(wait / 1000)} s…`;
        await sleep(wait, this.signal);
        continue;
      }
      delete this.node.dataset.reconnecting;
      if (["succeeded", "failed", "canceled"].includes(job.status)) return this.ended(job);
      if (job.status === "awaiting_upload" && !this.file) {
        // A reload came between the upload and its completion, or in the upload itself.
        try {
          await api("POST", `${API}/uploads/${this.jobId}/complete`, undefined, this.signal);
          continue; // the PDF had arrived: the job is queued now
        } catch (failure) {
          if (failure.code !== "not_uploaded") throw failure;
        }
        await api("POST", `${API}/jobs/${this.jobId}/cancel`).catch(() => null);
        throw new Failure("interrupted");
      }
      if (job.status !== "awaiting_upload") this.accepted = true;
      this.showProgress(job);
      await sleep(delay, this.signal);
      delay = Math.min(delay * 1.25, POLL_MAX_MS);
    }
  }

  showProgress({ status, pages_done: done, pages_total: total, scheduled_for: at }) {
    if (status === "processing") {
      this.$(".extract").max = total || 1;
      this.$(".extract").value = done || 0;
      this.state("processing", total ? `Extracting: page ${done || 0} of ${total}` : "Extracting…");
    } else if (status === "scheduled") {
      const when = at ? ` at ${new Date(at).toLocaleTimeString()}` : ""; // events say no time
      this.state("queued", `Waiting to try again${when}…`);
    } else {
      this.state("queued", "Uploaded. Waiting for a worker…");
    }
  }

  async show(job) {
    const text = await (await call("GET", job.links.result, undefined, this.signal)).text();
    this.text = text;
    this.markdown = undefined; // a reprocessed job's Markdown is fetched again
    this.$(".markdown").setAttribute("aria-pressed", "false");
    this.$(".md").hidden = this.$(".download-md").hidden = true;
    this.$(".upload").value = 1;
    this.$(".extract").max = 1;
    this.$(".extract").value = 1;

    // A link to the API could not carry the token: the download is the text already fetched.
    const link = this.$(".download");
    if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
    link.download = `${this.name.replace(/\.pdf$/i, "")}.txt`;
    const view = this.$(".view");
    view.href = `#/view/${this.jobId}`;
    view.setAttribute("aria-label", `Open ${this.name} in the viewer`);
    const notes = (job.warnings || []).map((code) => WARNINGS[code] || ocrNote(code) || code);
    this.$(".summary").textContent =
      `${plural(job.pages_total, "page")}, ${plural(text.length, "character")}.`;

    // Every page ends with a form feed, as pdfminer's extract_text writes it: one block a page.
    const box = this.$(".text");
    box.replaceChildren();
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
    const empty = !text.trim();
    this.$(".result").hidden = false;
    this.$(".copy").hidden = empty;
    box.hidden = empty;
    if (notes.length || empty) {
      // Not a green "Done." over nothing: say what came out and why.
      this.node.dataset.warning = (job.warnings || [])[0] || "no_text_layer";
      this.state("succeeded", notes.join(" ") || WARNINGS.no_text_layer);
    } else {
      delete this.node.dataset.warning;
      this.state("succeeded", "Done.");
    }
    announce(`${this.name}: ${this.$(".status").textContent}`);
  }

  async cancel() {
    // The card says "Canceled." once pdfq has canceled the job, not before; a running job
    // stops at its next page, which the polling then shows.
    this.canceling = true;
    this.$(".cancel").disabled = true;
    let job = null;
    if (this.jobId) {
      this.$(".status").textContent = "Canceling…";
      job = await api("POST", `${API}/jobs/${this.jobId}/cancel`).catch((failure) => failure);
    }
    if (job instanceof Failure && job.code === "conflict") return; // it finished meanwhile
    if (!job?.cancel_requested) this.controller.abort();
  }

  retry() {
    this.$(".retry").hidden = true;
    if (this.accepted) return this.reprocess({});
    this.$(".upload").value = 0;
    this.$(".note").hidden = true;
    return this.upload();
  }

  unlock(password) {
    if (!password) return this.$(".unlock .password").focus();
    this.$(".unlock .password").value = "";
    this.triedPassword = true;
    return this.reprocess({ password });
  }

  async reprocess(changes) {
    await this.run(async () => {
      this.state("queued", "Sending it to a worker again…");
      await whenAllowed(this, () =>
        api("POST", `${API}/jobs/${this.jobId}/reprocess`, changes, this.signal),
      );
      this.$(".extract").value = 0;
      await this.follow();
    });
  }

  async toggleMarkdown() {
    // The document as Markdown (headings, lists, the outline), fetched once, shown in place
    // of the text and offered as a download; pressed again, the text comes back.
    const button = this.$(".markdown");
    const showing = button.getAttribute("aria-pressed") === "true";
    if (!showing && this.markdown === undefined) {
      button.disabled = true;
      try {
        const response = await call("GET", `${API}/jobs/${this.jobId}/result?format=markdown`);
        this.markdown = await response.text();
      } catch (failure) {
        this.$(".note").hidden = false;
        this.$(".note").textContent = `The Markdown could not be fetched (${failure.code}).`;
        return;
      } finally {
        button.disabled = false;
      }
      const link = this.$(".download-md");
      link.href = URL.createObjectURL(new Blob([this.markdown], { type: "text/markdown" }));
      link.download = `${this.name.replace(/\.pdf$/i, "")}.md`;
      this.$(".md").textContent = this.markdown;
    }
    button.setAttribute("aria-pressed", String(!showing));
    this.$(".md").hidden = showing;
    this.$(".download-md").hidden = showing;
    this.$(".text").hidden = !showing || !this.text.trim();
    (showing ? this.$(".text") : this.$(".md")).focus();
  }

  async copy() {
    const button = this.$(".copy");
    try {
      await navigator.clipboard.writeText(this.text);
    } catch {
      // No clipboard API (an insecure origin, an old browser): select the text to copy by hand.
      getSelection().selectAllChildren(this.$(".text"));
      button.textContent = "Selected: press Ctrl+C";
      return;
    }
    button.textContent = "Copied";
    announce(`The text of ${this.name} is on the clipboard.`);
    setTimeout(() => (button.textContent = "Copy the text"), 3000);
  }

  remove() {
    this.controller.abort();
    if (this.jobId) forgetJob(this.jobId);
    const next = this.node.nextElementSibling || this.node.previousElementSibling;
    this.node.remove();
    (next?.querySelector("button:not([hidden])") || document.getElementById("pick")).focus();
  }
}

const plural = (n, word) => `${(n || 0).toLocaleString()} ${word}${n === 1 ? "" : "s"}`;

function announce(words) {
  // One polite live region for outcomes, so a screen reader hears each file finish.
  document.getElementById("announce").textContent = words;
}

// --- options, picking and dropping ---

function chosenOptions() {
  // The page shows each document as Markdown, and its blocks in the viewer: its jobs ask
  // for both outputs, and for the tables when the Tables box is ticked.
  const tables = document.getElementById("tables").checked;
  const options = { outputs: tables ? "blocks,markdown,tables" : "blocks,markdown" };
  for (const name of ["engine", "pages", "password"]) {
    const value = document.getElementById(name).value.trim();
    if (value) options[name] = value;
  }
  return options;
}

function start(files) {
  const options = chosenOptions();
  for (const file of files) {
    new Entry({ file, name: file.name, size: file.size, options }).upload();
  }
}

function comeBack() {
  // The cards of jobs started in this browser before a reload, oldest first.
  for (const kept of keptJobs()) {
    const entry = new Entry({ name: kept.name, size: kept.size || 0, jobId: kept.id });
    entry.node.dataset.jobId = kept.id;
    entry.state("queued", "Checking on this file…");
    entry.run(() => entry.follow()).then(() => {
      if (entry.node.dataset.error === "not_found") forgetJob(kept.id);
    });
  }
}

async function listEngines() {
  // Engines the service offers, as its OpenAPI document lists them (the HTML lists two).
  try {
    const doc = await api("GET", `${API}/openapi.json`);
    const names = doc.components.schemas.UploadRequest.properties.engine.enum;
    const select = document.getElementById("engine");
    const known = new Set([...select.options].map((option) => option.value));
    for (const name of names.filter((n) => !known.has(n))) select.add(new Option(name, name));
  } catch {
    // The two engines in the HTML stay.
  }
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

  listEngines();
  comeBack();
});
