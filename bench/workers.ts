/**
 * `--workers` benchmark (docs/deployment.md#workers, BENCHMARKS.md "More viewers than one
 * process holds"): filewatch with `--workers 2` at 2 × N clients against one
 * worker at N, a 1 KiB file changing every 2 s. Every client must receive
 * every version; reported: server CPU per change (per client too), RSS per
 * connection, write → client latency.
 *
 * ```sh
 * deno run -A bench/workers.ts                          # N = 19000: 19k on 1 worker, 38k on 2; Deno and Bun
 * deno run -A bench/workers.ts --n 2000 --rounds 5 --runtimes bun   # smoke run
 * ```
 *
 * The load comes from bench/client.mjs (Node) over several worker processes,
 * each under the 20,000 open-files limit, connecting from several loopback
 * sources (one per process and run: 127.0.R.1, 127.0.R.2, …): one source
 * reaches one port through about 28k ephemeral ports only. The server's CPU and memory are summed over
 * the supervisor and its workers. Only 127.0.0.0/8 is used; every server
 * started here is stopped here.
 * @module
 */
import { parseArgs } from "node:util";
import { cpuModel, firstLineOf, waitForQuiet } from "./_machine.ts";
import { finishResults, saveResults } from "./_results.ts";
import { interrupted, startServer, stopServersOnSignal } from "./_servers.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const DENO = `${ROOT}node_modules/.bin/deno`;
const BUN = `${ROOT}node_modules/.bin/bun`;
/** Per worker: more than its share of clients, under the 20,000 open files. */
const FW_FLAGS = [
  "--port",
  "0",
  "--poll",
  "100ms",
  "--max-clients",
  "19900",
  "--max-clients-per-ip",
  "0",
  "--max-requests-per-ip",
  "0",
  "--quiet",
];
const COMMANDS: Record<string, string[]> = {
  deno: [DENO, "run", "--allow-net", "--allow-read", "--allow-env", "--allow-run", "src/deno.ts", ...FW_FLAGS],
  bun: [BUN, "run", "src/bun.ts", ...FW_FLAGS],
};
/** Clients per load-client process: under the 20,000 open-files limit with room to spare. */
const CLIENTS_PER_PROCESS = 10_000;

interface Run {
  runtime: string;
  workers: number;
  n: number;
  ok: boolean;
  error?: string;
  cmd?: string;
  loadBefore?: number | null;
  // deno-lint-ignore no-explicit-any
  result?: any;
}

const { values: v } = parseArgs({
  args: Deno.args,
  options: {
    n: { type: "string", default: "19000" },
    rounds: { type: "string", default: "10" },
    "interval-ms": { type: "string", default: "2000" },
    runtimes: { type: "string", default: "deno,bun" },
    out: { type: "string" },
    "quiet-wait-s": { type: "string", default: "10" },
  },
});
const N = Number(v.n);
const rounds = Number(v.rounds);
const runtimes = v.runtimes.split(",").filter((r) => COMMANDS[r]);
const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
const out = v.out ?? `${ROOT}artifacts/bench-workers/${stamp}`;

/**
 * One loopback source per load-client process (at most 10,000 connections
 * each, well below the ~28k ephemeral ports one source has towards one
 * port), and other sources for every run: the previous run's closed
 * connections sit in TIME_WAIT on their source ports for a minute (a first
 * version shared 127.0.0.1–2 across runs and ran out: EADDRINUSE).
 */
function sourcesFor(procs: number, run: number): string[] {
  return Array.from({ length: procs }, (_, i) => `127.0.${run + 1}.${i + 1}`);
}

async function runOne(runtime: string, workers: number, n: number, index: number): Promise<Run> {
  const file = `${out}/watched-${index}.txt`;
  await Deno.writeTextFile(file, "v=00000000\n".padEnd(1024, "x"));
  const cmd = [...COMMANDS[runtime]!, "--workers", String(workers), file];
  const run: Run = { runtime, workers, n, ok: false, cmd: cmd.join(" ").replaceAll(ROOT, "") };
  const server = await startServer(cmd, {
    cwd: ROOT,
    logPath: `${out}/logs/${index}-${runtime}-w${workers}-n${n}.log`,
    startupLine: /^filewatch: watching .* on http:\/\/(127\.0\.0\.1):(\d+)\/$/,
  });
  try {
    const m = await server.startup(30_000);
    const procs = Math.max(2, Math.ceil(n / CLIENTS_PER_PROCESS));
    const sources = sourcesFor(procs, index);
    // Every source gets whole processes: round robin over the processes.
    const args = [
      `${ROOT}bench/client.mjs`,
      ...["--url", `ws://127.0.0.1:${m[2]}/ws`, "--pid", String(server.child.pid), "--with-children"],
      ...["--file", file, "--size", "1024", "--n", String(n), "--rounds", String(rounds)],
      ...["--workers", String(procs), "--sources", sources.join(","), "--interval-ms", String(v["interval-ms"])],
      ...["--idle-s", "3", "--settle-ms", "2000", "--connect-timeout-s", "300", "--round-timeout-s", "30"],
    ];
    const res = await new Deno.Command("node", {
      args,
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
      signal: AbortSignal.any([AbortSignal.timeout(900_000), interrupted.signal]),
    }).output();
    const text = new TextDecoder().decode(res.stdout).trim();
    if (!res.success || !text) throw new Error(`load client failed (exit ${res.code})`);
    run.result = JSON.parse(text.split("\n").pop()!);
    run.ok = true;
  } catch (e) {
    run.error = (e as Error).message;
    console.error(`bench-workers: ${runtime} --workers ${workers} n=${n}: ${run.error}`);
  } finally {
    await server.stop();
    await Deno.remove(file).catch(() => {});
    await Deno.remove(`${file}.tmp`).catch(() => {});
  }
  return run;
}

function render(data: { meta: Record<string, unknown>; runs: Run[] }): string {
  const rows = data.runs.map((r) => {
    if (!r.ok) return `| ${r.runtime} | ${r.workers} | ${r.n} | failed: ${r.error} |||||||`;
    const x = r.result;
    const perChange = x.rounds.cpuPerChangeS;
    const perClientUs = (perChange / x.connect.ready) * 1e6;
    const rssPerConn = ((x.rounds.rssKiB) / x.connect.ready).toFixed(1);
    return `| ${r.runtime} | ${r.workers} | ${x.connect.ready}/${r.n} | ${x.rounds.received}/${x.rounds.expected} | ${
      perChange.toFixed(3)
    } | ${perClientUs.toFixed(1)} | ${rssPerConn} | ${
      (x.rounds.rssKiB / 1024).toFixed(0)
    } | ${x.rounds.latencyMs.p50} | ${x.rounds.latencyMs.p99} | ${x.rounds.latencyMs.max} |`;
  });
  return [
    `# --workers: ${String(data.meta.command)}`,
    "",
    `${String(data.meta.cpu)}, ${String(data.meta.cores)} cores; deno ${String(data.meta.deno)}; bun ${
      String(data.meta.bun)
    }; git ${String(data.meta.git)}`,
    "",
    "| runtime | workers | clients ready | versions received | server CPU-s / change | CPU-µs / change / client | RSS KiB / connection | RSS MiB (all processes) | p50 ms | p99 ms | max ms |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows,
    "",
  ].join("\n");
}

if (import.meta.main) {
  await Deno.mkdir(`${out}/logs`, { recursive: true });
  stopServersOnSignal("bench-workers");
  const meta = {
    command: `deno run -A bench/workers.ts ${Deno.args.join(" ")}`.trim(),
    startedAt: new Date().toISOString(),
    cpu: await cpuModel(),
    cores: navigator.hardwareConcurrency,
    deno: await firstLineOf(DENO, ["--version"]),
    bun: await firstLineOf(BUN, ["--version"]),
    git: await firstLineOf("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"]),
  };
  const runs: Run[] = [];
  const t0 = Date.now();
  let i = 0;
  for (const runtime of runtimes) {
    for (const [workers, n] of [[1, N], [2, 2 * N]] as const) {
      console.error(`bench-workers: ${runtime} --workers ${workers}, ${n} clients`);
      const loadBefore = await waitForQuiet(Number(v["quiet-wait-s"]), 0.5);
      const run = await runOne(runtime, workers, n, i++);
      run.loadBefore = loadBefore;
      runs.push(run);
      await saveResults(out, { meta, runs });
    }
  }
  await finishResults("bench-workers", out, { meta, runs }, render, t0);
}
