// The jobs browser (#/jobs): the tenant's jobs from GET /jobs, newest first, filtered by
// status and time, a page at a time by cursor; several selected are reprocessed, canceled or
// deleted at once; a name opens the job in the viewer. The token is the page's own (the API
// token field, kept in sessionStorage). Plain JavaScript; names go into textContent only.
"use strict";

const $j = (selector) => document.querySelector(`#jobs ${selector}`);
const jobsShown = { cursor: null, loading: false };

function jobsSay(words) {
  $j(".jobs-status").textContent = words;
}

function jobsQuery(cursor) {
  const query = new URLSearchParams({ limit: $j(".per-page").value });
  const status = $j(".status-filter").value;
  const since = Number($j(".since-filter").value);
  if (status) query.set("status", status);
  if (since) query.set("since", new Date(Date.now() - since * 1000).toISOString());
  if (cursor) query.set("cursor", cursor);
  return `${API}/jobs?${query}`;
}

async function loadJobs(more = false) {
  if (jobsShown.loading) return;
  jobsShown.loading = true;
  const body = $j("tbody");
  try {
    const found = await api("GET", jobsQuery(more ? jobsShown.cursor : null));
    if (!more) body.replaceChildren();
    for (const job of found.jobs) body.appendChild(jobRow(job));
    jobsShown.cursor = found.next_cursor;
    $j(".more").hidden = !found.next_cursor;
    const count = body.rows.length;
    jobsSay(count ? `${count} job${count === 1 ? "" : "s"} shown.` : "No jobs match.");
  } catch (failure) {
    jobsSay(failure.message);
  } finally {
    jobsShown.loading = false;
    $j(".all").checked = false;
  }
}

function cell(row, text, className = "") {
  const td = row.appendChild(document.createElement("td"));
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function duration(job) {
  if (!job.started_at) return "";
  const end = job.finished_at ? Date.parse(job.finished_at) : Date.now();
  const seconds = Math.max(0, (end - Date.parse(job.started_at)) / 1000);
  return seconds < 60 ? `${seconds.toFixed(1)} s` : `${Math.round(seconds / 60)} min`;
}

function jobRow(job) {
  const row = document.createElement("tr");
  row.dataset.jobId = job.id;
  row.dataset.status = job.status;
  const name = job.filename || job.id;
  const pick = cell(row, "").appendChild(document.createElement("input"));
  pick.type = "checkbox";
  pick.className = "pick";
  pick.setAttribute("aria-label", `Select ${name}`);
  const open = cell(row, "", "name").appendChild(document.createElement("button"));
  open.type = "button";
  open.className = "open";
  open.textContent = name;
  open.setAttribute("aria-label", `Open ${name} in the viewer`);
  open.addEventListener("click", () => (location.hash = `#/view/${job.id}`));
  cell(row, job.pages_total ?? "");
  cell(row, job.status, "status");
  cell(row, job.error ? `${job.error.code}: ${job.error.message}` : "", "error");
  cell(row, duration(job));
  cell(row, new Date(job.created_at).toLocaleString());
  return row;
}

const BULK = {
  reprocess: { method: "POST", path: (id) => `${API}/jobs/${id}/reprocess`, body: {}, done: "sent to a worker again" },
  cancel: { method: "POST", path: (id) => `${API}/jobs/${id}/cancel`, done: "canceled" },
  delete: { method: "DELETE", path: (id) => `${API}/jobs/${id}`, done: "deleted" },
};

async function bulk(action) {
  const ids = [...document.querySelectorAll("#jobs tbody input.pick:checked")].map(
    (box) => box.closest("tr").dataset.jobId,
  );
  if (!ids.length) return jobsSay("Select jobs first.");
  if (action === "delete" && !confirm(`Erase ${ids.length} job(s) and their files for good?`)) return;
  const how = BULK[action];
  jobsSay(`Working on ${ids.length} job(s)…`);
  const refused = {};
  let done = 0;
  for (const id of ids) {
    try {
      await api(how.method, how.path(id), how.body);
      done += 1;
    } catch (failure) {
      refused[failure.code] = (refused[failure.code] || 0) + 1;
    }
  }
  await loadJobs();
  const notes = Object.entries(refused).map(([code, n]) => `${n} refused (${code})`);
  jobsSay([`${done} ${how.done}.`, ...notes].join(" "));
}

VIEWS.jobs = () => loadJobs();

document.addEventListener("DOMContentLoaded", () => {
  $j(".jobs-filter").addEventListener("submit", (event) => {
    event.preventDefault();
    loadJobs();
  });
  $j(".more").addEventListener("click", () => loadJobs(true));
  $j(".all").addEventListener("change", (event) => {
    for (const box of document.querySelectorAll("#jobs tbody input.pick")) {
      box.checked = event.target.checked;
    }
  });
  for (const button of document.querySelectorAll("#jobs .bulk")) {
    button.addEventListener("click", () => bulk(button.dataset.action));
  }
});
