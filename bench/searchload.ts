/**
 * Searches beside live viewers, and the memory of a viewed large file (issue
 * 24), in one run:
 *
 * 1. **Searches vs live viewers**: 1k viewers of a 10 MiB log growing 10
 *    lines/s for 30 s (the appends benchmark's cell A, filewatch.v1 in tail
 *    mode, the same load client: bench/append_client.mjs), once with nothing
 *    else running and once with 4 searches running without a pause in the
 *    same server (each a regular expression no literal can stand in for, so
 *    every line goes through the engine: the most CPU a search takes; from 4
 *    client addresses, as a trusted proxy says, since one address may run 2).
 *    The goal: the viewers' p99 latency with searches ≤ 1.5× without.
 * 2. **RSS of a viewed 4 GiB file**: the server's RSS idle on a 4 GiB log (in
 *    tail mode), then while it is viewed: a WebSocket viewer, the line index
 *    built, 100 `/lines` questions at positions all over the file, 10 `/time`
 *    questions, and a search of the whole file. The goal: the peak ≤ idle +
 *    64 MiB.
 *
 * ```sh
 * node_modules/.bin/deno run -A bench/searchload.ts                       # both parts, both runtimes, 1 rep
 * node_modules/.bin/deno run -A bench/searchload.ts --reps 3 --parts load # the load part, medians of 3
 * node_modules/.bin/deno run -A bench/searchload.ts --quick               # 50 viewers, 5 s, a 256 MiB file
 * # another tree of the server beside this one, in the same run (e.g. `git archive` of an older commit,
 * # with node_modules linked): RUNTIME@DIR
 * node_modules/.bin/deno run -A bench/searchload.ts --runtimes deno,bun,deno@/tmp/old,bun@/tmp/old
 * ```
 *
 * Servers, files and load clients are started and stopped here (SIGTERM,
 * then SIGKILL), also on failure and on Ctrl-C; only 127.0.0.1 is used. Each
 * run's server output goes to artifacts/bench-searchload/<stamp>/logs/, the
 * raw results to results.json; the summary is printed.
 * @module
 */
import { parseArgs } from "node:util";
import { cpuModel, firstLineOf, waitForQuiet } from "./_machine.ts";
import { interrupted, startServer, stopServersOnSignal } from "./_servers.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const DENO = `${ROOT}node_modules/.bin/deno`;
const BUN = `${ROOT}node_modules/.bin/bun`;
const STARTUP = /^filewatch: watching .* on http:\/\/(127\.0\.0\.1):(\d+)\/$/;
const LINE_LEN = 119;
const INITIAL_SIZE = Math.floor((10 * 1024 * 1024) / LINE_LEN) * LINE_LEN;
/** The search each loop runs again and again: every line goes through the regular-expression engine. */
const SEARCH = `search?q=${encodeURIComponent("[0-9]{7}[xy]")}&regex=1&limit=10000`;

const FLAGS = ["--port", "0", "--poll", "100ms", "--max-clients", "20000", "--max-clients-per-ip", "0"];
const COMMANDS: Record<string, string[]> = {
  deno: [DENO, "run", "--allow-net", "--allow-read", "--allow-env", "src/deno.ts", ...FLAGS],
  // The permission that lets Deno's search worker lower its priority, as Bun's does (src/search_pool.ts).
  "deno-sys": [
    DENO,
    "run",
    "--allow-net",
    "--allow-read",
    "--allow-env",
    "--allow-sys=setPriority",
    "src/deno.ts",
    ...FLAGS,
  ],
  bun: [BUN, "run", "src/bun.ts", ...FLAGS],
};

const { values: v } = parseArgs({
  args: Deno.args,
  options: {
    runtimes: { type: "string", default: "deno,bun" },
    parts: { type: "string", default: "load,rss" },
    reps: { type: "string", default: "1" },
    n: { type: "string" },
    rate: { type: "string", default: "10" },
    "duration-s": { type: "string" },
    searches: { type: "string", default: "4" },
    "rss-gib": { type: "string" },
    quick: { type: "boolean", default: false },
  },
});
const runtimes = v.runtimes.split(",");
/** A runtime's server command and the tree it runs in: `bun`, or `bun@DIR` for the server in DIR. */
function serverOf(runtime: string): { cmd: string[]; cwd: string } {
  const [name, dir] = runtime.split("@");
  const cmd = COMMANDS[name!];
  if (!cmd) throw new Error(`unknown runtime ${runtime}`);
  return { cmd, cwd: dir ?? ROOT };
}
const parts = v.parts.split(",");
const reps = Number(v.reps);
const N = Number(v.n ?? (v.quick ? 50 : 1000));
const RATE = Number(v.rate);
const DURATION_S = Number(v["duration-s"] ?? (v.quick ? 5 : 30));
const SEARCHES = Number(v.searches);
const RSS_BYTES = Number(v["rss-gib"] ?? (v.quick ? 0.25 : 4)) * 2 ** 30;
const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
const OUT = `${ROOT}artifacts/bench-searchload/${stamp}${v.quick ? "-quick" : ""}`;
await Deno.mkdir(`${OUT}/logs`, { recursive: true });
stopServersOnSignal("searchload");

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The appends benchmark's initial log: whole 119-byte lines. */
function initialContent(): Uint8Array {
  const out = new Uint8Array(INITIAL_SIZE);
  const enc = new TextEncoder();
  for (let i = 0; i < INITIAL_SIZE / LINE_LEN; i++) {
    const line = `pre=${String(i + 1).padStart(8, "0")} appended by the benchmark writer: lorem ipsum dolor sit amet ` +
      "consectetur adipiscing elit sed do eiusmod tempor incididunt";
    enc.encodeInto(line.slice(0, LINE_LEN - 1).padEnd(LINE_LEN - 1, ".") + "\n", out.subarray(i * LINE_LEN));
  }
  return out;
}

/** `count` searches run back to back until `stop()`, each from its own client address. */
function searchLoops(base: string, count: number) {
  let stopped = false;
  let done = 0;
  const controllers: AbortController[] = [];
  const loops = Array.from({ length: count }, async (_, k) => {
    while (!stopped) {
      const ac = new AbortController();
      controllers[k] = ac;
      try {
        const res = await fetch(base + SEARCH, {
          headers: { "X-Forwarded-For": `198.51.100.${k + 1}` },
          signal: ac.signal,
        });
        if (res.status !== 200) throw new Error(`search: ${res.status} ${await res.text()}`);
        await res.text();
        done++;
      } catch (e) {
        if (!stopped) throw e;
      }
    }
  });
  return {
    get done() {
      return done;
    },
    async stop() {
      stopped = true;
      for (const c of controllers) c?.abort();
      await Promise.allSettled(loops);
    },
  };
}

interface LoadRun {
  runtime: string;
  mode: "alone" | "searching";
  rep: number;
  p50: number;
  p99: number;
  max: number;
  complete: number;
  viewers: number;
  serverCores: number;
  searches: number;
  error?: string;
}

async function loadRun(runtime: string, mode: "alone" | "searching", rep: number, index: number): Promise<LoadRun> {
  const file = `${OUT}/log-${index}.txt`;
  await Deno.writeFile(file, initialContent());
  const { cmd: command, cwd } = serverOf(runtime);
  const cmd = [...command, "--tail", "64KiB", "--trust-proxy", "127.0.0.1", file];
  const srv = await startServer(cmd, {
    cwd,
    logPath: `${OUT}/logs/${index}-${runtime.replaceAll("/", "_")}-${mode}.log`,
    startupLine: STARTUP,
  });
  const record: LoadRun = {
    runtime,
    mode,
    rep,
    p50: NaN,
    p99: NaN,
    max: NaN,
    complete: 0,
    viewers: N,
    serverCores: NaN,
    searches: 0,
  };
  let loops: ReturnType<typeof searchLoops> | null = null;
  try {
    const m = await srv.startup(30_000);
    const base = `http://127.0.0.1:${m[2]}/`;
    await sleep(1000);
    if (mode === "searching") loops = searchLoops(base, SEARCHES);
    const out = await new Deno.Command("node", {
      args: [
        `${ROOT}bench/append_client.mjs`,
        ...["--proto", "fw-v1", "--url", `ws://127.0.0.1:${m[2]}/ws`, "--pid", String(srv.child.pid)],
        ...["--file", file, "--initial-size", String(INITIAL_SIZE), "--n", String(N), "--rate", String(RATE)],
        ...["--duration-s", String(DURATION_S), "--drain-s", "30", "--workers", "2", "--idle-s", "3"],
        ...["--settle-ms", "1000", "--early-s", "5"],
      ],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
      signal: AbortSignal.any([AbortSignal.timeout(600_000), interrupted.signal]),
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim();
    if (!out.success || !text) throw new Error(`load client failed (exit ${out.code})`);
    const r = JSON.parse(text.split("\n").pop()!).run;
    Object.assign(record, {
      p50: r.latencyMs.p50,
      p99: r.latencyMs.p99,
      max: r.latencyMs.max,
      complete: r.complete,
      serverCores: r.serverCores,
    });
  } catch (e) {
    record.error = (e as Error).message;
  } finally {
    if (loops) {
      record.searches = loops.done;
      await loops.stop();
    }
    await srv.stop();
    await Deno.remove(file).catch(() => {});
  }
  console.error(`searchload: ${JSON.stringify(record)}`);
  return record;
}

/** A log of `size` bytes written fast: a 1 MiB block of lines, each block stamped one second after the last. */
async function bigLog(path: string, size: number): Promise<void> {
  const BLOCK = 1 << 20;
  const enc = new TextEncoder();
  let text = "";
  for (let i = 0; text.length < BLOCK - 200; i++) {
    text += `2026-12-07THH:MM:SS.000Z INFO request=${String(i).padStart(6, "0")} took ${i % 997} ms ${
      "abcdefgh".repeat(i % 9)
    }\n`;
  }
  const block = enc.encode(text.padEnd(BLOCK - 1, "z") + "\n");
  const at: number[] = [];
  for (let i = block.indexOf(0x48); i >= 0; i = block.indexOf(0x48, i + 8)) {
    if (block[i + 1] === 0x48 && block[i + 2] === 0x3a) at.push(i);
  }
  const f = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    for (let b = 0; b * BLOCK < size; b++) {
      const hms = `${String(Math.floor(b / 3600) % 24).padStart(2, "0")}:${
        String(Math.floor(b / 60) % 60).padStart(2, "0")
      }:${String(b % 60).padStart(2, "0")}`;
      const stampBytes = enc.encode(hms);
      for (const p of at) block.set(stampBytes, p);
      let part = block.subarray(0, Math.min(BLOCK, size - b * BLOCK));
      while (part.length) part = part.subarray(await f.write(part));
    }
  } finally {
    f.close();
  }
}

/** VmRSS and VmHWM (peak) of a process, its RSS split into anonymous and file-backed pages, in bytes; its threads. */
async function mem(pid: number): Promise<{ rss: number; hwm: number; anon: number; file: number; threads: number }> {
  const s = await Deno.readTextFile(`/proc/${pid}/status`);
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(s)?.[1] ?? NaN) * 1024;
  return {
    rss: kb("VmRSS"),
    hwm: kb("VmHWM"),
    anon: kb("RssAnon"),
    file: kb("RssFile") + kb("RssShmem"),
    threads: Number(/^Threads:\s+(\d+)/m.exec(s)?.[1] ?? NaN),
  };
}

interface RssRun {
  runtime: string;
  idleMiB: number;
  peakMiB: number;
  endMiB: number;
  grewMiB: number;
  indexMs: number;
  linesMs: number;
  searchMs: number;
  /** RSS after each step (MiB): where the growth goes. */
  steps: { step: string; rssMiB: number; hwmMiB: number; anonMiB: number; fileMiB: number; threads: number }[];
  error?: string;
}

async function rssRun(runtime: string, file: string, index: number): Promise<RssRun> {
  const { cmd: command, cwd } = serverOf(runtime);
  const cmd = [...command, "--tail", "64KiB", file];
  const srv = await startServer(cmd, {
    cwd,
    logPath: `${OUT}/logs/${index}-${runtime.replaceAll("/", "_")}-rss.log`,
    startupLine: STARTUP,
  });
  const record: RssRun = {
    runtime,
    idleMiB: NaN,
    peakMiB: NaN,
    endMiB: NaN,
    grewMiB: NaN,
    indexMs: NaN,
    linesMs: NaN,
    searchMs: NaN,
    steps: [],
  };
  const MiB = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;
  const step = async (name: string, pid: number) => {
    const m = await mem(pid);
    record.steps.push({
      step: name,
      rssMiB: MiB(m.rss),
      hwmMiB: MiB(m.hwm),
      anonMiB: MiB(m.anon),
      fileMiB: MiB(m.file),
      threads: m.threads,
    });
  };
  let ws: WebSocket | null = null;
  try {
    const m = await srv.startup(30_000);
    const base = `http://127.0.0.1:${m[2]}/`;
    await sleep(2000);
    const pid = srv.child.pid;
    const idle = await mem(pid);
    record.idleMiB = MiB(idle.rss);
    await step("idle", pid);
    // A viewer, as the page keeps one.
    ws = new WebSocket(`ws://127.0.0.1:${m[2]}/ws`, ["filewatch.v1"]);
    await new Promise((r, j) => {
      ws!.onmessage = r;
      ws!.onerror = j;
    });
    const get = async (q: string) => {
      const r = await fetch(base + q);
      if (r.status !== 200) throw new Error(`${q}: ${r.status} ${await r.text()}`);
      return JSON.parse(await r.text());
    };
    let t = performance.now();
    let total: number | null = null;
    while (total === null) {
      total = (await get("lines?end=1&count=50")).total;
      if (total === null) await sleep(200);
    }
    record.indexMs = Math.round(performance.now() - t);
    await step("viewer + index", pid);
    t = performance.now();
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    for (let i = 0; i < 100; i++) {
      await get(
        i % 2
          ? `lines?line=${1 + Math.floor(rand() * total)}&count=100`
          : `lines?offset=${Math.floor(rand() * RSS_BYTES)}&count=100`,
      );
    }
    for (let i = 0; i < 10; i++) {
      const s = Math.floor(rand() * (RSS_BYTES / 2 ** 20));
      await get(
        `time?t=2026-12-07T${String(Math.floor(s / 3600) % 24).padStart(2, "0")}:${
          String(Math.floor(s / 60) % 60).padStart(2, "0")
        }:${String(s % 60).padStart(2, "0")}Z`,
      );
    }
    record.linesMs = Math.round(performance.now() - t);
    await step("100 /lines + 10 /time", pid);
    t = performance.now();
    const res = await fetch(base + "search?q=request%3D000999%20took&limit=1000");
    await res.text();
    record.searchMs = Math.round(performance.now() - t);
    await step("search", pid);
    const end = await mem(pid);
    record.peakMiB = MiB(end.hwm);
    record.endMiB = MiB(end.rss);
    record.grewMiB = MiB(end.hwm - idle.rss);
  } catch (e) {
    record.error = (e as Error).message;
  } finally {
    ws?.close();
    await srv.stop();
  }
  console.error(`searchload: ${JSON.stringify(record)}`);
  return record;
}

const load: LoadRun[] = [];
const rss: RssRun[] = [];
let index = 0;
const loadBefore = await waitForQuiet(10, 0.5);
if (parts.includes("load")) {
  for (let rep = 0; rep < reps; rep++) {
    for (const runtime of runtimes) {
      // Alternate which goes first, so a neighbour's load does not always fall on one.
      const modes = (rep + runtimes.indexOf(runtime)) % 2
        ? ["searching", "alone"] as const
        : ["alone", "searching"] as const;
      for (const mode of modes) {
        await waitForQuiet(10, 0.5);
        load.push(await loadRun(runtime, mode, rep, index++));
      }
    }
  }
}
if (parts.includes("rss")) {
  const file = `${OUT}/big.log`;
  console.error(`searchload: writing ${RSS_BYTES / 2 ** 30} GiB to ${file}`);
  await bigLog(file, RSS_BYTES);
  try {
    for (const runtime of runtimes) rss.push(await rssRun(runtime, file, index++));
  } finally {
    await Deno.remove(file).catch(() => {});
  }
}
await Deno.writeTextFile(`${OUT}/results.json`, JSON.stringify({ load, rss }, null, 2));

const machine =
  `${await cpuModel()}, ${navigator.hardwareConcurrency} cores shared with other work (busy cores before: ${loadBefore}); ` +
  `Deno ${(await firstLineOf(DENO, ["--version"])).replace(/^deno /, "").split(" ")[0]}, Bun ${await firstLineOf(BUN, [
    "--version",
  ])}`;
console.log(`${machine}\n`);
if (load.length) {
  console.log(
    `Searches vs live viewers: ${N} viewers (filewatch.v1, --tail 64KiB), ${RATE} lines/s for ${DURATION_S} s; ` +
      `${SEARCHES} searches running back to back in the second run. Medians of ${reps}.\n`,
  );
  console.log(
    "| runtime | viewers' latency alone: p50 / p99 / max | with 4 searches: p50 / p99 / max | p99 ratio (goal ≤ 1.5×) | searches done | complete viewers |",
  );
  console.log("| --- | --- | --- | --- | --- | --- |");
  for (const runtime of runtimes) {
    const of = (mode: string) => load.filter((r) => r.runtime === runtime && r.mode === mode && !r.error);
    const a = of("alone"), s = of("searching");
    if (!a.length || !s.length) {
      console.log(
        `| ${runtime} | failed: ${load.find((r) => r.runtime === runtime && r.error)?.error ?? "?"} | | | | |`,
      );
      continue;
    }
    const f = (rs: LoadRun[]) =>
      `${median(rs.map((r) => r.p50))} / ${median(rs.map((r) => r.p99))} / ${median(rs.map((r) => r.max))} ms`;
    const ratio = median(s.map((r) => r.p99)) / median(a.map((r) => r.p99));
    console.log(
      `| ${runtime} | ${f(a)} | ${f(s)} | ${ratio.toFixed(2)}× | ${median(s.map((r) => r.searches))} | ${
        median(a.map((r) => r.complete))
      } / ${median(s.map((r) => r.complete))} of ${N} |`,
    );
  }
  console.log("");
}
if (rss.length) {
  console.log(
    `RSS of a viewed ${
      RSS_BYTES / 2 ** 30
    } GiB log (--tail 64KiB): a viewer, the index, 100 /lines, 10 /time, a search of the whole file.\n`,
  );
  console.log(
    "| runtime | idle | peak (VmHWM) | after | peak − idle (goal ≤ 64 MiB) | index built | 100 /lines + 10 /time | search |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const r of rss) {
    console.log(
      r.error
        ? `| ${r.runtime} | failed: ${r.error} | | | | | | |`
        : `| ${r.runtime} | ${r.idleMiB} MiB | ${r.peakMiB} MiB | ${r.endMiB} MiB | ${r.grewMiB} MiB | ${
          (r.indexMs / 1000).toFixed(1)
        } s | ${(r.linesMs / 1000).toFixed(1)} s | ${(r.searchMs / 1000).toFixed(1)} s |`,
    );
  }
  console.log("\nAfter each step: RSS (anonymous + file-backed), the peak so far, threads.\n");
  console.log("| runtime | step | RSS | anonymous | file-backed | peak so far | threads |");
  console.log("| --- | --- | --- | --- | --- | --- | --- |");
  for (const r of rss) {
    for (const s of r.steps) {
      console.log(
        `| ${r.runtime} | ${s.step} | ${s.rssMiB} MiB | ${s.anonMiB} MiB | ${s.fileMiB} MiB | ${s.hwmMiB} MiB | ${s.threads} |`,
      );
    }
  }
}
console.error(`searchload: results in ${OUT}`);
