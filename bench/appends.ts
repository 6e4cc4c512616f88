/**
 * Appends benchmark (issue 11): a 10 MiB log growing by one 119-byte line
 * every X ms, watched by N viewers, on filewatch (Deno, Bun; filewatch.v1,
 * filewatch.bin.v1 and plain), on the bare baselines in tail mode, and on
 * frontail 4.9.2 (the comparison), in the same run.
 *
 * ```sh
 * node_modules/.bin/deno run -A bench/appends.ts --quick            # smoke run, < 2 minutes
 * node_modules/.bin/deno run -A bench/appends.ts                    # cells A, B, C x 3 reps
 * node_modules/.bin/deno run -A bench/appends.ts --cells A --reps 1 --servers frontail,fw-bun-v1
 * node_modules/.bin/deno run -A bench/appends.ts --report artifacts/bench-appends/<stamp>/results.json
 * ```
 *
 * Cells: A = 1k viewers, 10 lines/s, 30 s; B = 5k viewers, 100 lines/s, 30 s;
 * C = filewatch without appends (plain, no tail: the whole file per version),
 * 100 viewers, 10 lines/s, 10 s. Each cell runs its servers back to back, in an
 * order that rotates per repetition. The load client is bench/append_client.mjs
 * (Node; workers bench/append_worker.mjs). Raw results go to
 * artifacts/bench-appends/<stamp>/results.json, the summary next to it.
 *
 * Every process started here is stopped here (SIGTERM, then SIGKILL), also on
 * failure and on Ctrl-C. Only 127.0.0.1 is used.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { parseArgs } from "node:util";
import { renderAppendsSummary } from "./_appends_report.ts";
import { cpuModel, firstLineOf, waitForQuiet } from "./_machine.ts";
import { finishResults, saveResults } from "./_results.ts";
import { interrupted, startServer, stopServersOnSignal } from "./_servers.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const DENO = `${ROOT}node_modules/.bin/deno`;
const BUN = `${ROOT}node_modules/.bin/bun`;
const NODE = "node";
const LINE_LEN = 119;
const INITIAL_SIZE = Math.floor((10 * 1024 * 1024) / LINE_LEN) * LINE_LEN; // 10 MiB of whole 119-byte lines

const FW_FLAGS = [
  "--port",
  "0",
  "--poll",
  "100ms",
  "--max-clients",
  "20000",
  "--max-clients-per-ip",
  "0",
  "--max-file-size",
  "64MiB",
];
const DENO_RUN = [DENO, "run", "--allow-net", "--allow-read", "--allow-env"];
/** The bare baselines as the appends benchmark runs them: filewatch's poll, the same window as `--tail 64KiB`. */
const BASE_FLAGS = ["--port", "0", "--poll", "100ms", "--tail", "65536"];

/** A server: its command (PORT is replaced, FILE appended) and the protocol its viewers speak. */
interface ServerSpec {
  cmd: string[];
  proto: "fw-v1" | "fw-bin" | "fw-plain" | "sio-raw" | "sio-lib";
  /** Needs `--tail` in filewatch (the append work). */
  tail?: boolean;
}

const FRONTAIL = [
  NODE,
  "node_modules/frontail/bin/frontail",
  "--host",
  "127.0.0.1",
  "--port",
  "PORT",
  "-n",
  "1",
  // frontail sends usage statistics to Google Analytics (lib/stats.js, universal-analytics) unless this is given.
  "--disable-usage-stats",
];
const SERVERS: Record<string, ServerSpec> = {
  frontail: { cmd: FRONTAIL, proto: "sio-raw" },
  // The same server, its viewers on the socket.io-client 2.3.1 package instead of the raw parser.
  "frontail-lib": { cmd: FRONTAIL, proto: "sio-lib" },
  "fw-deno-v1": { cmd: [...DENO_RUN, "src/deno.ts", ...FW_FLAGS], proto: "fw-v1" },
  "fw-bun-v1": { cmd: [BUN, "run", "src/bun.ts", ...FW_FLAGS], proto: "fw-v1" },
  // filewatch.v1 in tail mode: the 64 KiB window on connect instead of the whole 10 MiB, then appends.
  "fw-deno-v1-tail": { cmd: [...DENO_RUN, "src/deno.ts", ...FW_FLAGS, "--tail", "64KiB"], proto: "fw-v1", tail: true },
  "fw-bun-v1-tail": { cmd: [BUN, "run", "src/bun.ts", ...FW_FLAGS, "--tail", "64KiB"], proto: "fw-v1", tail: true },
  "fw-deno-tail": { cmd: [...DENO_RUN, "src/deno.ts", ...FW_FLAGS, "--tail", "64KiB"], proto: "fw-plain", tail: true },
  "fw-bun-tail": { cmd: [BUN, "run", "src/bun.ts", ...FW_FLAGS, "--tail", "64KiB"], proto: "fw-plain", tail: true },
  // filewatch.bin.v1, the page's format (issue 27): the whole file on connect, or the tail window.
  "fw-deno-bin": { cmd: [...DENO_RUN, "src/deno.ts", ...FW_FLAGS], proto: "fw-bin" },
  "fw-bun-bin": { cmd: [BUN, "run", "src/bun.ts", ...FW_FLAGS], proto: "fw-bin" },
  "fw-deno-bin-tail": {
    cmd: [...DENO_RUN, "src/deno.ts", ...FW_FLAGS, "--tail", "64KiB"],
    proto: "fw-bin",
    tail: true,
  },
  "fw-bun-bin-tail": { cmd: [BUN, "run", "src/bun.ts", ...FW_FLAGS, "--tail", "64KiB"], proto: "fw-bin", tail: true },
  // The bare servers (bench/baseline/) in tail mode: the 64 KiB window on connect, then each append's bytes.
  // With what filewatch does for Deno's sends (DENO_USE_WRITEV, batches of 256), as bench/conn_memory.ts's base-deno.
  "base-deno-tail": {
    cmd: [...DENO_RUN, "bench/baseline/deno.ts", ...BASE_FLAGS, "--writev-env", "--batch", "256"],
    proto: "fw-plain",
  },
  "base-bun-tail": { cmd: [BUN, "run", "bench/baseline/bun.ts", ...BASE_FLAGS], proto: "fw-plain" },
  "fw-deno-whole": { cmd: [...DENO_RUN, "src/deno.ts", ...FW_FLAGS], proto: "fw-plain" },
  "fw-bun-whole": { cmd: [BUN, "run", "src/bun.ts", ...FW_FLAGS], proto: "fw-plain" },
};

interface CellSpec {
  n: number;
  rate: number;
  durationS: number;
  drainS: number;
  servers: string[];
}
const CELLS: Record<string, CellSpec> = {
  A: {
    n: 1000,
    rate: 10,
    durationS: 30,
    drainS: 30,
    // The page's format against filewatch.v1 in tail mode (the whole 10 MiB on connect is fw-*-v1 / fw-*-bin,
    // runnable with --servers), and the bare servers holding the same sockets (issue 27).
    servers: [
      "frontail",
      "fw-deno-v1-tail",
      "fw-bun-v1-tail",
      "fw-deno-bin-tail",
      "fw-bun-bin-tail",
      "base-deno-tail",
      "base-bun-tail",
    ],
  },
  // v1 in tail mode: 5k viewers each sent the whole 10 MiB on connect is 50 GB before the first line
  // (1k took 33-43 s to connect): fw-deno-v1 / fw-bun-v1 are runnable here with --servers.
  B: {
    n: 5000,
    rate: 100,
    durationS: 30,
    drainS: 60,
    servers: ["frontail", "fw-deno-bin-tail", "fw-bun-bin-tail", "fw-deno-v1-tail", "fw-bun-v1-tail"],
  },
  C: { n: 100, rate: 10, durationS: 10, drainS: 20, servers: ["fw-deno-whole", "fw-bun-whole"] },
};
/** --quick: small N, short, fewer servers; the whole smoke run takes < 2 minutes. */
const QUICK: Record<string, Partial<CellSpec>> = {
  A: {
    n: 20,
    durationS: 2,
    drainS: 3,
    servers: ["frontail", "fw-deno-v1", "fw-bun-v1", "fw-deno-tail", "fw-bun-tail"],
  },
  B: { n: 50, rate: 50, durationS: 2, drainS: 3 },
  C: { n: 5, durationS: 2, drainS: 3, servers: ["fw-bun-whole"] },
};

const USAGE = `usage: deno run -A bench/appends.ts [--quick] [--cells A,B,C] [--reps 3] [--servers LIST]
  [--n N] [--rate LINES_PER_S] [--duration-s S]   (override every selected cell's)
  [--fw-args="--tail 4KiB"]                        (appended to every filewatch command)
  [--workers 2] [--idle-s 3] [--settle-ms 1000] [--quiet-wait-s 10] [--quiet-cores 0.5] [--out DIR] [--dry-run]
  [--report results.json]
servers: ${Object.keys(SERVERS).join(", ")} (default: each cell's list; --servers replaces it)`;

interface Config {
  quick: boolean;
  cells: string[];
  reps: number;
  servers: string[] | null;
  overrides: Partial<CellSpec>;
  /** Extra flags for every filewatch server (e.g. "--tail 4KiB" to see what the window costs). */
  fwArgs: string[];
  workers: number;
  idleS: number;
  settleMs: number;
  quietWaitS: number;
  quietCores: number;
  out: string;
  dryRun: boolean;
}

function parseConfig(args: string[]): Config | { report: string } {
  const { values: v } = parseArgs({
    args,
    options: {
      quick: { type: "boolean", default: false },
      cells: { type: "string" },
      reps: { type: "string" },
      servers: { type: "string" },
      workers: { type: "string", default: "2" },
      "idle-s": { type: "string" },
      "settle-ms": { type: "string" },
      "quiet-wait-s": { type: "string" },
      "quiet-cores": { type: "string", default: "0.5" },
      out: { type: "string" },
      report: { type: "string" },
      "dry-run": { type: "boolean", default: false },
      "fw-args": { type: "string", default: "" },
      n: { type: "string" },
      rate: { type: "string" },
      "duration-s": { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (v.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  if (v.report) return { report: v.report };
  const q = v.quick;
  const int = (name: string, text: string | undefined, dflt: number, min = 0): number => {
    const n = text === undefined ? dflt : Number(text);
    if (!Number.isInteger(n) || n < min) {
      throw new RangeError(`Cannot parse --${name} "${text}": expected an integer >= ${min}`);
    }
    return n;
  };
  const cells = (v.cells ?? "A,B,C").split(",").map((s) => s.trim().toUpperCase()).filter((s) => s);
  for (const c of cells) if (!CELLS[c]) throw new TypeError(`Cannot parse --cells "${c}": expected A, B or C`);
  const servers = v.servers ? v.servers.split(",").map((s) => s.trim()).filter((s) => s) : null;
  for (const s of servers ?? []) {
    if (!SERVERS[s]) {
      throw new TypeError(`Cannot parse --servers "${s}": expected one of ${Object.keys(SERVERS).join(", ")}`);
    }
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
  return {
    quick: q,
    cells,
    reps: int("reps", v.reps, q ? 1 : 3, 1),
    servers,
    overrides: {
      ...(v.n ? { n: int("n", v.n, 0, 1) } : {}),
      ...(v.rate ? { rate: Number(v.rate) } : {}),
      ...(v["duration-s"] ? { durationS: Number(v["duration-s"]) } : {}),
    },
    fwArgs: v["fw-args"].split(/\s+/).filter((x) => x !== ""),
    workers: int("workers", v.workers, 2, 1),
    idleS: int("idle-s", v["idle-s"], q ? 1 : 3),
    settleMs: int("settle-ms", v["settle-ms"], q ? 300 : 1000),
    quietWaitS: int("quiet-wait-s", v["quiet-wait-s"], q ? 0 : 10),
    quietCores: Number(v["quiet-cores"]),
    out: v.out ?? `${ROOT}artifacts/bench-appends/${stamp}${q ? "-quick" : ""}`,
    dryRun: v["dry-run"],
  };
}

function cellSpec(cfg: Config, cell: string): CellSpec {
  const base = { ...CELLS[cell]!, ...(cfg.quick ? QUICK[cell] : {}), ...cfg.overrides };
  if (cfg.servers) base.servers = cfg.servers;
  return base;
}

/** Has the filewatch on this branch got `--tail` (the append work)? */
function hasTail(): boolean {
  try {
    return Deno.readTextFileSync(`${ROOT}src/config.ts`).includes("--tail");
  } catch {
    return false;
  }
}

/** A free port on 127.0.0.1 (frontail cannot report the port it got for --port 0). */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function waitHttp(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) });
      await r.body?.cancel();
      if (r.ok) return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server did not answer on port ${port} within ${timeoutMs} ms`);
}

/** The initial log: whole 119-byte lines "pre=NNNNNNNN …" (no "seq=" marker); bench/conn_memory.ts uses it too. */
export function initialContent(): Uint8Array {
  const filler = "appended by the benchmark writer: lorem ipsum dolor sit amet, consectetur adipiscing elit, " +
    "sed do eiusmod tempor incididunt ut labore et dolore magna aliqua";
  const out = new Uint8Array(INITIAL_SIZE);
  const enc = new TextEncoder();
  for (let i = 0; i < INITIAL_SIZE / LINE_LEN; i++) {
    const line = (`pre=${String(i + 1).padStart(8, "0")} ` + filler).slice(0, LINE_LEN - 1) + "\n";
    enc.encodeInto(line, out.subarray(i * LINE_LEN, (i + 1) * LINE_LEN));
  }
  return out;
}

export interface AppendRun {
  cell: string;
  server: string;
  rep: number;
  n: number;
  rate: number;
  durationS: number;
  cmd: string;
  ok: boolean;
  error?: string;
  loadBefore?: number | null;
  // deno-lint-ignore no-explicit-any
  result?: any;
}

async function runOne(cfg: Config, cell: string, spec: CellSpec, server: string, rep: number, index: number) {
  const s = SERVERS[server]!;
  const file = `${cfg.out}/log-${index}.txt`;
  await Deno.writeFile(file, initialContent());
  const port = s.proto.startsWith("sio") ? freePort() : 0;
  const extra = server.startsWith("fw-") ? cfg.fwArgs : [];
  const cmd = [...s.cmd.map((x) => (x === "PORT" ? String(port) : x)), ...extra, file];
  const record: AppendRun = {
    cell,
    server,
    rep,
    n: spec.n,
    rate: spec.rate,
    durationS: spec.durationS,
    cmd: cmd.join(" ").replaceAll(ROOT, "").replaceAll(cfg.out, "OUT"),
    ok: false,
  };
  const logPath = `${cfg.out}/logs/${String(index).padStart(3, "0")}-${cell}-${server}-r${rep}.log`;
  const srv = await startServer(cmd, {
    cwd: ROOT,
    logPath,
    startupLine: /^filewatch: watching .* on http:\/\/(127\.0\.0\.1):(\d+)\/$/,
  });
  try {
    let url: string;
    let ns = "";
    if (s.proto.startsWith("sio")) {
      await waitHttp(port, 30_000);
      url = `ws://127.0.0.1:${port}/`;
      // frontail's socket.io namespace: md5 of its file arguments joined by spaces (index.js).
      ns = createHash("md5").update(file).digest("hex");
    } else {
      const m = await srv.startup(30_000);
      url = `ws://127.0.0.1:${m[2]}/ws`;
    }
    // Let the server settle on the file (its first read) before the idle RSS.
    await new Promise((r) => setTimeout(r, cfg.settleMs));
    const budgetMs = 1000 * (420 + spec.durationS * 2 + spec.drainS + cfg.idleS);
    const out = await new Deno.Command(NODE, {
      args: [
        `${ROOT}bench/append_client.mjs`,
        "--proto",
        s.proto,
        "--url",
        url,
        "--ns",
        ns,
        "--pid",
        String(srv.child.pid),
        "--file",
        file,
        "--initial-size",
        String(INITIAL_SIZE),
        "--n",
        String(spec.n),
        "--rate",
        String(spec.rate),
        "--duration-s",
        String(spec.durationS),
        "--drain-s",
        String(spec.drainS),
        "--workers",
        String(cfg.workers),
        "--idle-s",
        String(cfg.idleS),
        "--settle-ms",
        String(cfg.settleMs),
        "--early-s",
        cfg.quick ? "1" : "5",
      ],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
      signal: AbortSignal.any([AbortSignal.timeout(budgetMs), interrupted.signal]),
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim();
    if (!out.success || !text) throw new Error(`load client failed (exit ${out.code})`);
    record.result = JSON.parse(text.split("\n").pop()!);
    record.ok = true;
  } catch (e) {
    record.error = (e as Error).message;
    console.error(`appends: ${cell} ${server}: ${record.error}`);
  } finally {
    await srv.stop();
    await Deno.remove(file).catch(() => {});
  }
  return record;
}

async function versions(): Promise<Record<string, string>> {
  const cpu = await cpuModel();
  const fr = JSON.parse(await Deno.readTextFile(`${ROOT}node_modules/frontail/package.json`)).version;
  const sio = JSON.parse(await Deno.readTextFile(`${ROOT}node_modules/socket.io-client/package.json`)).version;
  return {
    deno: await firstLineOf(DENO, ["--version"]),
    bun: await firstLineOf(BUN, ["--version"]),
    node: await firstLineOf(NODE, ["--version"]),
    frontail: fr,
    socketIoClient: sio,
    kernel: await firstLineOf("uname", ["-r"]),
    cpu,
    cores: String(navigator.hardwareConcurrency),
    git: await firstLineOf("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"]),
    srcDirty: (await firstLineOf("git", ["-C", ROOT, "status", "--porcelain", "--", "src"])) ? "yes" : "no",
  };
}

async function main(): Promise<void> {
  let parsed: Config | { report: string };
  try {
    parsed = parseConfig(Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args);
  } catch (e) {
    console.error(`error: ${(e as Error).message}\n${USAGE}`);
    Deno.exit(2);
  }
  if ("report" in parsed) {
    console.log(renderAppendsSummary(JSON.parse(await Deno.readTextFile(parsed.report))));
    return;
  }
  const cfg = parsed;
  const tail = hasTail();
  const plan: { cell: string; spec: CellSpec; server: string; rep: number }[] = [];
  for (const cell of cfg.cells) {
    const spec = cellSpec(cfg, cell);
    const servers = spec.servers.filter((s) => {
      if (SERVERS[s]!.tail && !tail) {
        console.error(`appends: skipping ${s} in cell ${cell}: this filewatch has no --tail yet`);
        return false;
      }
      return true;
    });
    for (let rep = 0; rep < cfg.reps; rep++) {
      for (let i = 0; i < servers.length; i++) {
        plan.push({ cell, spec, server: servers[(i + rep) % servers.length]!, rep });
      }
    }
  }
  console.error(`appends: ${plan.length} runs; results in ${cfg.out}`);
  if (cfg.dryRun) {
    for (const p of plan) console.error(`  ${p.cell} ${p.server} n=${p.spec.n} rate=${p.spec.rate} rep=${p.rep}`);
    return;
  }
  await Deno.mkdir(`${cfg.out}/logs`, { recursive: true });
  stopServersOnSignal("appends");
  const meta = {
    startedAt: new Date().toISOString(),
    finishedAt: "",
    command: `deno run -A bench/appends.ts ${Deno.args.join(" ")}`.trim(),
    config: cfg,
    cells: Object.fromEntries(cfg.cells.map((c) => [c, cellSpec(cfg, c)])),
    initialSize: INITIAL_SIZE,
    lineBytes: LINE_LEN,
    versions: await versions(),
    serverCommands: Object.fromEntries(
      Object.entries(SERVERS).map((
        [k, s],
      ) => [k, { cmd: [...s.cmd, "FILE"].join(" ").replaceAll(ROOT, ""), proto: s.proto }]),
    ),
  };
  const runs: AppendRun[] = [];
  const t0 = Date.now();
  for (const [i, p] of plan.entries()) {
    console.error(
      `appends: [${i + 1}/${plan.length}] ${p.cell} ${p.server} n=${p.spec.n} ${p.spec.rate} lines/s rep ${p.rep + 1}` +
        ` (${Math.round((Date.now() - t0) / 1000)}s elapsed)`,
    );
    const loadBefore = cfg.quietWaitS > 0 ? await waitForQuiet(cfg.quietWaitS, cfg.quietCores) : null;
    const rec = await runOne(cfg, p.cell, p.spec, p.server, p.rep, i);
    rec.loadBefore = loadBefore;
    runs.push(rec);
    await saveResults(cfg.out, { meta, runs });
  }
  meta.finishedAt = new Date().toISOString();
  await finishResults("appends", cfg.out, { meta, runs }, renderAppendsSummary, t0);
}

if (import.meta.main) await main();
