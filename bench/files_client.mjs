// Load client for bench/files.ts (Node): opens VIEWERS sockets to each of the
// given /ws/{name} URLs, prints "ready <n>" once all are open, counts messages,
// and on a "stop" line on stdin prints {"messages":N,"opened":N,"closed":N} and exits.
//
//   node bench/files_client.mjs ws://127.0.0.1:PORT/ws/ VIEWERS name1 name2 …  (or @file with one name a line)
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import WebSocket from "ws";

const [base, viewersArg, ...rest] = process.argv.slice(2);
const names = rest.length === 1 && rest[0].startsWith("@")
  ? readFileSync(rest[0].slice(1), "utf8").split("\n").filter(Boolean)
  : rest;
const viewers = Number(viewersArg);
let messages = 0;
let opened = 0;
let closed = 0;
const sockets = [];
const CONCURRENT = 200; // handshakes in flight at once
const targets = names.flatMap((n) => Array.from({ length: viewers }, () => base + encodeURIComponent(n)));
let next = 0;
let failed = 0;
await new Promise((resolve) => {
  let inFlight = 0;
  const settled = () => {
    inFlight--;
    if (opened + failed === targets.length) resolve();
    pump();
  };
  const pump = () => {
    while (inFlight < CONCURRENT && next < targets.length) {
      const ws = new WebSocket(targets[next++], ["filewatch.v1"]);
      let open = false;
      inFlight++;
      sockets.push(ws);
      ws.on("open", () => {
        open = true;
        opened++;
        settled();
      });
      ws.on("message", () => messages++);
      ws.on("error", () => {});
      ws.on("close", () => {
        closed++;
        if (!open) {
          failed++;
          settled();
        }
      });
    }
  };
  pump();
});
console.log(`ready ${opened}`);
const rl = createInterface({ input: process.stdin });
rl.on("line", (line) => {
  if (line.trim() === "count") console.log(JSON.stringify({ messages, opened, closed }));
  if (line.trim() === "stop") {
    console.log(JSON.stringify({ messages, opened, closed }));
    for (const ws of sockets) ws.terminate();
    process.exit(0);
  }
});
