// Load client for one benchmark run against one running server.
//
//   node bench/client.mjs --url ws://127.0.0.1:PORT/ws --pid SERVER_PID \
//     --file FILE --size 1024 --n 1000 [--rounds 15] [--workers 2] [--paused 0.01]
//
// 1. Spreads N WebSocket clients over --workers processes (bench/client_worker.mjs),
//    opening them with bounded concurrency, and waits (bounded) until each has the
//    file's current content.
// 2. Idle: reads the server's CPU (/proc/PID/stat utime+stime) and RSS
//    (/proc/PID/status VmRSS) across --idle-s seconds.
// 3. R rounds: writes a new version of FILE (token "v=NNNNNNNN" on the first
//    line; write to FILE.tmp + rename, so the server never reads half a file),
//    waits until every healthy client has it (bounded by --round-timeout-s), then
//    a random gap so writes land at random phases of the server's poll.
// 4. Prints one JSON object on stdout: latencies write -> receipt (p50/p90/p99/max),
//    received/expected, server CPU per change, RSS, client CPU.
//
// --paused F makes a fraction F of the clients slow consumers: they stop reading
// from TCP (socket.pause()) once they have the first content, and are left out of
// "expected"; the server's RSS is sampled after every round, and --hold-s seconds
// after the last one (no writes), before the server's /metrics are read.
//
// Only 127.0.0.1 is accepted as the target. Every wait is bounded in time.
import { rename, writeFile } from "node:fs/promises";
import process from "node:process";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { childrenOf, cpuS, cpuSecondsOf, machineCpuS, memOf } from "./_proc.mjs";
import { forkWorker, stopWorkers } from "./_workers.mjs";

const { values: a } = parseArgs({
  options: {
    url: { type: "string" },
    pid: { type: "string" },
    file: { type: "string" },
    size: { type: "string", default: "1024" },
    n: { type: "string", default: "100" },
    rounds: { type: "string", default: "15" },
    workers: { type: "string", default: "2" },
    paused: { type: "string", default: "0" },
    "poll-ms": { type: "string", default: "100" },
    "idle-s": { type: "string", default: "5" },
    concurrency: { type: "string", default: "64" },
    "connect-timeout-s": { type: "string", default: "120" },
    "round-timeout-s": { type: "string", default: "15" },
    "settle-ms": { type: "string", default: "1000" },
    "hold-s": { type: "string", default: "0" },
    client: { type: "string", default: "raw" },
    // bench/workers.ts: loopback sources the worker processes connect from
    // (round robin), a fixed write interval, and the server's child processes
    // (its --workers) counted with it.
    sources: { type: "string", default: "" },
    "interval-ms": { type: "string", default: "0" },
    "with-children": { type: "boolean", default: false },
  },
});

function fail(msg) {
  process.stderr.write(`client: error: ${msg}\n`);
  process.exit(2);
}

const num = (name, min = 0) => {
  const v = Number(a[name]);
  if (!Number.isFinite(v) || v < min) fail(`Cannot parse --${name} "${a[name]}": expected a number >= ${min}`);
  return v;
};

if (!a.url || !a.pid || !a.file) fail("--url, --pid and --file are required");
const url = new URL(a.url);
if (url.hostname !== "127.0.0.1" || url.protocol !== "ws:") {
  fail(`Cannot load-test "${a.url}": only ws://127.0.0.1 is allowed`);
}
const pid = num("pid", 1);
const file = a.file;
const size = num("size", 16);
const N = num("n", 1);
const R = num("rounds", 1);
const W = Math.max(1, Math.min(num("workers", 1), N));
const pausedFraction = num("paused");
const pollMs = num("poll-ms");
const idleS = num("idle-s");
const roundTimeoutMs = num("round-timeout-s") * 1000;
const connectTimeoutMs = num("connect-timeout-s") * 1000;
const settleMs = num("settle-ms");
const holdS = num("hold-s");
if (a.client !== "raw" && a.client !== "ws") fail(`Cannot parse --client "${a.client}": expected raw or ws`);
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const log = (msg) => process.stderr.write(`client: ${msg}\n`);

const sources = a.sources.split(",").map((s) => s.trim()).filter(Boolean);
for (const s of sources) if (!/^127\.\d+\.\d+\.\d+$/.test(s)) fail(`Cannot use source "${s}": only 127.0.0.0/8`);
const intervalMs = num("interval-ms");
/** The server's processes: itself, and with --with-children its workers (children die and come back). */
const family = () => (a["with-children"] ? [pid, ...childrenOf(pid)] : [pid]);
/** Server CPU seconds (all threads, user + system; summed over the family). */
const serverCpuS = () => family().reduce((s, p) => s + cpuSecondsOf(p), 0);
/** Server VmRSS and VmHWM (KiB; summed over the family). */
const serverMem = () =>
  family().map(memOf).reduce((s, m) => ({ rssKiB: s.rssKiB + m.rssKiB, hwmKiB: s.hwmKiB + m.hwmKiB }), {
    rssKiB: 0,
    hwmKiB: 0,
  });

/**
 * filewatch's closes by reason, lagging and connected clients from GET /metrics
 * (a paused client never reads its close, so only the server can tell); null
 * where the server has no /metrics (the baselines).
 */
async function serverMetrics() {
  try {
    const r = await fetch(`http://127.0.0.1:${url.port}/metrics`, { signal: AbortSignal.timeout(5000) });
    if (!r.ok) return null;
    const text = await r.text();
    const closes = {};
    for (const m of text.matchAll(/^filewatch_closes_total\{reason="([^"]+)"\} (\d+)/gm)) closes[m[1]] = Number(m[2]);
    const one = (name) => Number(new RegExp(`^${name}(?:\\{\\})? (\\d+)`, "m").exec(text)?.[1] ?? NaN);
    return { closes, lagging: one("filewatch_lagging_clients"), clients: one("filewatch_clients") };
  } catch {
    return null;
  }
}

// --- content: "v=NNNNNNNN\n" + printable filler, exactly `size` bytes --------
const FILLER = (() => {
  const line = "the quick brown fox jumps over the lazy dog 0123456789 <&>\n";
  return Buffer.from(line.repeat(Math.ceil(size / line.length) + 1).slice(0, size));
})();
function content(token) {
  const b = Buffer.from(FILLER);
  b.write(`v=${String(token).padStart(8, "0")}\n`, 0, "latin1");
  return b;
}
async function writeVersion(token) {
  const tmp = `${file}.tmp`;
  await writeFile(tmp, content(token));
  await rename(tmp, file);
}

// --- workers --------------------------------------------------------------
const workers = [];
const shares = [];
{
  const pausedEvery = pausedFraction > 0 ? Math.max(1, Math.round(1 / pausedFraction)) : 0;
  let first = 0;
  for (let w = 0; w < W; w++) {
    const count = Math.floor(N / W) + (w < N % W ? 1 : 0);
    const paused = [];
    if (pausedEvery) {
      for (let i = 0; i < count; i++) if ((first + i) % pausedEvery === pausedEvery - 1) paused.push(i);
    }
    shares.push({ first, count, paused });
    first += count;
  }
}
const pausedTotal = shares.reduce((s, x) => s + x.paused.length, 0);

const startWorker = () => forkWorker(new URL("./client_worker.mjs", import.meta.url));

function pct(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round(sorted[i] * 100) / 100;
}
function dist(values) {
  const s = Float64Array.from(values).sort();
  return { p50: pct(s, 50), p90: pct(s, 90), p99: pct(s, 99), max: pct(s, 100), count: s.length };
}

async function main() {
  const out = { n: N, size, roundCount: R, workers: W, paused: pausedTotal, client: a.client, pid };
  await writeVersion(0);
  // Let the server see version 0 before anyone connects (it may have started on another file).
  await sleep(pollMs * 2 + 50);

  for (let w = 0; w < W; w++) workers.push(startWorker());
  const t0 = nowMs();
  const mach0 = machineCpuS();
  workers.forEach((wk, w) =>
    wk.send({
      cmd: "connect",
      url: url.href,
      count: shares[w].count,
      paused: shares[w].paused,
      size,
      rounds: R,
      concurrency: Math.max(1, Math.round(num("concurrency", 1) / W)),
      connectTimeoutMs,
      handshakeTimeoutMs: 15_000,
      connectRetries: 3,
      client: a.client,
      localAddress: sources.length ? sources[w % sources.length] : undefined,
    })
  );
  const conns = await Promise.all(workers.map((wk) => wk.next("connected", connectTimeoutMs + 10_000)));
  const ready = conns.reduce((s, c) => s + c.ready, 0);
  const errors = {};
  for (const c of conns) for (const [k, v] of Object.entries(c.errors)) errors[k] = (errors[k] ?? 0) + v;
  out.connect = {
    seconds: Math.round(nowMs() - t0) / 1000,
    ready,
    failed: conns.reduce((s, c) => s + c.failed + c.closedUnready, 0),
    timedOut: conns.some((c) => c.timedOut),
    errors,
    clientCpuS: Math.round(conns.reduce((s, c) => s + cpuS(c.cpu), 0) * 100) / 100,
    machineCpuS: Math.round((machineCpuS() - mach0) * 100) / 100,
  };
  log(`connected ${ready}/${N} in ${out.connect.seconds}s`);
  if (ready < N) log(`warning: only ${ready} of ${N} clients got the initial content (${JSON.stringify(errors)})`);

  // Idle: after the connection storm has settled.
  await sleep(settleMs);
  const memIdle0 = serverMem();
  const idleCpu0 = serverCpuS();
  const idleT0 = nowMs();
  await sleep(idleS * 1000);
  const idleCpu1 = serverCpuS();
  const idleWall = (nowMs() - idleT0) / 1000;
  const memIdle = serverMem();
  out.idle = {
    seconds: Math.round(idleWall * 100) / 100,
    cpuS: Math.round((idleCpu1 - idleCpu0) * 100) / 100,
    cpuPctOfCore: Math.round(((idleCpu1 - idleCpu0) / idleWall) * 10000) / 100,
    rssKiB: memIdle.rssKiB,
    rssKiBBefore: memIdle0.rssKiB,
    hwmKiB: memIdle.hwmKiB,
  };

  // Rounds.
  for (const wk of workers) wk.send({ cmd: "rounds-start" });
  await Promise.all(workers.map((wk) => wk.next("ack", 10_000)));
  const doneBy = new Map(); // round -> workers done
  for (const wk of workers) {
    wk.handlers.add((m) => {
      if (m.type === "done") doneBy.set(m.round, (doneBy.get(m.round) ?? 0) + 1);
    });
  }
  const tWrite = new Float64Array(R + 1).fill(NaN);
  const rssSeries = [];
  let timeouts = 0;
  const cpu0 = serverCpuS();
  const mach1 = machineCpuS();
  const self0 = process.cpuUsage();
  const roundsT0 = nowMs();
  for (let r = 1; r <= R; r++) {
    await writeVersion(r);
    tWrite[r] = nowMs();
    const deadline = tWrite[r] + roundTimeoutMs;
    while ((doneBy.get(r) ?? 0) < W && nowMs() < deadline) await sleep(2);
    if ((doneBy.get(r) ?? 0) < W) {
      timeouts++;
      log(`round ${r}: timed out after ${roundTimeoutMs} ms`);
    }
    rssSeries.push(serverMem().rssKiB);
    // Gap so the next write lands at phase (k + 0.5) / R of the server's poll
    // period, k = 0..R-1: every run samples the same phases, so latency
    // percentiles compare across runs instead of depending on R random draws.
    if (intervalMs > 0) await sleep(Math.max(0, tWrite[r] + intervalMs - nowMs()));
    else await sleep(30 + (((r * 7) % R + 0.5) / R) * pollMs);
  }
  const roundsWall = (nowMs() - roundsT0) / 1000;
  const cpu1 = serverCpuS();
  const mach2 = machineCpuS();
  const selfCpu = cpuS(process.cpuUsage(self0));
  // Hold: no more writes, clients stay as they are; watch the server's RSS
  // (a server that gives up on stuck clients after its write deadline should
  // shed their backlog here).
  const holdSeries = [];
  for (const end = nowMs() + holdS * 1000; nowMs() < end;) {
    await sleep(500);
    holdSeries.push(serverMem().rssKiB);
  }
  for (const wk of workers) wk.send({ cmd: "rounds-end" });
  const res = await Promise.all(workers.map((wk) => wk.next("result", 60_000)));
  await sleep(settleMs);
  const memAfter = serverMem();
  const metrics = await serverMetrics();

  // Latencies, per client, write -> receipt; healthy clients only.
  const lat = [];
  const fanout = []; // receipt - first receipt of that round: the server's fan-out time
  const firstRecv = new Float64Array(R + 1).fill(Infinity);
  let received = 0;
  let expected = 0;
  for (const x of res) {
    for (let i = 0; i < x.healthy.length; i++) {
      if (!x.healthy[i]) continue;
      for (let r = 1; r <= R; r++) {
        const t = x.recv[i * (R + 1) + r];
        if (!Number.isNaN(t) && t < firstRecv[r]) firstRecv[r] = t;
      }
    }
  }
  for (const x of res) {
    for (let i = 0; i < x.healthy.length; i++) {
      if (!x.healthy[i]) continue;
      for (let r = 1; r <= R; r++) {
        expected++;
        const t = x.recv[i * (R + 1) + r];
        if (Number.isNaN(t)) continue;
        received++;
        lat.push(t - tWrite[r]);
        fanout.push(t - firstRecv[r]);
      }
    }
  }
  const clientCpu = res.reduce((s, x) => s + cpuS(x.cpu), 0) + selfCpu;
  const serverCpu = cpu1 - cpu0;
  const machine = mach2 - mach1;
  const closeCodes = {};
  for (const x of res) for (const [k, v] of Object.entries(x.closeCodes)) closeCodes[k] = (closeCodes[k] ?? 0) + v;
  out.rounds = {
    wallS: Math.round(roundsWall * 100) / 100,
    received,
    expected,
    receivedPct: expected ? Math.round((received / expected) * 10000) / 100 : null,
    timeouts,
    dup: res.reduce((s, x) => s + x.dup, 0),
    bad: res.reduce((s, x) => s + x.bad, 0),
    skipped: res.reduce((s, x) => s + x.skipped, 0),
    latencyMs: dist(lat),
    fanoutMs: dist(fanout),
    serverCpuS: Math.round(serverCpu * 100) / 100,
    cpuPerChangeS: Math.round((serverCpu / R) * 10000) / 10000,
    clientCpuS: Math.round(clientCpu * 100) / 100,
    clientCpuPerChangeS: Math.round((clientCpu / R) * 10000) / 10000,
    clientSysCpuS: Math.round(res.reduce((s, x) => s + x.cpu.system / 1e6, 0) * 100) / 100,
    // Share of the machine's cores (all of them) each party used during the rounds.
    serverCoresUsed: Math.round((serverCpu / roundsWall) * 100) / 100,
    clientCoresUsed: Math.round((clientCpu / roundsWall) * 100) / 100,
    otherCoresUsed: Math.round(((machine - serverCpu - clientCpu) / roundsWall) * 100) / 100,
    rssKiB: memAfter.rssKiB,
    hwmKiB: memAfter.hwmKiB,
    rssSeriesKiB: rssSeries,
    holdSeriesKiB: holdSeries,
    closeCodes,
    pausedClosed: res.reduce((s, x) => s + x.pausedClosed, 0),
    // The server's own view where it has one (filewatch's /metrics; the baselines have none).
    serverMetrics: metrics,
    clientRssKiB: res.map((x) => x.memRssKiB),
  };
  log(
    `rounds: ${received}/${expected} received, p50 ${out.rounds.latencyMs.p50} ms, p99 ${out.rounds.latencyMs.p99} ms, ` +
      `${out.rounds.cpuPerChangeS} server CPU-s/change, RSS ${memAfter.rssKiB} KiB`,
  );
  return out;
}

let exitCode = 0;
const hardStop = setTimeout(() => {
  log("error: run exceeded its time budget");
  for (const wk of workers) wk.child.kill("SIGKILL");
  process.exit(4);
}, connectTimeoutMs + 60_000 + (idleS * 1000) + R * (roundTimeoutMs + pollMs + 100) + 120_000);
try {
  const out = await main();
  process.stdout.write(JSON.stringify(out) + "\n");
} catch (err) {
  log(`error: ${err?.stack ?? err}`);
  exitCode = 1;
} finally {
  await stopWorkers(workers);
  clearTimeout(hardStop);
}
process.exit(exitCode);
