// The page's views (#/ the upload, #/view/<id> a document, #/jobs, #/ops) and the document
// viewer: a finished job's page image (PDFium, GET /jobs/{id}/pages/{n}.png) beside that
// page's text, its layout blocks drawn over the image, a page strip marking pages read by
// OCR, garbled or empty, the page's tables drawn as grids over the image and shown as HTML
// tables beside its text, the Markdown rendered (markdown.js) and as source, search, and the
// keyboard. Text from a PDF only ever goes into textContent. docs/page.md shows it.
"use strict";

const IMAGE_WIDTH = 800; // pixels: one size kept per page, sharp enough for the sheet's width
const VIEWS = {}; // view name -> function(argument) that shows it (jobs.js, ops.js add theirs)

// --- the views, by the address's hash ---

function route() {
  const [, name = "", argument = ""] = /^#\/([a-z]*)\/?(.*)$/.exec(location.hash) || [];
  const view = { view: "viewer", jobs: "jobs", ops: "ops" }[name] || "upload";
  for (const section of document.querySelectorAll("main > section[data-view]")) {
    section.hidden = section.dataset.view !== view;
  }
  document.querySelector("main").classList.toggle("wide", view !== "upload");
  for (const link of document.querySelectorAll("nav.views a")) {
    if (link.dataset.view === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  VIEWS[view]?.(decodeURIComponent(argument));
}

// --- the viewer ---

const viewer = {
  jobId: null,
  pages: [], // the result's page lines: {page, text, ocr, garbled, has_text_layer, ...}
  blocks: new Map(), // page number -> its blocks, when the job computed them
  tables: new Map(), // page number -> its tables, when the job was sent with outputs=tables
  at: 0, // index into pages
  images: new Map(), // page number -> Promise of {url, points}
  markdown: undefined,
  mode: "text",
  search: { words: "", hits: [], at: -1 },
};

const $v = (selector) => document.querySelector(`#viewer ${selector}`);

function viewerSays(words) {
  $v(".viewer-status").textContent = words;
}

async function openViewer(jobId) {
  if (!jobId) return viewerSays("No job named: open one from Your jobs.");
  if (jobId === viewer.jobId && viewer.pages.length) return;
  Object.assign(viewer, { jobId, pages: [], blocks: new Map(), tables: new Map(), at: 0 });
  viewer.markdown = undefined;
  for (const image of viewer.images.values()) image.then((i) => URL.revokeObjectURL(i.url), () => 0);
  viewer.images = new Map();
  viewer.search = { words: "", hits: [], at: -1 };
  setMode("text"); // another job's Markdown, shown, would stay on screen
  $v(".md-view").replaceChildren();
  $v(".md-source").textContent = "";
  $v(".viewer-title").textContent = "Loading…";
  $v(".strip").replaceChildren();
  $v(".page-text").replaceChildren();
  $v(".blocks").replaceChildren();
  $v(".page-image").removeAttribute("src");
  viewerSays("");
  let job;
  try {
    job = await api("GET", `${API}/jobs/${encodeURIComponent(jobId)}`);
  } catch (failure) {
    $v(".viewer-title").textContent = "This job cannot be shown";
    return viewerSays(failure.message);
  }
  $v(".viewer-title").textContent = job.filename || job.id;
  if (job.status !== "succeeded") {
    return viewerSays(`This job is ${job.status}: the viewer shows jobs that succeeded.`);
  }
  // The text, the blocks and (for a whole document) page 1's image are fetched at once: the
  // first page shows as soon as all three are in.
  if (!job.options?.pages) pageImage(1).catch(() => 0);
  const text = (format) => call("GET", `${job.links.result}?format=${format}`).then((r) => r.text());
  // The tables are asked for only when the job computed them (outputs=tables).
  const hasTables = (job.options?.outputs || []).includes("tables");
  const [pages, blocks, tables] = await Promise.allSettled([
    text("pages"),
    text("blocks"),
    hasTables ? text("tables") : Promise.resolve(""),
  ]);
  if (viewer.jobId !== jobId) return; // another job was opened meanwhile
  if (pages.status === "rejected") return viewerSays(pages.reason.message);
  viewer.pages = jsonLines(pages.value);
  if (blocks.status === "fulfilled") {
    for (const { page, blocks: found } of jsonLines(blocks.value)) {
      if (Array.isArray(found)) viewer.blocks.set(page, found);
    }
  } else if (blocks.reason.code === "conflict") {
    viewerSays("This job was run without blocks: reprocess it with outputs blocks,markdown to see them on the page.");
  } else {
    viewerSays(`The blocks could not be fetched: ${blocks.reason.message}`);
  }
  if (tables.status === "fulfilled") {
    for (const table of jsonLines(tables.value)) {
      if (!viewer.tables.has(table.page)) viewer.tables.set(table.page, []);
      viewer.tables.get(table.page).push(table);
    }
  } else if (tables.reason.code !== "conflict") {
    viewerSays(`The tables could not be fetched: ${tables.reason.message}`);
  }
  buildStrip();
  $v(".page-count").textContent = `of ${viewer.pages.length}`;
  $v(".page-number").max = viewer.pages.length;
  await goTo(0);
}

// JSON lines: split on "\n" only (JSON escapes it inside strings; U+2028 may stand in text).
const jsonLines = (body) => body.split("\n").filter(Boolean).map((line) => JSON.parse(line));

function flagsOf(page) {
  const flags = [];
  if (page.ocr) flags.push("ocr");
  if (page.garbled) flags.push("garbled");
  if (!(page.text || "").trim()) flags.push("empty");
  return flags;
}

function buildStrip() {
  const strip = $v(".strip");
  strip.replaceChildren();
  for (const [index, page] of viewer.pages.entries()) {
    const item = strip.appendChild(document.createElement("li"));
    const button = item.appendChild(document.createElement("button"));
    button.type = "button";
    button.textContent = page.page;
    button.dataset.index = index;
    const flags = flagsOf(page);
    button.className = flags.join(" ");
    const words = { ocr: "read by OCR", garbled: "garbled", empty: "empty" };
    button.setAttribute("aria-label", [`Page ${page.page}`, ...flags.map((f) => words[f])].join(", "));
    button.addEventListener("click", () => goTo(index));
  }
}

function pageImage(number) {
  // Fetched with the token (an <img> could not carry it), kept as a blob URL per page.
  if (!viewer.images.has(number)) {
    const url = `${API}/jobs/${viewer.jobId}/pages/${number}.png?width=${IMAGE_WIDTH}`;
    const loading = call("GET", url).then(async (response) => {
      const points = (response.headers.get("X-Page-Points") || "").split(" ").map(Number);
      return { url: URL.createObjectURL(await response.blob()), points };
    });
    loading.catch(() => viewer.images.delete(number)); // asked again next time
    viewer.images.set(number, loading);
  }
  return viewer.images.get(number);
}

async function goTo(index) {
  if (!viewer.pages.length) return;
  index = Math.max(0, Math.min(index, viewer.pages.length - 1));
  viewer.at = index;
  const page = viewer.pages[index];
  $v(".page-number").value = page.page;
  for (const button of $v(".strip").querySelectorAll("button")) {
    if (Number(button.dataset.index) === index) {
      button.setAttribute("aria-current", "page");
      button.scrollIntoView({ block: "nearest", inline: "nearest" });
    } else button.removeAttribute("aria-current");
  }
  showText(page);
  // The page's live region (upload.js) tells a screen reader where it is now.
  const words = { ocr: "read by OCR", garbled: "garbled", empty: "empty" };
  announce([`Page ${page.page} of ${viewer.pages.length}`, ...flagsOf(page).map((f) => words[f])].join(", "));
  $v(".sheet").dataset.page = page.page;
  $v(".sheet").removeAttribute("data-loaded");
  try {
    const image = await pageImage(page.page);
    if (viewer.at !== index) return; // another page was asked for meanwhile
    const img = $v(".page-image");
    img.src = image.url;
    img.alt = `Page ${page.page}`;
    drawBlocks(page, image.points);
    drawTables(page, image.points);
    await img.decode(); // data-loaded says the picture is on screen, not only asked for
    if (viewer.at !== index) return;
    $v(".sheet").dataset.loaded = "true";
  } catch (failure) {
    if (viewer.at === index) viewerSays(`The page image could not be drawn: ${failure.message}`);
  }
  if (index + 1 < viewer.pages.length) pageImage(viewer.pages[index + 1].page).catch(() => 0);
}

function showText(page) {
  const box = $v(".page-text");
  box.replaceChildren();
  const blocks = viewer.blocks.get(page.page);
  if (blocks) {
    for (const [i, block] of blocks.entries()) {
      const node = box.appendChild(document.createElement("p"));
      node.className = `block ${block.kind || ""}`;
      node.dataset.block = i;
      node.textContent = block.text;
      node.addEventListener("mouseenter", () => light(i, true));
      node.addEventListener("mouseleave", () => light(i, false));
    }
  } else {
    const pre = box.appendChild(document.createElement("pre"));
    pre.textContent = page.text;
  }
  // Each table in its place in the reading order: before the first block inside it (whose
  // text is its cells', muted), or at the end.
  for (const table of viewer.tables.get(page.page) || []) {
    const inside = (blocks || []).flatMap((block, i) => (within(block.bbox, table.bbox) ? [i] : []));
    for (const i of inside) box.querySelector(`[data-block="${i}"]`).classList.add("in-table");
    const first = inside.length ? box.querySelector(`[data-block="${inside[0]}"]`) : null;
    box.insertBefore(tableOf(table), first);
  }
  if (!(page.text || "").trim()) {
    const empty = box.appendChild(document.createElement("p"));
    empty.className = "cut";
    empty.textContent = "No text on this page.";
  }
}

const SVG = "http://www.w3.org/2000/svg";

function drawBlocks(page, [wide, high]) {
  const svg = $v(".blocks");
  svg.replaceChildren();
  const blocks = viewer.blocks.get(page.page) || [];
  if (!wide || !high) return;
  svg.setAttribute("viewBox", `0 0 ${wide} ${high}`);
  svg.setAttribute("preserveAspectRatio", "none");
  for (const [i, block] of blocks.entries()) {
    if (!block.bbox) continue;
    const [x0, y0, x1, y1] = block.bbox; // PDF points, origin bottom left
    const rect = svg.appendChild(document.createElementNS(SVG, "rect"));
    rect.setAttribute("x", x0);
    rect.setAttribute("y", high - y1);
    rect.setAttribute("width", Math.max(x1 - x0, 1));
    rect.setAttribute("height", Math.max(y1 - y0, 1));
    rect.setAttribute("class", `block ${block.kind || ""}`);
    rect.dataset.block = i;
    rect.addEventListener("mouseenter", () => light(i, true));
    rect.addEventListener("mouseleave", () => light(i, false));
  }
}

// The cells of a row that are real: a cell spanning columns has `colspan`, and the positions
// it covers follow it as {"text": "", "bbox": null}.
function* cellsOf(row) {
  for (let c = 0; c < row.length; c += row[c].colspan || 1) yield [c, row[c]];
}

const within = (inner, outer, slack = 2) =>
  Boolean(inner && outer) &&
  inner[0] >= outer[0] - slack &&
  inner[1] >= outer[1] - slack &&
  inner[2] <= outer[2] + slack &&
  inner[3] <= outer[3] + slack;

function tableOf(table) {
  // A table as HTML: its header rows in <thead> with <th>, the cells' text by textContent.
  const node = document.createElement("table");
  node.className = "pdf-table";
  node.dataset.table = table.table;
  node.createCaption().textContent = `Table ${table.table}`;
  const head = node.createTHead();
  const body = node.createTBody();
  for (const [r, row] of table.rows.entries()) {
    const header = r < (table.header_rows || 0);
    const tr = (header ? head : body).insertRow();
    for (const [c, cell] of cellsOf(row)) {
      const td = tr.appendChild(document.createElement(header ? "th" : "td"));
      if (header) td.scope = "col";
      if (cell.colspan > 1) td.colSpan = cell.colspan;
      td.textContent = cell.text;
      td.dataset.cell = `${table.table}.${r}.${c}`;
      td.addEventListener("mouseenter", () => lightCell(td.dataset.cell, true));
      td.addEventListener("mouseleave", () => lightCell(td.dataset.cell, false));
    }
  }
  return node;
}

function drawTables(page, [wide, high]) {
  // Each table a grid over the image: its outline, and every cell's box (header cells apart).
  const svg = $v(".blocks");
  if (!wide || !high) return;
  const rect = (parent, [x0, y0, x1, y1], className) => {
    const node = parent.appendChild(document.createElementNS(SVG, "rect"));
    node.setAttribute("x", x0);
    node.setAttribute("y", high - y1); // PDF points, origin bottom left
    node.setAttribute("width", Math.max(x1 - x0, 1));
    node.setAttribute("height", Math.max(y1 - y0, 1));
    node.setAttribute("class", className);
    return node;
  };
  for (const table of viewer.tables.get(page.page) || []) {
    const group = svg.appendChild(document.createElementNS(SVG, "g"));
    group.setAttribute("class", "table");
    group.dataset.table = table.table;
    if (table.bbox) rect(group, table.bbox, "table-box");
    for (const [r, row] of table.rows.entries()) {
      for (const [c, cell] of cellsOf(row)) {
        if (!cell.bbox) continue;
        const header = r < (table.header_rows || 0);
        const node = rect(group, cell.bbox, header ? "cell header" : "cell");
        node.dataset.cell = `${table.table}.${r}.${c}`;
        node.addEventListener("mouseenter", () => lightCell(node.dataset.cell, true));
        node.addEventListener("mouseleave", () => lightCell(node.dataset.cell, false));
      }
    }
  }
}

function lightCell(cell, on) {
  // A cell lit on the image lights its place in the HTML table, and back.
  for (const node of document.querySelectorAll(`#viewer [data-cell="${cell}"]`)) {
    node.classList.toggle("lit", on);
  }
}

function light(i, on) {
  // A block lit on the image lights its text, and back.
  for (const node of document.querySelectorAll(`#viewer [data-block="${i}"]`)) {
    node.classList.toggle("lit", on);
  }
  if (on) $v(`.page-text [data-block="${i}"]`)?.scrollIntoView({ block: "nearest" });
}

function step(by) {
  // ↓ / ↑ in the page's text light the next or previous block, on the image too: what
  // hovering does, for the keyboard.
  const count = viewer.blocks.get(viewer.pages[viewer.at]?.page)?.length || 0;
  if (!count) return;
  const lit = document.querySelector("#viewer .page-text .lit");
  const now = lit ? Number(lit.dataset.block) : -1;
  if (lit) light(now, false);
  light(Math.max(0, Math.min(count - 1, now + by)), true);
}

async function find(words) {
  // Each press of Find (or Enter) goes to the next block holding the words, page by page.
  words = words.trim().toLowerCase();
  const search = viewer.search;
  if (!words) return;
  if (words !== search.words) {
    search.words = words;
    search.hits = [];
    for (const [index, page] of viewer.pages.entries()) {
      const blocks = viewer.blocks.get(page.page);
      if (blocks) {
        for (const [i, block] of blocks.entries()) {
          if (block.text.toLowerCase().includes(words)) search.hits.push([index, i]);
        }
      } else if ((page.text || "").toLowerCase().includes(words)) search.hits.push([index, null]);
    }
    search.at = -1;
  }
  const result = $v(".find-result");
  if (!search.hits.length) {
    result.textContent = "Not found.";
    return;
  }
  search.at = (search.at + 1) % search.hits.length;
  const [index, block] = search.hits[search.at];
  result.textContent = `${search.at + 1} of ${search.hits.length}`;
  if (viewer.mode !== "text") setMode("text");
  await goTo(index);
  for (const node of document.querySelectorAll("#viewer .found")) node.classList.remove("found");
  if (block !== null) {
    for (const node of document.querySelectorAll(`#viewer [data-block="${block}"]`)) {
      node.classList.add("found");
    }
    $v(`.page-text [data-block="${block}"]`)?.scrollIntoView({ block: "center" });
  }
}

async function setMode(mode) {
  viewer.mode = mode;
  for (const button of $v(".modes").querySelectorAll("button")) {
    button.setAttribute("aria-pressed", String(button.dataset.mode === mode));
  }
  const text = mode === "text";
  $v(".sheet").hidden = $v(".page-text").hidden = !text;
  $v(".md-view").hidden = mode !== "markdown";
  $v(".md-source").hidden = mode !== "source";
  if (text || !viewer.jobId) return;
  if (viewer.markdown === undefined) {
    try {
      const url = `${API}/jobs/${viewer.jobId}/result?format=markdown`;
      viewer.markdown = await (await call("GET", url)).text();
    } catch (failure) {
      viewer.markdown = null;
      viewerSays(`The Markdown could not be fetched: ${failure.message}`);
    }
    renderMarkdown(viewer.markdown || "", $v(".md-view"));
    $v(".md-source").textContent = viewer.markdown || "";
  }
  // The rendered document opens at the page being looked at.
  const page = viewer.pages[viewer.at]?.page;
  if (mode === "markdown") $v(`.md-view [data-page="${page}"]`)?.scrollIntoView({ block: "start" });
}

function onKey(event) {
  // Page through with the keyboard, except while typing in a field.
  if ($v(".viewer-body").closest("section").hidden) return;
  if (event.target.closest("input, select, textarea") || event.altKey || event.ctrlKey) return;
  const moves = { ArrowRight: 1, PageDown: 1, ArrowLeft: -1, PageUp: -1 };
  const steps = { ArrowDown: 1, ArrowUp: -1 };
  if (event.key in steps && event.target.closest(".page-text")) step(steps[event.key]);
  else if (event.key in moves) goTo(viewer.at + moves[event.key]);
  else if (event.key === "Home") goTo(0);
  else if (event.key === "End") goTo(viewer.pages.length - 1);
  else return;
  event.preventDefault();
}

VIEWS.viewer = openViewer;

document.addEventListener("DOMContentLoaded", () => {
  $v(".prev").addEventListener("click", () => goTo(viewer.at - 1));
  $v(".next").addEventListener("click", () => goTo(viewer.at + 1));
  $v(".page-number").addEventListener("change", (event) => {
    const index = viewer.pages.findIndex((page) => page.page === Number(event.target.value));
    goTo(index >= 0 ? index : viewer.at);
  });
  $v(".find").addEventListener("submit", (event) => {
    event.preventDefault();
    find($v(".find-words").value);
  });
  for (const button of $v(".modes").querySelectorAll("button")) {
    button.addEventListener("click", () => setMode(button.dataset.mode));
  }
  document.addEventListener("keydown", onKey);
  window.addEventListener("hashchange", route);
  setTimeout(route); // after every view's script has set itself up
});
