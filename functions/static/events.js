// Server-Sent Events read with fetch(): an EventSource cannot send the Authorization header
// the page's token needs, so the stream's body is read here and parsed as text/event-stream
// (the HTML standard's rules: fields `event`, `data`, `id`, `retry`; a blank line ends an
// event; a line starting with ":" is a comment). upload.js follows its jobs with it.
"use strict";

// Each event block of the stream, as {event, data, id, retry} (fields the block lacks are
// undefined; data lines are joined with "\n"), until the stream closes. Throws when the
// connection breaks (or the fetch's signal aborts it).
async function* serverEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let block = {};
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      // A line ends at CRLF, LF or CR; a CR last in the buffer may be half a CRLF.
      const lines = buffer.split(/\r\n|\n|\r(?!$)/);
      buffer = lines.pop();
      for (const line of lines) {
        if (line === "") {
          if (Object.keys(block).length) yield block;
          block = {};
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const name = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (name === "data") block.data = block.data === undefined ? value : `${block.data}\n${value}`;
        else if (name === "event") block.event = value;
        else if (name === "id" && !value.includes("\0")) block.id = value;
        else if (name === "retry" && /^\d+$/.test(value)) block.retry = Number(value);
      }
    }
  } finally {
    await reader.cancel().catch(() => null); // closes the connection when the reader stops early
  }
}

// A stream that closes sooner than this after it opened, before `end`, was cut by something
// other than pdfq's window (EVENTS_WINDOW_SECONDS, 25 s by default).
const STREAM_SHORTEST_MS = 1000;

// Follows a job through GET /jobs/{id}/events: onEvent(kind, data) for each `status` and
// `progress` event; resolves to the job (the `end` event's data) once it has ended, or to null
// when the stream cannot be had or is cut, for the caller to poll instead: an answer that is
// not 200 text/event-stream (a 429 when the tenant's streams are all open), a broken
// connection, or a stream that closes before `end` other than at pdfq's window (pdfq's
// streams open with a `retry:` hint). At a window's end it reconnects after the hint with
// Last-Event-ID, and gets only the events after it.
async function followEvents(jobId, signal, onEvent) {
  let lastId = null;
  for (;;) {
    const headers = { Accept: "text/event-stream" };
    if (token()) headers.Authorization = `Bearer ${token()}`;
    if (lastId !== null) headers["Last-Event-ID"] = lastId;
    const opened = Date.now();
    let retry = null;
    try {
      const url = `${API}/jobs/${encodeURIComponent(jobId)}/events`;
      const response = await fetch(url, { headers, signal, cache: "no-store" });
      const type = response.headers.get("Content-Type") || "";
      if (!response.ok || !type.startsWith("text/event-stream") || !response.body) {
        response.body?.cancel().catch(() => null);
        return null;
      }
      for await (const block of serverEvents(response.body)) {
        if (block.retry !== undefined) retry = block.retry;
        if (block.id !== undefined) lastId = block.id;
        if (block.data === undefined) continue;
        const data = JSON.parse(block.data);
        if (block.event === "end") return data;
        onEvent(block.event || "message", data);
      }
    } catch (error) {
      if (signal?.aborted) throw new Failure("canceled");
      return null; // a broken connection, or an event that is not JSON: the polling goes on
    }
    if (retry === null || Date.now() - opened < STREAM_SHORTEST_MS) return null;
    await sleep(retry, signal);
  }
}
