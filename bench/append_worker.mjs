// One load-client worker for the appends benchmark (bench/append_client.mjs starts it):
// holds its share of the viewers of a growing log, finds every appended line in
// what they receive, and reports per-line latency, per-viewer line counts and
// bytes to the coordinator over IPC.
//
// Every appended line starts with a fixed-width marker written by the
// coordinator: "seq=NNNNNNNN t=TTTTTTTTTTT.TTT" (t = the write time, ms on
// CLOCK_MONOTONIC, the same clock as process.hrtime here). A viewer counts
// line `seq` once; latency = receipt time - t.
//
// Protocols (--proto):
// - fw-v1: filewatch.v1 JSON (content, append); raw RFC 6455 client.
// - fw-bin: filewatch.bin.v1 binary frames (the page's format): the type is the
//   first byte, and the appended bytes are raw at the end of the frame.
// - fw-plain: no subprotocol: whole file per version, or (tail mode) one frame per append.
// - sio-raw: frontail's socket.io 2 (engine.io v3) over a raw WebSocket: the same
//   frames socket.io-client receives with transports:["websocket"] (open packet,
//   "40", namespace connect, then `42/NS,["line","…"]` events); pings "2" itself.
// - sio-lib: the socket.io-client 2.3.1 package, io(url, {transports:["websocket"], forceNew:true}).
//
// The raw client (bench/_rawws.mjs, shared with the fan-out benchmark's
// workers) never builds a message: it parses frame headers, and this worker scans
// each payload piece for markers in place (Buffer.indexOf). A message at least
// as large as the initial file (a whole-file version) is scanned only from
// initialSize - 256 on: the lines written during the run are at its end.
import { createRequire } from "node:module";
import process from "node:process";
import { nowMs, openRawWs } from "./_rawws.mjs";

const MARK = Buffer.from("seq=");
const MARK_LEN = 30; // "seq=" + 8 digits + " t=" + 11 digits "." 3 digits
const HIST_BUCKETS = 600_001; // 0.1 ms buckets up to 60 s; the last one is "60 s or more"
const HEAD_LEN = 64; // enough for `42/<32-hex namespace>,["line",`

/** @type {any} */
let cfg = null;
/** @type {any[]} */
let conns = [];
let lastSeq = new Int32Array(0);
let lines = new Int32Array(0);
let ready = new Uint8Array(0);
let closed = new Uint8Array(0);
let payload = new Float64Array(0); // data payload bytes received while measuring
let wire0 = new Float64Array(0); // socket.bytesRead when measuring started
let wireEnd = new Float64Array(0);
let doneAt = new Float64Array(0); // receipt time of the last line
const hist = new Uint32Array(HIST_BUCKETS);
let latMax = 0;
let target = Infinity; // the last seq written; known once the writes end
let readyCount = 0;
let failed = 0;
let closedUnready = 0;
let dup = 0;
let gaps = 0;
let measuring = false;
const msgTypes = new Map();
const errors = new Map();
const closeCodes = new Map();
let cpuAtMeasure = process.cpuUsage();
let cpuConnect = { user: 0, system: 0 };

function count(map, key, by = 1) {
  map.set(key, (map.get(key) ?? 0) + by);
}

function send(msg) {
  if (!process.connected) return;
  process.send(msg, (err) => err && process.exit(0));
}

function markReady(i) {
  if (ready[i]) return;
  ready[i] = 1;
  readyCount++;
}

/** A line with this seq and write time arrived at client i at time t. */
function onLine(i, seq, tWrite, t) {
  if (seq <= lastSeq[i]) {
    dup++;
    return;
  }
  if (lastSeq[i] > 0 || seq > 1) gaps += seq - lastSeq[i] - 1;
  lastSeq[i] = seq;
  lines[i]++;
  const lat = t - tWrite;
  if (lat > latMax) latMax = lat;
  hist[Math.min(HIST_BUCKETS - 1, Math.max(0, Math.floor(lat * 10)))]++;
  if (seq >= target) doneAt[i] = t;
}

/** Parses the marker at buf[p] (complete: MARK_LEN bytes) for client i. */
function parseMarker(i, buf, p, t) {
  let seq = 0;
  for (let k = p + 4; k < p + 12; k++) seq = seq * 10 + (buf[k] - 48);
  let ms = 0;
  for (let k = p + 15; k < p + 26; k++) ms = ms * 10 + (buf[k] - 48);
  const frac = (buf[p + 27] - 48) * 100 + (buf[p + 28] - 48) * 10 + (buf[p + 29] - 48);
  if (!(seq > 0) || buf[p + 26] !== 0x2e) {
    count(errors, "bad-marker");
    return;
  }
  onLine(i, seq, ms + frac / 1000, t);
}

/**
 * Scans one payload piece of a data message for markers. `st.carry` holds the
 * last MARK_LEN - 1 bytes of the previous piece of the same message, so a marker
 * split across reads is still found (and a marker is found only once).
 */
function scanPiece(i, st, piece, t) {
  if (piece.length === 0) return;
  if (st.carryLen > 0) {
    const n = Math.min(piece.length, MARK_LEN);
    const joined = Buffer.concat([st.carry.subarray(0, st.carryLen), piece.subarray(0, n)]);
    let q = joined.indexOf(MARK);
    while (q >= 0 && q < st.carryLen) {
      if (q + MARK_LEN <= joined.length) parseMarker(i, joined, q, t);
      q = joined.indexOf(MARK, q + 1);
    }
  }
  let q = piece.indexOf(MARK);
  while (q >= 0) {
    if (q + MARK_LEN > piece.length) break;
    parseMarker(i, piece, q, t);
    q = piece.indexOf(MARK, q + MARK_LEN);
  }
  // New carry: the last MARK_LEN - 1 bytes of (carry + piece).
  const keep = MARK_LEN - 1;
  if (piece.length >= keep) {
    piece.copy(st.carry, 0, piece.length - keep);
    st.carryLen = keep;
  } else {
    const old = Buffer.from(st.carry.subarray(0, st.carryLen));
    const all = Buffer.concat([old, piece]);
    const from = Math.max(0, all.length - keep);
    all.copy(st.carry, 0, from);
    st.carryLen = all.length - from;
  }
}

/** End of a data message of `length` bytes starting with `head`, for client i. */
function onMessageEnd(i, head, length, c) {
  const p = cfg.proto;
  if (p === "fw-v1") {
    const s = head.toString("latin1");
    const type = /^\{"type":"([a-z]+)"/.exec(s)?.[1] ?? "other";
    count(msgTypes, type);
    if (type === "content" && ready[i] && measuring) count(msgTypes, "content-after-ready");
    if (type === "content") markReady(i);
  } else if (p === "fw-bin") {
    const type = ["other", "content", "append", "error"][head[0] & 0x7f] ?? "other";
    count(msgTypes, type);
    if (type === "content" && ready[i] && measuring) count(msgTypes, "content-after-ready");
    if (type === "content") markReady(i);
  } else if (p === "fw-plain") {
    count(msgTypes, length >= cfg.initialSize ? "whole" : "frame");
    markReady(i);
  } else {
    // sio-raw: engine.io packet type, then socket.io packet type.
    const s = head.toString("latin1");
    if (s[0] === "0") {
      count(msgTypes, "eio-open");
    } else if (s[0] === "3") {
      count(msgTypes, "eio-pong");
    } else if (s[0] === "4") {
      if (s === "40" || s.startsWith("40,")) {
        count(msgTypes, "sio-connect-root");
        c.sendText(`40/${cfg.ns},`);
      } else if (s.startsWith("40/")) {
        count(msgTypes, "sio-connect-ns");
      } else if (s.startsWith(`42/${cfg.ns},["line",`)) {
        count(msgTypes, "line");
        markReady(i); // the first "line" is the one buffered line frontail sends on connect (-n 1)
      } else {
        count(msgTypes, s.slice(0, 2));
      }
    } else {
      count(msgTypes, `eio-${s[0]}`);
    }
  }
}

/**
 * Opens client i with the raw client (bench/_rawws.mjs); retries a failed
 * handshake (bounded) before counting it failed.
 */
function openRaw(i, attempt, onSettled) {
  const sio = cfg.proto === "sio-raw";
  let pinger = null;
  let skipTo = 0; // scan the current message from this offset on
  const st = { carry: Buffer.alloc(MARK_LEN), carryLen: 0 };
  const ws = openRawWs(cfg.url, {
    path: sio ? "/socket.io/?EIO=3&transport=websocket" : undefined,
    headers: cfg.proto === "fw-v1"
      ? "Sec-WebSocket-Protocol: filewatch.v1\r\n"
      : cfg.proto === "fw-bin"
      ? "Sec-WebSocket-Protocol: filewatch.bin.v1\r\n"
      : "",
    headLen: HEAD_LEN,
    handshakeTimeoutMs: cfg.handshakeTimeoutMs,
    onOpen: () => {
      onSettled();
      // engine.io v3: the client pings ("2") every pingInterval (25 s by default),
      // or the server closes it after pingInterval + pingTimeout.
      if (sio) pinger = setInterval(() => c.sendText("2"), 20_000);
    },
    onMessageStart: (length) => {
      skipTo = length >= cfg.initialSize ? cfg.initialSize - 256 : 0;
    },
    onPayload: (buf, start, end, offset, t) => {
      // Scan the part of this piece at or past the skip point.
      const from = start + Math.max(0, skipTo - offset);
      if (from < end) scanPiece(i, st, buf.subarray(from, end), t);
      if (measuring) payload[i] += end - start;
    },
    onMessage: (head, length) => {
      onMessageEnd(i, head, length, c);
      st.carryLen = 0;
    },
    onError: (err) => count(errors, err.code ?? err.message),
    onClose: (code) => {
      if (pinger) clearInterval(pinger);
      onClosed(i, code);
    },
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
  const c = {
    sendText: ws.sendText,
    terminate: ws.terminate,
    bytesRead: () => ws.sock.bytesRead,
  };
  conns[i] = c;
}

let ioLib = null;
/** frontail's client as its page uses it: socket.io-client 2.3.1, websocket transport only. */
function openLib(i, attempt, onSettled) {
  ioLib ??= createRequire(import.meta.url)("socket.io-client");
  const target = new URL(cfg.url);
  const s = ioLib(`http://${target.host}/${cfg.ns}`, {
    transports: ["websocket"],
    forceNew: true,
    reconnection: false,
    timeout: cfg.handshakeTimeoutMs,
  });
  let settled = false;
  let wsock = null;
  const c = {
    terminate: () => s.close(),
    bytesRead: () => wsock?.bytesRead ?? 0,
  };
  conns[i] = c;
  const settle = () => {
    if (!settled) {
      settled = true;
      onSettled();
    }
  };
  s.on("connect", () => {
    const ws = s.io.engine?.transport?.ws;
    wsock = ws?._socket ?? null;
    ws?.on?.("message", (d) => {
      if (measuring) payload[i] += typeof d === "string" ? Buffer.byteLength(d) : d.length;
    });
    settle();
  });
  s.on("line", (str) => {
    const t = nowMs();
    markReady(i);
    count(msgTypes, "line");
    if (str.startsWith("seq=")) {
      const b = Buffer.from(str.slice(0, MARK_LEN + 1), "latin1");
      parseMarker(i, b, 0, t);
    }
  });
  const onFail = (err) => {
    count(errors, String(err?.message ?? err));
    if (!settled) {
      s.close();
      if (attempt < cfg.connectRetries) setTimeout(() => openLib(i, attempt + 1, onSettled), 100 * (attempt + 1));
      else {
        failed++;
        closed[i] = 1;
        settle();
      }
    }
  };
  s.on("connect_error", onFail);
  s.on("connect_timeout", onFail);
  s.on("disconnect", (reason) => {
    if (settled) onClosed(i, reason);
  });
}

function onClosed(i, code) {
  if (closed[i]) return;
  closed[i] = 1;
  count(closeCodes, String(code));
  if (!ready[i]) closedUnready++;
}

function connectAll() {
  const n = cfg.count;
  conns = new Array(n).fill(null);
  lastSeq = new Int32Array(n);
  lines = new Int32Array(n);
  ready = new Uint8Array(n);
  closed = new Uint8Array(n);
  payload = new Float64Array(n);
  wire0 = new Float64Array(n);
  wireEnd = new Float64Array(n);
  doneAt = new Float64Array(n).fill(NaN);
  const cpu0 = process.cpuUsage();
  const deadline = Date.now() + cfg.connectTimeoutMs;
  const open = cfg.proto === "sio-lib" ? openLib : openRaw;
  let next = 0;
  let inFlight = 0;
  // A slot frees when the client is ready (has the initial content) or failed:
  // bounds the initial contents in flight, not only the handshakes.
  const waiting = new Set();
  const pump = () => {
    while (inFlight < cfg.concurrency && next < n) {
      inFlight++;
      const i = next++;
      waiting.add(i);
      open(i, 0, () => {});
    }
  };
  pump();
  const timer = setInterval(() => {
    for (const i of waiting) {
      if (ready[i] || closed[i]) {
        waiting.delete(i);
        inFlight--;
      }
    }
    pump();
    const finished = readyCount + failed + closedUnready >= n;
    if (finished || Date.now() > deadline) {
      clearInterval(timer);
      cpuConnect = process.cpuUsage(cpu0);
      send({
        type: "connected",
        ready: readyCount,
        failed,
        closedUnready,
        timedOut: !finished,
        errors: Object.fromEntries(errors),
        cpu: cpuConnect,
      });
    }
  }, 20);
}

function status() {
  let done = 0;
  let open = 0;
  let linesSum = 0;
  for (let i = 0; i < lastSeq.length; i++) {
    if (!ready[i]) continue;
    linesSum += lines[i];
    if (!closed[i]) open++;
    if (lastSeq[i] >= target || closed[i]) done++;
  }
  return { type: "status", done, open, ready: readyCount, lines: linesSum };
}

function results() {
  const cpu = process.cpuUsage(cpuAtMeasure);
  for (let i = 0; i < conns.length; i++) wireEnd[i] = conns[i]?.bytesRead() ?? 0;
  const wire = new Float64Array(conns.length);
  for (let i = 0; i < conns.length; i++) wire[i] = wireEnd[i] - wire0[i];
  return {
    type: "result",
    ready: Uint8Array.from(ready),
    closed: Uint8Array.from(closed),
    lines: Int32Array.from(lines),
    lastSeq: Int32Array.from(lastSeq),
    payload,
    wire,
    doneAt,
    hist,
    latMax,
    dup,
    gaps,
    cpu,
    cpuConnect,
    msgTypes: Object.fromEntries(msgTypes),
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
    case "measure-start":
      // Lines seen so far (none: writes start after this) are forgotten.
      for (let i = 0; i < conns.length; i++) wire0[i] = conns[i]?.bytesRead() ?? 0;
      hist.fill(0);
      latMax = 0;
      dup = 0;
      gaps = 0;
      lines.fill(0);
      lastSeq.fill(0);
      payload.fill(0);
      measuring = true;
      cpuAtMeasure = process.cpuUsage();
      send({ type: "ack" });
      break;
    case "target":
      target = msg.seq;
      for (let i = 0; i < lastSeq.length; i++) if (lastSeq[i] >= target && Number.isNaN(doneAt[i])) doneAt[i] = -1;
      send({ type: "ack" });
      break;
    case "status":
      send(status());
      break;
    case "measure-end":
      measuring = false;
      send(results());
      break;
    case "close":
      for (const c of conns) c?.terminate();
      setTimeout(() => process.exit(0), 200);
      break;
  }
});
process.on("disconnect", () => process.exit(0));
setTimeout(() => process.exit(3), Number(process.env.BENCH_WORKER_MAX_MS ?? 1_800_000)).unref();
