// One load-client worker process: holds its share of the WebSocket clients,
// timestamps every message it receives, and reports to the coordinator
// (bench/client.mjs) over the IPC channel. Started only by client.mjs.
//
// Two client implementations (--client):
// - "raw" (default): bench/_rawws.mjs, a minimal RFC 6455 client on node:net
//   (shared with the appends benchmark's workers) that never builds
//   a message: it parses frame headers, keeps the first 10 payload bytes (the
//   token) and skips the rest of each chunk in place. Why our own and not `ws`:
//   at 5k x 64 KiB `ws` (which concatenates every message into a Buffer and
//   emits it) cost the client ~1 CPU-s per change, as much as the server, on a
//   2-core machine where they share the cores; the raw parser costs a fraction
//   of that (numbers in BENCHMARKS.md). It answers pings with masked pongs.
// - "ws": the `ws` package (skipUTF8Validation), as a cross-check of the raw one.
// Both stop reading from TCP for slow consumers (socket.pause() / ws.pause());
// the web WebSocket of Deno/Bun has no pause, which is why Node.
//
// Clock: process.hrtime is CLOCK_MONOTONIC, one clock for every process on
// the machine, so receipt times here compare with write times taken by the
// coordinator.
import process from "node:process";
import WebSocket from "ws";
import { nowMs, openRawWs } from "./_rawws.mjs";

/** @type {any} */
let cfg = null;
/** @type {({ pause(): void; terminate(): void } | null)[]} */
let sockets = [];
let recv = new Float64Array(0); // [client * (rounds + 1) + token] = receipt time (ms)
let ready = new Uint8Array(0); // 1 once the client has the initial content
let closed = new Uint8Array(0); // 1 once the client's socket closed
let paused = new Uint8Array(0);
let gotCount = new Int32Array(0); // per round: healthy clients that have it
let doneSent = new Uint8Array(0);
let healthyReady = 0;
let healthyClosed = 0;
let readyCount = 0;
let failed = 0;
let closedUnready = 0; // opened, then closed before the initial content
let opened = 0;
let dup = 0;
let bad = 0;
let skipped = 0; // a client got round r without some earlier round
const errors = new Map();
const closeCodes = new Map();
let cpuAtRoundsStart = process.cpuUsage();
let cpuAtConnectStart = process.cpuUsage();
let cpuConnect = { user: 0, system: 0 };
let inRounds = false;

function count(map, key) {
  map.set(key, (map.get(key) ?? 0) + 1);
}

function send(msg) {
  if (!process.connected) return;
  // The coordinator is gone (interrupted run): nothing left to report to.
  process.send(msg, (err) => err && process.exit(0));
}

function checkDone(r) {
  if (r < 1 || r > cfg.rounds || doneSent[r]) return;
  if (gotCount[r] + healthyClosed >= healthyReady) {
    doneSent[r] = 1;
    send({ type: "done", round: r });
  }
}

/** A ws-package message: parse its token, then record it. */
function onWsMessage(i, data) {
  if (!Buffer.isBuffer(data)) {
    bad++;
    return;
  }
  onMessage(i, data, data.length);
}

/**
 * Records that client i received a message of `length` bytes whose first bytes
 * are `head`. Content is "v=NNNNNNNN\n" + filler, exactly cfg.size bytes (see client.mjs).
 */
function onMessage(i, head, length) {
  const t = nowMs();
  if (head.length < 10 || head[0] !== 0x76 || head[1] !== 0x3d) {
    bad++;
    return;
  }
  if (length !== cfg.size) bad++;
  const token = parseInt(head.toString("latin1", 2, 10), 10);
  if (!(token >= 0 && token <= cfg.rounds)) {
    bad++;
    return;
  }
  const base = i * (cfg.rounds + 1);
  if (!Number.isNaN(recv[base + token])) {
    dup++;
    return;
  }
  recv[base + token] = t;
  if (!ready[i]) {
    ready[i] = 1;
    readyCount++;
    if (paused[i]) {
      // Slow consumer: stop reading from TCP once it has the first content.
      sockets[i]?.pause();
    } else {
      healthyReady++;
    }
  }
  if (token > 0 && !paused[i]) {
    for (let r = token - 1; r >= 1; r--) {
      if (!Number.isNaN(recv[base + r])) break;
      skipped++;
    }
    gotCount[token]++;
    checkDone(token);
  }
}

function onClosed(i, code) {
  if (closed[i]) return;
  closed[i] = 1;
  count(closeCodes, String(code));
  if (!ready[i]) closedUnready++;
  else if (!paused[i]) {
    healthyClosed++;
    if (inRounds) { for (let r = 1; r <= cfg.rounds; r++) checkDone(r); }
  }
}

/** Opens client i with `ws`; retries a failed handshake (bounded) before counting it failed. */
function openWs(i, attempt, onSettled) {
  let settledOpen = false;
  const ws = new WebSocket(cfg.url, {
    perMessageDeflate: false,
    skipUTF8Validation: true,
    handshakeTimeout: cfg.handshakeTimeoutMs,
    maxPayload: 0,
    ...(cfg.localAddress ? { localAddress: cfg.localAddress } : {}),
  });
  sockets[i] = ws;
  ws.on("open", () => {
    settledOpen = true;
    opened++;
    onSettled();
  });
  ws.on("message", (data) => onWsMessage(i, data));
  ws.on("error", (err) => count(errors, err.code ?? err.message));
  ws.on("close", (code) => {
    if (!settledOpen) {
      if (attempt < cfg.connectRetries) {
        setTimeout(() => openWs(i, attempt + 1, onSettled), 100 * (attempt + 1));
      } else {
        failed++;
        closed[i] = 1;
        onSettled();
      }
      return;
    }
    onClosed(i, code);
  });
}

const HEAD_LEN = 10; // "v=NNNNNNNN"

/** Opens client i with the raw client (bench/_rawws.mjs); retries a failed handshake (bounded) before counting it failed. */
function openRaw(i, attempt, onSettled) {
  sockets[i] = openRawWs(cfg.url, {
    headLen: HEAD_LEN,
    localAddress: cfg.localAddress,
    handshakeTimeoutMs: cfg.handshakeTimeoutMs,
    onOpen: () => {
      opened++;
      onSettled();
    },
    onMessage: (head, length) => onMessage(i, head, length),
    onError: (err) => count(errors, err.code ?? err.message),
    onClose: (code) => onClosed(i, code),
    onFail: () => {
      if (attempt < cfg.connectRetries) {
        setTimeout(() => openRaw(i, attempt + 1, onSettled), 100 * (attempt + 1));
      } else {
        failed++;
        closed[i] = 1;
        onSettled();
      }
    },
  });
}

function connectAll() {
  const n = cfg.count;
  sockets = new Array(n).fill(null);
  recv = new Float64Array(n * (cfg.rounds + 1)).fill(NaN);
  ready = new Uint8Array(n);
  closed = new Uint8Array(n);
  paused = new Uint8Array(n);
  for (const p of cfg.paused) paused[p] = 1;
  gotCount = new Int32Array(cfg.rounds + 1);
  doneSent = new Uint8Array(cfg.rounds + 1);
  cpuAtConnectStart = process.cpuUsage();
  const deadline = Date.now() + cfg.connectTimeoutMs;
  let next = 0;
  let inFlight = 0;
  const pump = () => {
    while (inFlight < cfg.concurrency && next < n) {
      inFlight++;
      (cfg.client === "ws" ? openWs : openRaw)(next++, 0, () => {
        inFlight--;
        pump();
      });
    }
  };
  pump();
  // Bounded wait: every client is ready or failed, or the deadline passed.
  const timer = setInterval(() => {
    const settled = readyCount + failed + closedUnready;
    const finished = settled >= n;
    if (finished || Date.now() > deadline) {
      clearInterval(timer);
      cpuConnect = process.cpuUsage(cpuAtConnectStart);
      send({
        type: "connected",
        opened,
        ready: readyCount,
        failed,
        closedUnready,
        timedOut: !finished,
        errors: Object.fromEntries(errors),
        cpu: cpuConnect,
      });
    }
  }, 50);
}

function results() {
  const cpu = process.cpuUsage(cpuAtRoundsStart); // { user, system } microseconds
  let pausedClosed = 0;
  for (let i = 0; i < paused.length; i++) if (paused[i] && closed[i]) pausedClosed++;
  const healthy = new Uint8Array(ready.length);
  for (let i = 0; i < ready.length; i++) healthy[i] = ready[i] && !paused[i] ? 1 : 0;
  return {
    type: "result",
    recv,
    healthy,
    cpu,
    cpuConnect,
    dup,
    bad,
    skipped,
    pausedClosed,
    closeCodes: Object.fromEntries(closeCodes),
    errors: Object.fromEntries(errors),
    memRssKiB: Math.round(process.memoryUsage.rss() / 1024),
  };
}

process.on("message", (msg) => {
  switch (msg.cmd) {
    case "connect":
      cfg = msg;
      connectAll();
      break;
    case "rounds-start":
      inRounds = true;
      cpuAtRoundsStart = process.cpuUsage();
      send({ type: "ack" });
      break;
    case "rounds-end":
      inRounds = false;
      send(results());
      break;
    case "close":
      for (const ws of sockets) ws?.terminate();
      setTimeout(() => process.exit(0), 100);
      break;
  }
});
process.on("disconnect", () => process.exit(0));
// A worker never outlives its run, whatever happens to the coordinator.
setTimeout(() => process.exit(3), Number(process.env.BENCH_WORKER_MAX_MS ?? 3_600_000)).unref();
