#!/usr/bin/env node
// Follows a file served by filewatch, from a script, with the filewatch.v1
// protocol (docs/protocol.md): prints the content, then what is appended, as
// `tail -f` would; keeps the exact bytes it holds; and after a dropped
// connection resumes with ?lastMod=&size=, so a file that only grew comes back
// as one append instead of the whole file.
//
//   npm install ws        (already there in this repository)
//   node docs/examples/follow.mjs ws://127.0.0.1:8080/ws [--out COPY]
//
// stdout: the file's text as it arrives. stderr: one line per event
// (connected, content, append, error, closed). --out COPY: after every
// message, COPY holds exactly the bytes received (the whole file, or in tail
// mode the part from `offset`). Stops on SIGINT/SIGTERM.
import { writeFileSync } from "node:fs";
import WebSocket from "ws";

const args = process.argv.slice(2);
const outAt = args.indexOf("--out");
const out = outAt >= 0 ? args.splice(outAt, 2)[1] : null;
const base = args[0];
if (!base || !/^wss?:\/\//.test(base)) {
  console.error("usage: node follow.mjs ws://HOST:PORT/ws [--out FILE]");
  process.exit(2);
}

/** What we hold: the file's bytes from `offset` to `size`, of version `lastMod` (null: nothing). */
let held = { lastMod: null, offset: 0, size: 0, bytes: Buffer.alloc(0) };
let delay = 250;
let socket = null;
let stopping = false;

const log = (line) => process.stderr.write(`follow: ${line}\n`);

/** The message's bytes: UTF-8 text, or base64 when `encoding` says so. */
const bytesOf = (m) => m.encoding === "base64" ? Buffer.from(m.data, "base64") : Buffer.from(m.data, "utf8");

function connect() {
  // Resume: send the version we hold and its size; the server answers with
  // nothing (unchanged), one append (it grew), or the content (anything else).
  const url = new URL(base);
  if (held.lastMod !== null) {
    url.searchParams.set("lastMod", held.lastMod);
    url.searchParams.set("size", String(held.size));
  }
  const ws = new WebSocket(url, ["filewatch.v1"]);
  socket = ws;
  let openedAt = 0;
  ws.on("open", () => {
    openedAt = Date.now();
    const resume = held.lastMod === null ? "" : ` resuming lastMod=${held.lastMod} size=${held.size}`;
    log(`connected protocol=${ws.protocol}${resume}`);
  });
  ws.on("message", (data, isBinary) => {
    if (isBinary) return log("unexpected binary frame");
    apply(JSON.parse(data.toString("utf8")), ws);
  });
  ws.on("error", (e) => log(`error: ${e.message}`));
  ws.on("close", (code) => {
    if (stopping) return;
    // Back off, doubling up to 5 s; a connection that lived 5 s starts over.
    if (openedAt && Date.now() - openedAt > 5_000) delay = 250;
    const wait = delay / 2 + Math.random() * (delay / 2);
    delay = Math.min(delay * 2, 5_000);
    log(`closed code=${code}; reconnecting in ${Math.round(wait)} ms`);
    setTimeout(connect, wait);
  });
}

function apply(m, ws) {
  if (m.type === "content") {
    held = { lastMod: m.lastMod, offset: m.offset, size: m.size, bytes: bytesOf(m) };
    log(`content lastMod=${m.lastMod} offset=${m.offset} size=${m.size}`);
    process.stdout.write(held.bytes);
  } else if (m.type === "append") {
    // Apply only on top of exactly the version it extends; otherwise start over.
    if (m.prev !== held.lastMod || m.offset !== held.size) {
      log(`append for ${m.prev}@${m.offset}, holding ${held.lastMod}@${held.size}: starting over`);
      held = { lastMod: null, offset: 0, size: 0, bytes: Buffer.alloc(0) };
      ws.close();
      return;
    }
    const added = bytesOf(m);
    held = { lastMod: m.lastMod, offset: held.offset, size: m.size, bytes: Buffer.concat([held.bytes, added]) };
    log(`append prev=${m.prev} lastMod=${m.lastMod} offset=${m.offset} size=${m.size}`);
    process.stdout.write(added);
  } else if (m.type === "error") {
    // The file is unreadable; keep what we have, but hold no version: the next connect asks for the content.
    held = { ...held, lastMod: null };
    log(`error ${m.message}`);
    return;
  } else {
    return log(`unknown message type ${JSON.stringify(m.type)}`);
  }
  if (out) writeFileSync(out, held.bytes);
}

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    stopping = true;
    socket?.close(1000);
    process.exit(0);
  });
}
connect();
