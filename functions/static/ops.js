// The operations view (#/ops), for the operator: GET /ops with METRICS_TOKEN (typed once,
// kept in this tab's sessionStorage), polled every few seconds while the view is shown.
// The chart is plain SVG: jobs finished a minute (a line) and the queue's depth (dashed)
// over the last hour. docs/page.md shows it.
"use strict";

const OPS_TOKEN_KEY = "pdfq.metrics-token";
const OPS_POLL_MS = 3000;
const $o = (selector) => document.querySelector(`#ops ${selector}`);
let opsTimer = null;

async function pollOps() {
  clearTimeout(opsTimer);
  if ($o(".ops-chart").closest("section").hidden) return; // polling stops off the view
  const headers = {};
  const secret = sessionStorage.getItem(OPS_TOKEN_KEY) || "";
  if (secret) headers.Authorization = `Bearer ${secret}`;
  try {
    const response = await fetch(`${API}/ops`, { headers });
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const message = body?.error?.message || `HTTP ${response.status}`;
      $o(".ops-status").textContent =
        response.status === 401 ? `Enter the metrics token. (${message})` : message;
    } else {
      showOps(body);
      $o(".ops-status").textContent = `Updated ${new Date().toLocaleTimeString()}.`;
    }
  } catch (error) {
    $o(".ops-status").textContent = `pdfq could not be reached (${error.message}).`;
  }
  opsTimer = setTimeout(pollOps, OPS_POLL_MS);
}

function term(list, name, value, down = false) {
  const dt = list.appendChild(document.createElement("dt"));
  dt.textContent = name;
  const dd = list.appendChild(document.createElement("dd"));
  dd.textContent = value;
  if (down) dd.className = "ops-down";
}

function opsList(title, items) {
  const box = document.createElement("section");
  box.appendChild(document.createElement("h3")).textContent = title;
  const list = box.appendChild(document.createElement("ul"));
  for (const words of items.length ? items : ["none"]) {
    list.appendChild(document.createElement("li")).textContent = words;
  }
  return box;
}

function showOps(body) {
  const numbers = document.createElement("dl");
  numbers.className = "ops-numbers";
  for (const [name, check] of Object.entries(body.checks || {})) {
    term(numbers, name === "queue" ? "Redis / queue" : "Storage", check.ok ? "up" : `down: ${check.error}`, !check.ok);
  }
  if (body.queue) {
    term(numbers, "Queue depth", body.queue.pending);
    term(numbers, "Scheduled", body.queue.scheduled);
    term(numbers, "Running", body.jobs?.processing ?? 0);
    const last = body.history.at(-1)?.finished ?? 0;
    const whole = body.history.at(-2)?.finished;
    term(numbers, "Finished this minute", last);
    term(numbers, "Jobs a second, last minute", whole === null || whole === undefined ? "–" : (whole / 60).toFixed(2));
    term(numbers, "Finished, ever", body.finished_total);
  }
  numbers.dataset.pending = body.queue?.pending ?? "";
  numbers.dataset.finishedTotal = body.finished_total ?? "";
  $o(".ops-numbers").replaceWith(numbers);
  drawChart(body.history || []);
  const lists = $o(".ops-lists");
  lists.replaceChildren(
    opsList(
      "Workers",
      (body.workers || []).map((w) => `${w.name}: ${w.jobs} job${w.jobs === 1 ? "" : "s"}`),
    ),
    opsList(
      "Running jobs",
      (body.running || []).map(
        (j) => `${j.id.slice(0, 12)}… (${j.tenant}) page ${j.pages_done ?? 0} of ${j.pages_total ?? "?"} on ${j.worker}`,
      ),
    ),
    opsList(
      "Failures by error code",
      Object.entries(body.failures || {}).map(([code, n]) => `${code}: ${n}`),
    ),
    opsList("OCR languages", body.ocr?.available ? body.ocr.languages : ["OCR is not installed"]),
  );
}

function drawChart(history) {
  // x: the last hour's minutes; y: jobs a minute and queue depth on one scale.
  const svg = $o(".ops-chart");
  const [W, H, left, bottom, top] = [600, 200, 36, 20, 10];
  const values = history.flatMap((p) => [p.finished, p.depth]).filter((v) => v !== null);
  const most = Math.max(1, ...values);
  const x = (i) => left + (i * (W - left - 8)) / Math.max(1, history.length - 1);
  const y = (v) => H - bottom - (v * (H - bottom - top)) / most;
  const path = (name) => {
    let d = "";
    let drawing = false;
    for (const [i, point] of history.entries()) {
      if (point[name] === null) {
        drawing = false;
        continue;
      }
      d += `${drawing ? "L" : "M"}${x(i).toFixed(1)},${y(point[name]).toFixed(1)} `;
      drawing = true;
    }
    return d.trim();
  };
  const node = (tag, attributes, text) => {
    const element = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
    if (text !== undefined) element.textContent = text;
    return element;
  };
  svg.replaceChildren(
    node("line", { class: "axis", x1: left, y1: H - bottom, x2: W, y2: H - bottom }),
    node("line", { class: "axis", x1: left, y1: top, x2: left, y2: H - bottom }),
    node("text", { x: 2, y: top + 8 }, String(most)),
    node("text", { x: 2, y: H - bottom }, "0"),
    node("text", { x: left, y: H - 4 }, "60 min ago"),
    node("text", { x: W - 30, y: H - 4 }, "now"),
    node("path", { class: "done", d: path("finished") }),
    node("path", { class: "depth", d: path("depth") }),
    node("text", { x: left + 10, y: top + 8, class: "key" }, "— finished a minute   - - queue depth"),
  );
  const last = history.at(-1) || {};
  if (last.finished !== null && last.finished !== undefined) {
    // The current minute, which moves as jobs end, as a dot (also where it is the only point).
    const at = { cx: x(history.length - 1), cy: y(last.finished), r: 3.5, class: "now" };
    svg.appendChild(node("circle", at));
  }
  if (last.depth !== null && last.depth !== undefined) {
    // The queue's depth now, a ring on the dashed line (seen before the line has two points).
    svg.appendChild(node("circle", { cx: x(history.length - 1), cy: y(last.depth), r: 4, class: "depth-now" }));
  }
  svg.dataset.finished = last.finished ?? "";
  svg.dataset.finishedHour = history.reduce((sum, point) => sum + (point.finished || 0), 0);
  svg.dataset.depth = last.depth ?? "";
  svg.setAttribute(
    "aria-label",
    `Jobs finished this minute: ${last.finished ?? "unknown"}; queue depth: ${last.depth ?? "unknown"}`,
  );
}

VIEWS.ops = () => pollOps();

document.addEventListener("DOMContentLoaded", () => {
  const field = document.getElementById("ops-token");
  field.value = sessionStorage.getItem(OPS_TOKEN_KEY) || "";
  field.addEventListener("change", () => {
    const value = field.value.trim();
    if (value) sessionStorage.setItem(OPS_TOKEN_KEY, value);
    else sessionStorage.removeItem(OPS_TOKEN_KEY);
    pollOps();
  });
});
