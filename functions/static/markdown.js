// The Markdown pdfq writes (core/jobs/structure.py), rendered as DOM nodes built one by one
// with textContent: headings, list items (the contents list indented), captions, tables,
// paragraphs, page comments. Nothing is ever parsed as HTML, so no text from a PDF can run:
// "<img ...>" in a document stays those characters on screen. Plain JavaScript, no build step.
"use strict";

// pdfq escapes Markdown's punctuation with a backslash and writes &amp; &lt; &gt;: undone
// here, into plain text for textContent.
const ENTITIES = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'" };

function plainText(markdown) {
  return markdown
    .replace(/\\([!-/:-@[-`{-~])/g, "$1")
    .replace(/&(amp|lt|gt|quot|#39);/g, (entity) => ENTITIES[entity]);
}

function inline(parent, text) {
  // *emphasis* and **strong** (pdfq writes captions as *caption*); the rest is text.
  const parts = text.split(/(\*\*[^*]+\*\*|(?<!\\)\*[^*]+(?<!\\)\*)/);
  for (const part of parts) {
    if (!part) continue;
    let node;
    if (part.startsWith("**") && part.endsWith("**") && part.length > 4) {
      node = document.createElement("strong");
      node.textContent = plainText(part.slice(2, -2));
    } else if (part.startsWith("*") && part.endsWith("*") && part.length > 2) {
      node = document.createElement("em");
      node.textContent = plainText(part.slice(1, -1));
    } else {
      node = document.createTextNode(plainText(part));
    }
    parent.appendChild(node);
  }
}

function renderMarkdown(markdown, into) {
  // Replaces the children of `into` with the rendered document; each page starts with an
  // element carrying data-page, so the viewer can scroll to a page.
  into.replaceChildren();
  let list = null;
  let table = null;
  for (const line of markdown.split("\n")) {
    const page = /^<!-- page (\d+) -->$/.exec(line.trim());
    const heading = /^(#{1,6}) (.*)$/.exec(line);
    const item = /^( *)- (.*)$/.exec(line);
    const row = /^\|(.*)\|$/.exec(line.trim());
    if (!item) list = null;
    if (!row) table = null;
    if (row) {
      // A table (pdfq writes GFM tables): its first row the head, the --- row skipped.
      if (/^(\s*:?-+:?\s*\|)*\s*:?-+:?\s*$/.test(row[1])) continue;
      const head = !table;
      if (head) {
        table = into.appendChild(document.createElement("table"));
        table.className = "md-table";
      }
      const tr = (head ? table.createTHead() : table.tBodies[0] || table.createTBody()).insertRow();
      for (const cell of row[1].split(/(?<!\\)\|/)) {
        inline(tr.appendChild(document.createElement(head ? "th" : "td")), cell.trim());
      }
    } else if (page) {
      const marker = into.appendChild(document.createElement("p"));
      marker.className = "md-page";
      marker.dataset.page = page[1];
      marker.textContent = `Page ${page[1]}`;
    } else if (heading) {
      const node = into.appendChild(document.createElement(`h${Math.min(heading[1].length + 2, 6)}`));
      inline(node, heading[2]);
    } else if (item) {
      if (!list) list = into.appendChild(document.createElement("ul"));
      const node = list.appendChild(document.createElement("li"));
      node.style.marginLeft = `${Math.floor(item[1].length / 2)}rem`;
      inline(node, item[2]);
    } else if (line.trim()) {
      inline(into.appendChild(document.createElement("p")), line);
    }
  }
}
