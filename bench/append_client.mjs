// Load client for one appends-benchmark run against one running server
// (bench/appends.ts starts it; workers: bench/append_worker.mjs).
//
//   node bench/append_client.mjs --proto fw-v1|fw-bin|fw-plain|sio-raw|sio-lib --url ws://127.0.0.1:PORT/ws \
//     --pid SERVER_PID --file FILE --initial-size BYTES --n 1000 --rate 10 --duration-s 30 [--ns NAMESPACE]
//
// 1. Server RSS idle (before any client), then N viewers over --workers processes,
//    opened with bounded concurrency; each must hold the initial view (filewatch:
//    its first content; frontail: its first "line", the one it buffers with -n 1).
// 2. Settle, then RSS with N viewers and idle CPU over --idle-s.
// 3. Writes: one 119-byte line (newline included) every 1000/rate ms through an
//    O_APPEND file descriptor, one write(2) per line, for --duration-s; the line
//    starts "seq=NNNNNNNN t=<CLOCK_MONOTONIC ms>". Server CPU (/proc/PID/stat,
//    plus its child processes: frontail's `tail -F`) and RSS once a second.
// 4. Drain: wait (at most --drain-s) until every open viewer has the last line.
// 5. One JSON object on stdout: latency write -> viewer per line and viewer,
//    lines per viewer vs lines written, bytes received per line per viewer (WebSocket
//    payload, and on the wire: TCP bytes read, frame headers included), server CPU
//    per line and in cores, RSS idle / with viewers / at --early-s / at the end,
//    filewatch's /metrics.
//
// Only 127.0.0.1 is accepted. Every wait is bounded.
import { closeSync, openSync, writeSync } from "node:fs";
import process from "node:process";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { childrenOf, cpuS, cpuSecondsOf, machineCpuS, memOf } from "./_proc.mjs";
import { forkWorker, stopWorkers } from "./_workers.mjs";

const { values: a } = parseArgs({
  options: {
    proto: { type: "string" },
    url: { type: "string" },
    ns: { type: "string", default: "" },
    pid: { type: "string" },
    file: { type: "string" },
    "initial-size": { type: "string" },
    n: { type: "string", default: "100" },
    rate: { type: "string", default: "10" },
    "duration-s": { type: "string", default: "30" },
    workers: { type: "string", default: "2" },
    "idle-s": { type: "string", default: "3" },
    "settle-ms": { type: "string", default: "1000" },
    "early-s": { type: "string", default: "5" },
    "drain-s": { type: "string", default: "30" },
    concurrency: { type: "string", default: "64" },
    "connect-timeout-s": { type: "string", default: "300" },
  },
});

function fail(msg) {
  process.stderr.write(`append_client: error: ${msg}\n`);
  process.exit(2);
}
const num = (name, min = 0) => {
  const v = Number(a[name]);
  if (!Number.isFinite(v) || v < min) fail(`Cannot parse --${name} "${a[name]}": expected a number >= ${min}`);
  return v;
};
const PROTOS = ["fw-v1", "fw-bin", "fw-plain", "sio-raw", "sio-lib"];
if (!PROTOS.includes(a.proto)) fail(`Cannot parse --proto "${a.proto}": expected one of ${PROTOS.join(", ")}`);
if (!a.url || !a.pid || !a.file || !a["initial-size"]) fail("--url, --pid, --file and --initial-size are required");
const url = new URL(a.url);
if (url.hostname !== "127.0.0.1") fail(`Cannot load-test "${a.url}": only 127.0.0.1 is allowed`);
if (a.proto.startsWith("sio") && !a.ns) fail("--ns (frontail's namespace) is required for socket.io");
const pid = num("pid", 1);
const N = num("n", 1);
const W = Math.max(1, Math.min(num("workers", 1), N));
const rate = num("rate", 0.1);
const durationS = num("duration-s", 0.1);
const idleS = num("idle-s");
const settleMs = num("settle-ms");
const earlyS = num("early-s");
const drainMs = num("drain-s") * 1000;
const connectTimeoutMs = num("connect-timeout-s") * 1000;
const initialSize = num("initial-size", 1024);
const TOTAL = Math.round(rate * durationS);
const LINE_LEN = 119;

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const log = (msg) => process.stderr.write(`append_client: ${msg}\n`);
const r2 = (x) => Math.round(x * 100) / 100;

/** CPU seconds (user + system, all threads) of one process, or 0 when it is gone. */
function cpuOf(p) {
  try {
    return cpuSecondsOf(p);
  } catch {
    return 0;
  }
}
const helpers = () => childrenOf(pid);
function cpuNow() {
  return { server: cpuOf(pid), helpers: helpers().reduce((s, c) => s + cpuOf(c), 0) };
}
const serverMem = () => memOf(pid);

/** filewatch's /metrics (null for frontail). */
async function serverMetrics() {
  if (!a.proto.startsWith("fw")) return null;
  try {
    const r = await fetch(`http://127.0.0.1:${url.port}/metrics`, { signal: AbortSignal.timeout(5000) });
    if (!r.ok) return null;
    const out = {};
    for (const line of (await r.text()).split("\n")) {
      const m = /^(filewatch_[a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$/.exec(line);
      if (m) out[m[1]] = Number(m[2]);
    }
    return out;
  } catch {
    return null;
  }
}

// --- the lines ---------------------------------------------------------------
const FILLER = "appended by the benchmark writer: lorem ipsum dolor sit amet, consectetur adipiscing elit, " +
  "sed do eiusmod tempor incididunt ut labore et dolore magna aliqua";
/** Line `seq` written at `t` (ms, CLOCK_MONOTONIC): exactly LINE_LEN bytes, newline included. */
function line(seq, t) {
  const head = `seq=${String(seq).padStart(8, "0")} t=${t.toFixed(3).padStart(15, "0")} `;
  return Buffer.from((head + FILLER).slice(0, LINE_LEN - 1) + "\n", "latin1");
}

// --- workers -----------------------------------------------------------------
const workers = [];
const startWorker = () => forkWorker(new URL("./append_worker.mjs", import.meta.url));
const ask = (cmd, type, ms, extra = {}) =>
  Promise.all(workers.map((wk) => (wk.send({ cmd, ...extra }), wk.next(type, ms))));

function pctFromHist(hist, total, p) {
  if (total === 0) return null;
  const want = Math.ceil((p / 100) * total);
  let acc = 0;
  for (let b = 0; b < hist.length; b++) {
    acc += hist[b];
    if (acc >= want) return (b + 1) / 10; // upper edge of the 0.1 ms bucket
  }
  return null;
}

async function main() {
  const out = { proto: a.proto, n: N, rate, durationS, linesWritten: TOTAL, lineBytes: LINE_LEN, initialSize, pid };
  out.rssIdleBeforeKiB = serverMem().rssKiB;
  out.helperPids = helpers();

  for (let w = 0; w < W; w++) workers.push(startWorker());
  const t0 = nowMs();
  workers.forEach((wk, w) =>
    wk.send({
      cmd: "connect",
      proto: a.proto,
      url: url.href,
      ns: a.ns,
      initialSize,
      count: Math.floor(N / W) + (w < N % W ? 1 : 0),
      concurrency: Math.max(1, Math.round(num("concurrency", 1) / W)),
      connectTimeoutMs,
      handshakeTimeoutMs: 20_000,
      connectRetries: 3,
    })
  );
  const conns = await Promise.all(workers.map((wk) => wk.next("connected", connectTimeoutMs + 10_000)));
  const ready = conns.reduce((s, c) => s + c.ready, 0);
  const errors = {};
  for (const c of conns) for (const [k, v] of Object.entries(c.errors)) errors[k] = (errors[k] ?? 0) + v;
  out.connect = {
    seconds: r2((nowMs() - t0) / 1000),
    ready,
    failed: conns.reduce((s, c) => s + c.failed + c.closedUnready, 0),
    timedOut: conns.some((c) => c.timedOut),
    errors,
    clientCpuS: r2(conns.reduce((s, c) => s + cpuS(c.cpu), 0)),
  };
  log(`connected ${ready}/${N} in ${out.connect.seconds}s`);

  await sleep(settleMs);
  const idleC0 = cpuNow();
  const idleT0 = nowMs();
  await sleep(idleS * 1000);
  const idleC1 = cpuNow();
  const idleWall = (nowMs() - idleT0) / 1000;
  const memConn = serverMem();
  out.idle = {
    seconds: r2(idleWall),
    cpuPctOfCore: r2(((idleC1.server - idleC0.server) / idleWall) * 100),
    rssKiB: memConn.rssKiB,
    rssPerConnKiB: ready ? r2((memConn.rssKiB - out.rssIdleBeforeKiB) / ready) : null,
  };

  // Writes.
  await ask("measure-start", "ack", 10_000);
  const fd = openSync(a.file, "a");
  const rss = [];
  let rssEarly = null;
  const c0 = cpuNow();
  const m0 = machineCpuS();
  const self0 = process.cpuUsage();
  const w0 = nowMs();
  let late = 0;
  let nextSample = w0 + 1000;
  try {
    for (let k = 1; k <= TOTAL; k++) {
      const due = w0 + ((k - 1) * 1000) / rate;
      for (let now = nowMs(); now < due - 0.5; now = nowMs()) await sleep(Math.max(0, due - now - 0.5));
      const t = nowMs();
      if (t - due > 20) late++;
      writeSync(fd, line(k, t));
      if (t >= nextSample) {
        const m = serverMem().rssKiB;
        rss.push(m);
        if (rssEarly === null && t - w0 >= earlyS * 1000) rssEarly = m;
        nextSample += 1000;
      }
    }
  } finally {
    closeSync(fd);
  }
  const w1 = nowMs();
  const c1 = cpuNow();
  const m1 = machineCpuS();
  const writeWall = (w1 - w0) / 1000;

  // Drain: every open viewer has the last line, or the deadline.
  await ask("target", "ack", 10_000, { seq: TOTAL });
  let st = [];
  const drainEnd = w1 + drainMs;
  for (;;) {
    st = await ask("status", "status", 10_000);
    const done = st.reduce((s, x) => s + x.done, 0);
    const rd = st.reduce((s, x) => s + x.ready, 0);
    if (done >= rd || nowMs() > drainEnd) break;
    await sleep(100);
  }
  const d1 = nowMs();
  const c2 = cpuNow();
  const m2 = machineCpuS();
  const selfCpu = cpuS(process.cpuUsage(self0));
  const res = await ask("measure-end", "result", 60_000);
  const memEnd = serverMem();
  const metrics = await serverMetrics();

  // Merge.
  const hist = new Float64Array(res[0].hist.length);
  let samples = 0;
  for (const x of res) {
    for (let b = 0; b < hist.length; b++) hist[b] += x.hist[b];
  }
  for (let b = 0; b < hist.length; b++) samples += hist[b];
  let viewers = 0; // ready at the start of the writes
  let complete = 0; // have every line written, in order, none twice
  let closedCount = 0;
  let minLines = Infinity;
  let linesSum = 0;
  let payloadSum = 0;
  let wireSum = 0;
  for (const x of res) {
    for (let i = 0; i < x.ready.length; i++) {
      if (!x.ready[i]) continue;
      viewers++;
      if (x.closed[i]) closedCount++;
      linesSum += x.lines[i];
      minLines = Math.min(minLines, x.lines[i]);
      if (x.lines[i] === TOTAL && x.lastSeq[i] === TOTAL) complete++;
      payloadSum += x.payload[i];
      wireSum += x.wire[i];
    }
  }
  const sum = (k) => res.reduce((s, x) => s + x[k], 0);
  const merge = (k) => {
    const o = {};
    for (const x of res) for (const [kk, v] of Object.entries(x[k])) o[kk] = (o[kk] ?? 0) + v;
    return o;
  };
  const clientCpu = res.reduce((s, x) => s + cpuS(x.cpu), 0) + selfCpu;
  const serverWrite = c1.server - c0.server;
  const serverAll = c2.server - c0.server;
  const delivered = viewers * TOTAL;
  out.run = {
    writeWallS: r2(writeWall),
    drainS: r2((d1 - w1) / 1000),
    drained: st.reduce((s, x) => s + x.done, 0) >= st.reduce((s, x) => s + x.ready, 0),
    lateWrites: late,
    viewers,
    complete,
    closed: closedCount,
    minLines: Number.isFinite(minLines) ? minLines : null,
    linesReceivedPct: delivered ? r2((linesSum / delivered) * 100) : null,
    dup: sum("dup"),
    gaps: sum("gaps"),
    latencyMs: {
      p50: pctFromHist(hist, samples, 50),
      p90: pctFromHist(hist, samples, 90),
      p99: pctFromHist(hist, samples, 99),
      max: r2(Math.max(...res.map((x) => x.latMax))),
      count: samples,
    },
    // Bytes each viewer received while the lines were written and drained, per line written.
    payloadPerLinePerViewer: delivered ? r2(payloadSum / delivered) : null,
    wirePerLinePerViewer: delivered ? r2(wireSum / delivered) : null,
    serverCpuWriteS: r2(serverWrite),
    serverCpuS: r2(serverAll),
    cpuPerLineMs: r2((serverAll / TOTAL) * 1000 * 100) / 100,
    serverCores: r2(serverWrite / writeWall),
    helperCpuS: r2(c2.helpers - c0.helpers),
    clientCpuS: r2(clientCpu),
    clientCores: r2(clientCpu / ((d1 - w0) / 1000)),
    machineCores: r2((m2 - m0) / ((d1 - w0) / 1000)),
    machineCoresWrite: r2((m1 - m0) / writeWall),
    rssEarlyKiB: rssEarly ?? rss.at(-1) ?? null,
    rssEndKiB: memEnd.rssKiB,
    hwmKiB: memEnd.hwmKiB,
    rssSeriesKiB: rss,
    msgTypes: merge("msgTypes"),
    closeCodes: merge("closeCodes"),
    errors: merge("errors"),
    clientRssKiB: res.map((x) => x.memRssKiB),
    serverMetrics: metrics,
  };
  log(
    `${out.run.complete}/${viewers} viewers complete, p50 ${out.run.latencyMs.p50} ms p99 ${out.run.latencyMs.p99} ms, ` +
      `${out.run.cpuPerLineMs} ms CPU/line, ${out.run.wirePerLinePerViewer} B/line/viewer, ` +
      `RSS ${out.rssIdleBeforeKiB}->${memConn.rssKiB}->${memEnd.rssKiB} KiB`,
  );
  return out;
}

let exitCode = 0;
const hardStop = setTimeout(() => {
  log("error: run exceeded its time budget");
  for (const wk of workers) wk.child.kill("SIGKILL");
  process.exit(4);
}, connectTimeoutMs + 60_000 + idleS * 1000 + durationS * 2000 + drainMs + 120_000);
try {
  process.stdout.write(JSON.stringify(await main()) + "\n");
} catch (err) {
  log(`error: ${err?.stack ?? err}`);
  exitCode = 1;
} finally {
  await stopWorkers(workers);
  clearTimeout(hardStop);
}
process.exit(exitCode);
