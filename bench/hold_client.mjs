// Holds N WebSocket viewers open against one server for bench/conn_memory.ts,
// and does nothing else: no writes, no measuring of its own, so that the
// server's memory is measured with exactly these sockets open.
//
//   node bench/hold_client.mjs --url ws://127.0.0.1:PORT/ws --n 1000 [--protocol filewatch.bin.v1]
//
// Prints `ready R failed F` on stdout once every viewer has its first message
// (or failed after its retries), then holds them until stdin closes or
// SIGTERM. Uses the raw client of the other benchmarks (bench/_rawws.mjs), 64
// handshakes in flight, 127.0.0.1 only.
import process from "node:process";
import { parseArgs } from "node:util";
import { openRawWs } from "./_rawws.mjs";

const { values: a } = parseArgs({
  options: {
    url: { type: "string" },
    n: { type: "string", default: "1000" },
    protocol: { type: "string", default: "" },
    concurrency: { type: "string", default: "64" },
  },
});
const fail = (msg) => {
  process.stderr.write(`hold_client: error: ${msg}\n`);
  process.exit(2);
};
if (!a.url || new URL(a.url).hostname !== "127.0.0.1") fail(`Cannot hold "${a.url}": only ws://127.0.0.1 is allowed`);
const N = Number(a.n);
const IN_FLIGHT = Number(a.concurrency);
if (!Number.isInteger(N) || N < 1) fail(`Cannot parse --n "${a.n}": expected an integer >= 1`);
if (!Number.isInteger(IN_FLIGHT) || IN_FLIGHT < 1) fail(`Cannot parse --concurrency "${a.concurrency}"`);

let started = 0;
let inFlight = 0;
let ready = 0;
let failed = 0;
const sockets = [];

function settle() {
  inFlight--;
  if (ready + failed === N) process.stdout.write(`ready ${ready} failed ${failed}\n`);
  else pump();
}

function open(attempt) {
  let first = true;
  sockets.push(openRawWs(a.url, {
    headers: a.protocol ? `Sec-WebSocket-Protocol: ${a.protocol}\r\n` : "",
    headLen: 1,
    handshakeTimeoutMs: 30_000,
    onMessage: () => {
      if (!first) return;
      first = false;
      ready++;
      settle();
    },
    onFail: () => {
      if (attempt < 3) setTimeout(() => open(attempt + 1), 100 * (attempt + 1));
      else {
        failed++;
        settle();
      }
    },
  }));
}

function pump() {
  while (inFlight < IN_FLIGHT && started < N) {
    started++;
    inFlight++;
    open(0);
  }
}

pump();
const stop = () => {
  for (const s of sockets) s.terminate();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.stdin.on("end", stop);
process.stdin.resume();
