/**
 * Memory per connection (issue 27): filewatch against the bare server of its
 * runtime (bench/baseline/) holding the same sockets, in the same run.
 *
 * ```sh
 * node_modules/.bin/deno run -A bench/conn_memory.ts                  # Deno pair, N = 1000 and 5000, 3 reps; ~10 min
 * node_modules/.bin/deno run -A bench/conn_memory.ts --servers fw-deno,base-deno,fw-bun,base-bun --reps 1
 * node_modules/.bin/deno run -A bench/conn_memory.ts --report artifacts/bench-memory/<stamp>/results.json
 * ```
 *
 * Each run: a fresh 10 MiB log (the appends benchmark's), a fresh server, its
 * RSS once it has read the file (1 s), then N viewers (bench/hold_client.mjs,
 * 64 handshakes in flight) that each get the 64 KiB tail window and do
 * nothing else; RSS 4 s after the last one got it (the moment the appends
 * benchmark measures: 1 s settle + 3 s idle) and again 30 s after (V8 gives
 * back the young generation it grew while the connections came in, see
 * BENCHMARKS.md). Per connection = (RSS − RSS before any viewer) ÷ N, and the
 * slope between the two N of one repetition (what one more connection
 * costs). Servers run back to back in an order that rotates per repetition.
 *
 * Every process started here is stopped here, also on failure and on Ctrl-C.
 * @module
 */
import { parseArgs } from "node:util";
import { initialContent } from "./appends.ts";
import { cpuModel, firstLineOf, waitForQuiet } from "./_machine.ts";
import { finishResults, saveResults } from "./_results.ts";
import { interrupted, startServer, stopServersOnSignal } from "./_servers.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const DENO = `${ROOT}node_modules/.bin/deno`;
const BUN = `${ROOT}node_modules/.bin/bun`;
const DENO_RUN = [DENO, "run", "--allow-net", "--allow-read", "--allow-env"];
const FW_FLAGS = ["--port", "0", "--poll", "100ms", "--max-clients", "20000", "--max-clients-per-ip", "0"];
/**
 * The bare servers send the same 64 KiB window; the Deno one with what
 * filewatch does for it (DENO_USE_WRITEV, batches of 256: without them every
 * Deno socket keeps a 64 KiB write buffer, BENCHMARKS.md).
 */
const BASE_FLAGS = ["--port", "0", "--poll", "100ms", "--tail", "65536"];

/** A server: its command (FILE appended) and the subprotocol its viewers offer. */
const SERVERS: Record<string, { cmd: string[]; protocol: string }> = {
  "fw-deno": { cmd: [...DENO_RUN, "src/deno.ts", ...FW_FLAGS, "--tail", "64KiB"], protocol: "filewatch.bin.v1" },
  "fw-deno-v1": { cmd: [...DENO_RUN, "src/deno.ts", ...FW_FLAGS, "--tail", "64KiB"], protocol: "filewatch.v1" },
  "base-deno": {
    cmd: [...DENO_RUN, "bench/baseline/deno.ts", ...BASE_FLAGS, "--writev-env", "--batch", "256"],
    protocol: "",
  },
  // The bare Deno server as bench/run.ts runs it: no writev, no batches.
  "base-deno-naive": { cmd: [...DENO_RUN, "bench/baseline/deno.ts", ...BASE_FLAGS], protocol: "" },
  "fw-bun": { cmd: [BUN, "run", "src/bun.ts", ...FW_FLAGS, "--tail", "64KiB"], protocol: "filewatch.bin.v1" },
  "base-bun": { cmd: [BUN, "run", "bench/baseline/bun.ts", ...BASE_FLAGS], protocol: "" },
};

const USAGE = `usage: deno run -A bench/conn_memory.ts [--servers fw-deno,base-deno] [--n 1000,5000] [--reps 3]
  [--settled-s 30] [--quiet-wait-s 10] [--quiet-cores 0.5] [--out DIR] [--report results.json]
servers: ${Object.keys(SERVERS).join(", ")}`;

interface Run {
  server: string;
  n: number;
  rep: number;
  ok: boolean;
  error?: string;
  loadBefore?: number | null;
  connectS?: number;
  ready?: number;
  rssIdleKiB?: number;
  rssEarlyKiB?: number;
  rssSettledKiB?: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const f1 = (x: number) => Number.isFinite(x) ? x.toFixed(1) : "–";

function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

/** One line out of a child's stdout that matches `re`, within `ms`. */
async function lineOf(stream: ReadableStream<Uint8Array>, re: RegExp, ms: number): Promise<RegExpExecArray> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  const timer = setTimeout(() => reader.cancel(), ms);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`no line matching ${re} within ${ms} ms: ${JSON.stringify(buf.slice(-200))}`);
      buf += value;
      const m = re.exec(buf);
      if (m) return m;
    }
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
}

async function runOne(out: string, server: string, n: number, rep: number, settledS: number, i: number): Promise<Run> {
  const run: Run = { server, n, rep, ok: false };
  const file = `${out}/log-${i}.txt`;
  await Deno.writeFile(file, initialContent());
  const spec = SERVERS[server]!;
  const srv = await startServer([...spec.cmd, file], {
    cwd: ROOT,
    logPath: `${out}/logs/${String(i).padStart(3, "0")}-${server}-${n}-r${rep}.log`,
    startupLine: /^filewatch: watching .* on http:\/\/(127\.0\.0\.1):(\d+)\/$/,
  });
  let holder: Deno.ChildProcess | null = null;
  try {
    const port = (await srv.startup(30_000))[2];
    await new Promise((r) => setTimeout(r, 1000));
    const pid = srv.child.pid;
    run.rssIdleKiB = rssKiB(pid);
    const t0 = performance.now();
    holder = new Deno.Command("node", {
      args: [
        `${ROOT}bench/hold_client.mjs`,
        "--url",
        `ws://127.0.0.1:${port}/ws`,
        "--n",
        String(n),
        ...(spec.protocol ? ["--protocol", spec.protocol] : []),
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
      signal: interrupted.signal,
    }).spawn();
    const m = await lineOf(holder.stdout, /ready (\d+) failed (\d+)/, 300_000);
    run.connectS = Math.round((performance.now() - t0) / 100) / 10;
    run.ready = Number(m[1]);
    if (run.ready !== n) throw new Error(`${m[2]} of ${n} viewers failed to connect`);
    await new Promise((r) => setTimeout(r, 4000));
    run.rssEarlyKiB = rssKiB(pid);
    await new Promise((r) => setTimeout(r, (settledS - 4) * 1000));
    run.rssSettledKiB = rssKiB(pid);
    run.ok = true;
  } catch (e) {
    run.error = (e as Error).message;
    console.error(`conn_memory: ${server} n=${n}: ${run.error}`);
  } finally {
    if (holder) {
      try {
        await holder.stdin.close();
      } catch { /* gone */ }
      await holder.status;
    }
    await srv.stop();
    await Deno.remove(file).catch(() => {});
  }
  return run;
}

/** The summary: per server and N, medians of per-connection RSS; the slope; each filewatch over its bare server. */
export function renderMemory(data: { meta: Record<string, unknown>; runs: Run[] }): string {
  const ok = data.runs.filter((r) => r.ok);
  const servers = [...new Set(ok.map((r) => r.server))];
  const ns = [...new Set(ok.map((r) => r.n))].sort((a, b) => a - b);
  const per = (r: Run, k: "rssEarlyKiB" | "rssSettledKiB") => (r[k]! - r.rssIdleKiB!) / r.n;
  const lines = [
    `# Memory per connection (bench/conn_memory.ts)`,
    "",
    `Run ${data.meta.startedAt} – ${data.meta.finishedAt}; \`${data.meta.command}\`; ${
      JSON.stringify(data.meta.versions)
    }.`,
    "",
    "| server | N | RSS idle MiB | per conn KiB at +4 s (reps) | per conn KiB at +settled (reps) | connect s |",
    "| --- | --: | --: | --- | --- | --: |",
  ];
  const cell: Record<string, { early: number; settled: number; slope?: number }> = {};
  for (const s of servers) {
    for (const n of ns) {
      const rs = ok.filter((r) => r.server === s && r.n === n);
      if (rs.length === 0) continue;
      const early = rs.map((r) => per(r, "rssEarlyKiB"));
      const settled = rs.map((r) => per(r, "rssSettledKiB"));
      cell[`${s}@${n}`] = { early: median(early), settled: median(settled) };
      lines.push(
        `| ${s} | ${n} | ${f1(median(rs.map((r) => r.rssIdleKiB! / 1024)))} | **${f1(median(early))}** (${
          early.map(f1).join(", ")
        }) | **${f1(median(settled))}** (${settled.map(f1).join(", ")}) | ${f1(median(rs.map((r) => r.connectS!)))} |`,
      );
    }
  }
  if (ns.length >= 2) {
    const [lo, hi] = [ns[0]!, ns[ns.length - 1]!];
    lines.push("", `Slope ${lo} → ${hi} (KiB per extra connection, settled RSS, per repetition; median):`, "");
    lines.push("| server | slope KiB/conn (reps) |", "| --- | --- |");
    for (const s of servers) {
      const reps = [...new Set(ok.filter((r) => r.server === s).map((r) => r.rep))];
      const slopes: number[] = [];
      for (const rep of reps) {
        const a = ok.find((r) => r.server === s && r.n === lo && r.rep === rep);
        const b = ok.find((r) => r.server === s && r.n === hi && r.rep === rep);
        if (a && b) slopes.push((b.rssSettledKiB! - a.rssSettledKiB!) / (hi - lo));
      }
      if (cell[`${s}@${hi}`]) cell[`${s}@${hi}`]!.slope = median(slopes);
      lines.push(`| ${s} | **${f1(median(slopes))}** (${slopes.map(f1).join(", ")}) |`);
    }
  }
  lines.push("", "filewatch ÷ the bare server of its runtime (medians):", "");
  lines.push("| pair | N | at +4 s | settled | slope |", "| --- | --: | --: | --: | --: |");
  for (const s of servers.filter((x) => x.startsWith("fw-"))) {
    const base = `base-${s.split("-")[1]}`;
    for (const n of ns) {
      const a = cell[`${s}@${n}`];
      const b = cell[`${base}@${n}`];
      if (!a || !b) continue;
      const slope = a.slope !== undefined && b.slope !== undefined ? (a.slope / b.slope).toFixed(2) : "";
      lines.push(
        `| ${s} ÷ ${base} | ${n} | ${(a.early / b.early).toFixed(2)} | ${
          (a.settled / b.settled).toFixed(2)
        } | ${slope} |`,
      );
    }
  }
  const failed = data.runs.filter((r) => !r.ok);
  if (failed.length) lines.push("", `Failed runs: ${failed.map((r) => `${r.server} n=${r.n}: ${r.error}`).join("; ")}`);
  return lines.join("\n") + "\n";
}

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    args: Deno.args,
    options: {
      servers: { type: "string", default: "fw-deno,base-deno" },
      n: { type: "string", default: "1000,5000" },
      reps: { type: "string", default: "3" },
      "settled-s": { type: "string", default: "30" },
      "quiet-wait-s": { type: "string", default: "10" },
      "quiet-cores": { type: "string", default: "0.5" },
      out: { type: "string" },
      report: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (v.help) {
    console.log(USAGE);
    return;
  }
  if (v.report) {
    console.log(renderMemory(JSON.parse(await Deno.readTextFile(v.report))));
    return;
  }
  const bad = (what: string, text: string, why: string) => {
    console.error(`error: Cannot parse --${what} "${text}": ${why}\n${USAGE}`);
    Deno.exit(2);
  };
  const servers = v.servers.split(",").map((s) => s.trim()).filter((s) => s);
  for (const s of servers) if (!SERVERS[s]) bad("servers", s, `expected one of ${Object.keys(SERVERS).join(", ")}`);
  const ns = v.n.split(",").map(Number);
  if (ns.some((n) => !Number.isInteger(n) || n < 1)) bad("n", v.n, "expected integers >= 1");
  const reps = Number(v.reps);
  if (!Number.isInteger(reps) || reps < 1) bad("reps", v.reps, "expected an integer >= 1");
  const settledS = Number(v["settled-s"]);
  if (!(settledS >= 4)) bad("settled-s", v["settled-s"], "expected at least 4");
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
  const out = v.out ?? `${ROOT}artifacts/bench-memory/${stamp}`;
  await Deno.mkdir(`${out}/logs`, { recursive: true });
  stopServersOnSignal("conn_memory");
  const meta = {
    startedAt: new Date().toISOString(),
    finishedAt: "",
    command: `deno run -A bench/conn_memory.ts ${Deno.args.join(" ")}`.trim(),
    versions: {
      deno: await firstLineOf(DENO, ["--version"]),
      bun: await firstLineOf(BUN, ["--version"]),
      node: await firstLineOf("node", ["--version"]),
      cpu: await cpuModel(),
      git: await firstLineOf("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"]),
    },
    serverCommands: Object.fromEntries(servers.map((s) => [s, SERVERS[s]!.cmd.join(" ").replaceAll(ROOT, "")])),
  };
  const runs: Run[] = [];
  const t0 = Date.now();
  let i = 0;
  for (let rep = 0; rep < reps; rep++) {
    for (const n of ns) {
      for (let k = 0; k < servers.length; k++) {
        const server = servers[(k + rep) % servers.length]!;
        console.error(
          `conn_memory: [${++i}] ${server} n=${n} rep ${rep + 1} (${Math.round((Date.now() - t0) / 1000)}s)`,
        );
        const loadBefore = await waitForQuiet(Number(v["quiet-wait-s"]), Number(v["quiet-cores"]));
        const run = await runOne(out, server, n, rep, settledS, i);
        run.loadBefore = loadBefore;
        runs.push(run);
        await saveResults(out, { meta, runs });
      }
    }
  }
  meta.finishedAt = new Date().toISOString();
  await finishResults("conn_memory", out, { meta, runs }, renderMemory, t0);
}

if (import.meta.main) await main();
