/**
 * Benchmark runner: `deno task bench [flags]`.
 *
 * Starts each server (filewatch on Deno, filewatch on Bun, and the two bare
 * baselines in bench/baseline/), one at a time and alternating, for a matrix
 * of client counts x file sizes x repetitions; drives each with the load
 * client (bench/client.mjs, Node, spread over worker processes); then writes
 * every raw result (results.json) and a markdown summary of medians and
 * ratios to the baselines (summary.md), and prints the summary.
 *
 * ```sh
 * deno task bench --quick                 # smoke run, < 1 minute
 * deno task bench                         # full matrix (N=1k,5k,10k x 1 KiB,64 KiB x 3 reps + slow consumers)
 * deno task bench --servers base-deno,base-deno-writev --n 1000,5000 --sizes 64KiB --no-slow
 * deno task bench --report artifacts/bench/<stamp>/results.json   # re-render a summary
 * ```
 *
 * Every server started here is stopped here (SIGTERM, then SIGKILL), also on
 * failure and on Ctrl-C. Only 127.0.0.1 is used.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { cpuModel, firstLineOf, waitForQuiet } from "./_machine.ts";
import { type CellResult, renderSummary, type RunRecord } from "./_report.ts";
import { finishResults, saveResults } from "./_results.ts";
import { interrupted, startServer, stopServersOnSignal } from "./_servers.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const DENO = `${ROOT}node_modules/.bin/deno`;
const BUN = `${ROOT}node_modules/.bin/bun`;
const NODE = "node";

/** filewatch's flags for every run (the command line). */
const FW_FLAGS = [
  "--port",
  "0",
  "--poll",
  "100ms",
  "--max-clients",
  "20000",
  "--max-clients-per-ip",
  "0",
  "--max-requests-per-ip",
  "0",
];
const BASE_FLAGS = ["--port", "0", "--poll", "100ms"];
const DENO_RUN = [DENO, "run", "--allow-net", "--allow-read", "--allow-env"];

/** A server the runner can start: command (FILE is appended) and environment. */
export interface ServerSpec {
  cmd: string[];
  env?: Record<string, string>;
  /** The baseline this server is compared against (filewatch rows only). */
  baseline?: string;
  /** A file that must exist for this server to be runnable. */
  needs?: string;
}

/** Every server the runner knows. The default set is the first four. */
export const SERVERS: Record<string, ServerSpec> = {
  "fw-deno": { cmd: [...DENO_RUN, "src/deno.ts", ...FW_FLAGS], baseline: "base-deno", needs: "src/deno.ts" },
  "fw-bun": { cmd: [BUN, "run", "src/bun.ts", ...FW_FLAGS], baseline: "base-bun", needs: "src/bun.ts" },
  "base-deno": { cmd: [...DENO_RUN, "bench/baseline/deno.ts", ...BASE_FLAGS] },
  "base-bun": { cmd: [BUN, "run", "bench/baseline/bun.ts", ...BASE_FLAGS] },
  // Variants of the Deno baseline for the 64 KiB memory question (BENCHMARKS.md).
  "base-deno-writev": {
    cmd: [...DENO_RUN, "bench/baseline/deno.ts", ...BASE_FLAGS],
    env: { DENO_USE_WRITEV: "1" },
  },
  "base-deno-batch": { cmd: [...DENO_RUN, "bench/baseline/deno.ts", ...BASE_FLAGS, "--batch", "256"] },
  "base-deno-writev-batch": {
    cmd: [...DENO_RUN, "bench/baseline/deno.ts", ...BASE_FLAGS, "--batch", "256"],
    env: { DENO_USE_WRITEV: "1" },
  },
  "base-deno-jsenv-batch": {
    cmd: [...DENO_RUN, "bench/baseline/deno.ts", ...BASE_FLAGS, "--batch", "256", "--writev-env"],
  },
  "base-deno-bytes": { cmd: [...DENO_RUN, "bench/baseline/deno.ts", ...BASE_FLAGS, "--send", "bytes"] },
};
const DEFAULT_SERVERS = ["fw-deno", "fw-bun", "base-deno", "base-bun"];

const USAGE = `usage: deno task bench [--quick] [--n 1000,5000,10000] [--sizes 1KiB,64KiB] [--reps 3]
  [--rounds 10] [--servers ${DEFAULT_SERVERS.join(",")}] [--workers 2] [--idle-s 3] [--settle-ms 1000] [--client raw|ws]
  [--no-slow] [--slow-n 1000] [--slow-size 64KiB] [--slow-rounds 80] [--slow-paused 0.01] [--hold-s 12]
  [--quiet-wait-s 10] [--quiet-cores 0.5] [--fw-args="--no-events"] [--out DIR] [--label TEXT]
  [--report results.json] [--dry-run]
servers: ${Object.keys(SERVERS).join(", ")}`;

/** Parses `1024`, `1KiB`, `64KiB`, `1MiB`. */
export function parseSize(text: string): number {
  const m = /^(\d+)(B|KiB|MiB)?$/.exec(text.trim());
  if (!m) throw new TypeError(`Cannot parse size "${text}": expected bytes like 1024, 1KiB or 64KiB`);
  const unit = m[2] === "KiB" ? 1024 : m[2] === "MiB" ? 1024 * 1024 : 1;
  return Number(m[1]) * unit;
}

function parseList<T>(text: string, parse: (s: string) => T): T[] {
  return text.split(",").filter((s) => s.trim() !== "").map(parse);
}

function parseCount(s: string): number {
  const n = Number(s.trim().replace(/k$/i, "000"));
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`Cannot parse client count "${s}": expected an integer >= 1`);
  return n;
}

interface Config {
  ns: number[];
  sizes: number[];
  reps: number;
  rounds: number;
  servers: string[];
  workers: number;
  idleS: number;
  settleMs: number;
  client: string;
  slow: boolean;
  slowN: number;
  slowSize: number;
  slowRounds: number;
  slowPaused: number;
  quietWaitS: number;
  quietCores: number;
  holdS: number;
  fwArgs: string[];
  out: string;
  dryRun: boolean;
  quick: boolean;
  label: string;
}

function parseConfig(args: string[]): Config | { report: string } {
  const { values: v } = parseArgs({
    args,
    options: {
      quick: { type: "boolean", default: false },
      n: { type: "string" },
      sizes: { type: "string" },
      reps: { type: "string" },
      rounds: { type: "string" },
      servers: { type: "string" },
      workers: { type: "string", default: "2" },
      "idle-s": { type: "string" },
      "settle-ms": { type: "string" },
      client: { type: "string", default: "raw" },
      "no-slow": { type: "boolean", default: false },
      "slow-n": { type: "string" },
      "slow-size": { type: "string" },
      "slow-rounds": { type: "string" },
      "slow-paused": { type: "string", default: "0.01" },
      "fw-args": { type: "string", default: "" },
      "quiet-wait-s": { type: "string" },
      "hold-s": { type: "string" },
      "quiet-cores": { type: "string" },
      out: { type: "string" },
      report: { type: "string" },
      "dry-run": { type: "boolean", default: false },
      label: { type: "string", default: "" },
      help: { type: "boolean", default: false },
    },
  });
  if (v.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  if (v.report) return { report: v.report };
  const q = v.quick;
  const servers = v.servers ? parseList(v.servers, (s) => s.trim()) : DEFAULT_SERVERS;
  for (const s of servers) {
    if (!SERVERS[s]) {
      throw new TypeError(`Cannot parse --servers "${s}": expected one of ${Object.keys(SERVERS).join(", ")}`);
    }
  }
  const int = (name: string, text: string | undefined, dflt: number, min = 1): number => {
    const n = text === undefined ? dflt : Number(text);
    if (!Number.isInteger(n) || n < min) {
      throw new RangeError(`Cannot parse --${name} "${text}": expected an integer >= ${min}`);
    }
    return n;
  };
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
  return {
    quick: q,
    ns: parseList(v.n ?? (q ? "200" : "1000,5000,10000"), parseCount),
    sizes: parseList(v.sizes ?? (q ? "1KiB" : "1KiB,64KiB"), parseSize),
    reps: int("reps", v.reps, q ? 1 : 3),
    rounds: int("rounds", v.rounds, q ? 5 : 10),
    servers,
    workers: int("workers", v.workers, 2),
    idleS: int("idle-s", v["idle-s"], q ? 1 : 3),
    settleMs: int("settle-ms", v["settle-ms"], q ? 300 : 1000, 0),
    client: v.client === "ws" ? "ws" : "raw",
    slow: !v["no-slow"],
    slowN: int("slow-n", v["slow-n"], q ? 200 : 1000),
    slowSize: parseSize(v["slow-size"] ?? (q ? "16KiB" : "64KiB")),
    quietWaitS: int("quiet-wait-s", v["quiet-wait-s"], q ? 0 : 10, 0),
    quietCores: Number(v["quiet-cores"] ?? "0.5"),
    // > filewatch's default writeWait (10 s), so a server that drops stuck clients has done it.
    holdS: int("hold-s", v["hold-s"], q ? 0 : 12, 0),
    slowRounds: int("slow-rounds", v["slow-rounds"], q ? 10 : 80),
    slowPaused: Number(v["slow-paused"]),
    fwArgs: v["fw-args"].split(/\s+/).filter((s) => s !== ""),
    out: v.out ?? `${ROOT}artifacts/bench/${stamp}${q ? "-quick" : ""}`,
    dryRun: v["dry-run"],
    label: v.label,
  };
}

/** The soft limit on open files; a server with N clients needs N + a few. */
function openFileLimit(): number {
  const m = /^Max open files\s+(\d+)/m.exec(Deno.readTextFileSync("/proc/self/limits"));
  return m ? Number(m[1]) : Infinity;
}

/** Rough seconds for one run, for the up-front estimate. */
function estimateS(n: number, size: number, rounds: number, idleS: number): number {
  const perRound = 0.13 + (n * (size + 64)) / 400e6 + n * 15e-6;
  return 4 + n / 2500 + 1 + idleS + rounds * perRound + 2;
}

interface RunPlan {
  server: string;
  scenario: "matrix" | "control" | "slow";
  n: number;
  size: number;
  rounds: number;
  rep: number;
  paused: number;
}

/** Content of the file at server start: the right size, version token 0. */
function initialContent(size: number): Uint8Array {
  const line = "the quick brown fox jumps over the lazy dog 0123456789 <&>\n";
  const text = ("v=00000000\n" + line.repeat(Math.ceil(size / line.length) + 1)).slice(0, size);
  return new TextEncoder().encode(text);
}

async function runOne(cfg: Config, plan: RunPlan, dir: string, index: number): Promise<RunRecord> {
  const spec = SERVERS[plan.server]!;
  const file = `${dir}/watched-${index}.txt`;
  await Deno.writeFile(file, initialContent(plan.size));
  const extra = plan.server.startsWith("fw-") ? cfg.fwArgs : [];
  const cmd = [...spec.cmd, ...extra, file];
  const logPath = `${dir}/logs/${
    String(index).padStart(3, "0")
  }-${plan.server}-${plan.scenario}-n${plan.n}-s${plan.size}-r${plan.rep}.log`;
  const record: RunRecord = { ...plan, cmd: cmd.join(" ").replaceAll(ROOT, ""), env: spec.env ?? {}, ok: false };
  const server = await startServer(cmd, {
    cwd: ROOT,
    env: spec.env,
    logPath,
    startupLine: /^filewatch: watching .* on http:\/\/(127\.0\.0\.1):(\d+)\/$/,
  });
  try {
    const m = await server.startup(30_000);
    const url = `ws://127.0.0.1:${m[2]}/ws`;
    const budgetMs = 1000 * (estimateS(plan.n, plan.size, plan.rounds, cfg.idleS) * 4 + 300);
    const clientArgs = [
      `${ROOT}bench/client.mjs`,
      "--url",
      url,
      "--pid",
      String(server.child.pid),
      "--file",
      file,
      "--size",
      String(plan.size),
      "--n",
      String(plan.n),
      "--rounds",
      String(plan.rounds),
      "--workers",
      String(cfg.workers),
      "--paused",
      String(plan.paused),
      "--idle-s",
      String(plan.scenario === "matrix" ? cfg.idleS : 1),
      "--client",
      cfg.client,
      "--settle-ms",
      String(cfg.settleMs),
      "--hold-s",
      String(plan.scenario === "slow" ? cfg.holdS : 0),
    ];
    const out = await new Deno.Command(NODE, {
      args: clientArgs,
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
      // Killed when its time is up, or when the runner is interrupted.
      signal: AbortSignal.any([AbortSignal.timeout(budgetMs), interrupted.signal]),
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim();
    if (!out.success || !text) throw new Error(`load client failed (exit ${out.code})`);
    record.result = JSON.parse(text.split("\n").pop()!) as CellResult;
    record.ok = true;
  } catch (e) {
    record.error = (e as Error).message;
    console.error(`bench: ${plan.server} n=${plan.n} size=${plan.size}: ${record.error}`);
  } finally {
    await server.stop();
    await Deno.remove(file).catch(() => {});
    await Deno.remove(`${file}.tmp`).catch(() => {});
  }
  return record;
}

function plans(cfg: Config, servers: string[]): RunPlan[] {
  const list: RunPlan[] = [];
  for (let rep = 0; rep < cfg.reps; rep++) {
    // Alternate: every cell runs all servers back to back, in an order that rotates per rep.
    const order = servers.map((_, i) => servers[(i + rep) % servers.length]!);
    for (const size of cfg.sizes) {
      for (const n of cfg.ns) {
        for (const server of order) {
          list.push({ server, scenario: "matrix", n, size, rounds: cfg.rounds, rep, paused: 0 });
        }
      }
    }
    if (cfg.slow) {
      for (const server of order) {
        const base = { server, n: cfg.slowN, size: cfg.slowSize, rounds: cfg.slowRounds, rep };
        // Control and slow back to back; which goes first alternates per rep.
        const pair: RunPlan[] = [
          { ...base, scenario: "control", paused: 0 },
          { ...base, scenario: "slow", paused: cfg.slowPaused },
        ];
        list.push(...(rep % 2 === 0 ? pair : pair.reverse()));
      }
    }
  }
  return list;
}

async function versions(): Promise<Record<string, string>> {
  const cpu = await cpuModel();
  const mem = /^MemTotal:\s*(\d+)/m.exec(await Deno.readTextFile("/proc/meminfo").catch(() => ""))?.[1];
  const os = /^PRETTY_NAME="?([^"\n]*)/m.exec(await Deno.readTextFile("/etc/os-release").catch(() => ""))?.[1] ?? "?";
  return {
    deno: await firstLineOf(DENO, ["--version"]),
    bun: await firstLineOf(BUN, ["--version"]),
    node: await firstLineOf(NODE, ["--version"]),
    kernel: await firstLineOf("uname", ["-r"]),
    os,
    cpu,
    cores: String(navigator.hardwareConcurrency),
    memGiB: mem ? (Number(mem) / 1024 / 1024).toFixed(1) : "?",
    git: await firstLineOf("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"]),
    // Others edit src/ while benchmarks run: say whether the servers ran uncommitted code.
    srcDirty: (await firstLineOf("git", ["-C", ROOT, "status", "--porcelain", "--", "src"])) ? "yes" : "no",
  };
}

async function main(): Promise<void> {
  let parsed: Config | { report: string };
  try {
    // `deno task bench -- --quick` passes the "--" through: drop it.
    parsed = parseConfig(Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args);
  } catch (e) {
    console.error(`error: ${(e as Error).message}\n${USAGE}`);
    Deno.exit(2);
  }
  if ("report" in parsed) {
    const data = JSON.parse(await Deno.readTextFile(parsed.report));
    console.log(renderSummary(data));
    return;
  }
  const cfg = parsed;
  const servers = cfg.servers.filter((s) => {
    const needs = SERVERS[s]!.needs;
    if (!needs) return true;
    try {
      Deno.statSync(`${ROOT}${needs}`);
      return true;
    } catch {
      console.error(`bench: skipping ${s}: ${needs} does not exist yet (filewatch rows pending)`);
      return false;
    }
  });
  const maxN = Math.max(...cfg.ns, cfg.slow ? cfg.slowN : 0);
  const limit = openFileLimit();
  if (maxN + 256 > limit) {
    console.error(`error: Cannot run N=${maxN}: open-file limit is ${limit}; raise it (ulimit -n) or lower --n`);
    Deno.exit(2);
  }
  const list = plans(cfg, servers);
  const est = list.reduce(
    (s, p) =>
      s + estimateS(p.n, p.size, p.rounds, p.scenario === "matrix" ? cfg.idleS : 1) +
      (p.scenario === "slow" ? cfg.holdS : 0),
    0,
  );
  console.error(
    `bench: ${list.length} runs, estimated ${Math.round(est / 60)} min` +
      (cfg.quietWaitS
        ? ` (+ up to ${Math.round((list.length * cfg.quietWaitS) / 60)} min waiting for a quiet machine)`
        : "") +
      `; results in ${cfg.out}`,
  );
  if (cfg.dryRun) {
    for (const p of list) {
      console.error(`  ${p.server} ${p.scenario} n=${p.n} size=${p.size} rounds=${p.rounds} rep=${p.rep}`);
    }
    return;
  }
  await Deno.mkdir(`${cfg.out}/logs`, { recursive: true });
  stopServersOnSignal("bench");

  const startedAt = new Date().toISOString();
  const meta = {
    startedAt,
    finishedAt: "",
    command: `deno task bench ${Deno.args.join(" ")}`.trim(),
    config: { ...cfg, servers },
    versions: await versions(),
    serverCommands: Object.fromEntries(servers.map((s) => [s, {
      cmd: [...SERVERS[s]!.cmd, ...(s.startsWith("fw-") ? cfg.fwArgs : []), "FILE"].join(" ").replaceAll(ROOT, ""),
      env: SERVERS[s]!.env ?? {},
    }])),
    baselines: Object.fromEntries(servers.map((s) => [s, SERVERS[s]!.baseline ?? null])),
  };
  const runs: RunRecord[] = [];
  const t0 = Date.now();
  for (const [i, plan] of list.entries()) {
    const label = `${plan.server} ${plan.scenario} n=${plan.n} size=${plan.size} rep=${plan.rep + 1}/${cfg.reps}`;
    console.error(`bench: [${i + 1}/${list.length}] ${label} (${Math.round((Date.now() - t0) / 1000)}s elapsed)`);
    const loadBefore = cfg.quietWaitS > 0 ? await waitForQuiet(cfg.quietWaitS, cfg.quietCores) : null;
    const record = await runOne(cfg, plan, cfg.out, i);
    record.loadBefore = loadBefore;
    runs.push(record);
    // Persist as we go: a long run interrupted still leaves its results.
    await saveResults(cfg.out, { meta, runs });
  }
  meta.finishedAt = new Date().toISOString();
  await finishResults("bench", cfg.out, { meta, runs }, renderSummary, t0);
}

if (import.meta.main) await main();
