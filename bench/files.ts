/**
 * Several files (issue 13): what a directory of many files costs.
 *
 * For each runtime, one server at a time:
 * 1. **idle**: `--dir` of FILES files, default poll (1 s), nobody connected:
 *    server CPU over a window, RSS at its end. Goal: ≤ 1 % of a core, ≤ 64 MiB.
 * 2. **idle + index**: the same with one index page open (it asks `/files`
 *    every poll period).
 * 3. **one file × 10 viewers** (the baseline, same run): one FILE appended to
 *    once a second.
 * 4. **FILES files × 10 viewers**: every file appended to once a second
 *    (the writes spread over the second).
 * CPU per change = server CPU seconds over the window / changes written.
 *
 * ```sh
 * flock /work/heavy.lock node_modules/.bin/deno run -A bench/files.ts            # 1000 files, 20 s windows
 * node_modules/.bin/deno run -A bench/files.ts --files 100 --seconds 5 --runtimes deno   # smoke run
 * ```
 *
 * Results: bench/results/<date>-files/results.json and summary.md (printed).
 * Every server and client started here is stopped here. Only 127.0.0.1 is used.
 * @module
 */
import { parseArgs } from "node:util";
import { cpuModel, waitForQuiet } from "./_machine.ts";
import { interrupted, startServer, stopServersOnSignal } from "./_servers.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const DENO = `${ROOT}node_modules/.bin/deno`;
const BUN = `${ROOT}node_modules/.bin/bun`;
const CMD: Record<string, string[]> = {
  deno: [DENO, "run", "--allow-net", "--allow-read", "--allow-env", "src/deno.ts"],
  bun: [BUN, "run", "src/bun.ts"],
};
const FLAGS = [
  "--port",
  "0",
  "--max-clients",
  "20000",
  "--max-clients-per-ip",
  "0",
  "--max-requests-per-ip",
  "0",
  "--quiet",
];

const { values: v } = parseArgs({
  args: Deno.args,
  options: {
    files: { type: "string", default: "1000" },
    viewers: { type: "string", default: "10" },
    seconds: { type: "string", default: "20" },
    runtimes: { type: "string", default: "deno,bun" },
    out: { type: "string" },
  },
});
const FILES = Number(v.files);
const VIEWERS = Number(v.viewers);
const SECONDS = Number(v.seconds);
const RUNTIMES = v.runtimes!.split(",");
stopServersOnSignal("bench/files");

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cpuOf = (pid: number) => {
  const s = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
};
const memOf = (pid: number) => {
  const s = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(s)?.[1] ?? NaN);
  return { rssMiB: kib("VmRSS") / 1024, hwmMiB: kib("VmHWM") / 1024 };
};

interface Row {
  runtime: string;
  scenario: string;
  files: number;
  viewers: number;
  seconds: number;
  cpuS: number;
  cpuPctOfCore: number;
  changes: number;
  messages: number;
  msCpuPerChange: number | null;
  rssMiB: number;
  hwmMiB: number;
  machineLoad: number;
}

const root = await Deno.makeTempDir({ prefix: "filewatch-bench-files-" });
const dir = `${root}/dir`;
await Deno.mkdir(dir);
const names = Array.from({ length: FILES }, (_, i) => `f${String(i).padStart(4, "0")}.log`);
for (const n of names) await Deno.writeTextFile(`${dir}/${n}`, `${n} line 0\n`);
await Deno.writeTextFile(`${root}/names.txt`, names.join("\n") + "\n");
await Deno.mkdir(`${root}/one`);
await Deno.writeTextFile(`${root}/one/one.log`, "one line 0\n");

async function serve(rt: string, args: string[]) {
  const s = await startServer([...CMD[rt]!, ...FLAGS, ...args], {
    cwd: ROOT,
    logPath: `${root}/${rt}.log`,
    startupLine: /^filewatch: watching .* on (http:\/\/\S+\/)$/,
  });
  const m = await s.startup(20_000);
  return { s, url: m[1]!, pid: s.child.pid };
}

/** Starts the load client with `viewers` sockets per name; resolves once all are open. */
async function viewersOf(wsBase: string, namesArg: string, viewers: number) {
  const child = new Deno.Command("node", {
    args: [`${ROOT}bench/files_client.mjs`, wsBase, String(viewers), namesArg],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
    signal: interrupted.signal,
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  const line = async () => {
    while (!buf.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) throw new Error("load client ended");
      buf += value;
    }
    const i = buf.indexOf("\n");
    const l = buf.slice(0, i);
    buf = buf.slice(i + 1);
    return l;
  };
  const ready = await line();
  const writer = child.stdin.getWriter();
  const enc = new TextEncoder();
  return {
    ready,
    async count(): Promise<number> {
      await writer.write(enc.encode("count\n"));
      return JSON.parse(await line()).messages;
    },
    async stop(): Promise<number> {
      await writer.write(enc.encode("stop\n"));
      const n = JSON.parse(await line()).messages;
      await writer.close().catch(() => {});
      await child.status;
      return n;
    },
  };
}

/** Appends a line to each path once a second for `seconds`, spread over each second; returns the changes made. */
async function writeEverySecond(paths: string[], seconds: number): Promise<number> {
  let changes = 0;
  const start = performance.now();
  for (let sec = 0; sec < seconds; sec++) {
    for (let i = 0; i < paths.length; i++) {
      const due = start + sec * 1000 + (i * 1000) / paths.length;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      await Deno.writeTextFile(paths[i]!, `line ${sec + 1} ${"x".repeat(60)}\n`, { append: true });
      changes++;
    }
  }
  const left = start + seconds * 1000 - performance.now();
  if (left > 0) await sleep(left);
  return changes;
}

const rows: Row[] = [];
async function measure(
  rt: string,
  scenario: string,
  pid: number,
  files: number,
  viewers: number,
  during: () => Promise<{ changes: number }>,
  messages: () => Promise<number> = () => Promise.resolve(0),
) {
  const load = await waitForQuiet(20, 1.5);
  const m0 = await messages();
  const c0 = cpuOf(pid);
  const t0 = performance.now();
  const { changes } = await during();
  const c1 = cpuOf(pid);
  const seconds = (performance.now() - t0) / 1000;
  await sleep(1_500); // the last changes' messages arrive
  const m1 = await messages();
  const mem = memOf(pid);
  const cpuS = c1 - c0;
  const row: Row = {
    runtime: rt,
    scenario,
    files,
    viewers,
    seconds: Math.round(seconds * 10) / 10,
    cpuS: Math.round(cpuS * 100) / 100,
    cpuPctOfCore: Math.round((cpuS / seconds) * 1000) / 10,
    changes,
    messages: m1 - m0,
    msCpuPerChange: changes > 0 ? Math.round((cpuS * 1000 / changes) * 1000) / 1000 : null,
    rssMiB: Math.round(mem.rssMiB * 10) / 10,
    hwmMiB: Math.round(mem.hwmMiB * 10) / 10,
    machineLoad: load,
  };
  rows.push(row);
  console.error(JSON.stringify(row));
}

try {
  for (const rt of RUNTIMES) {
    // 1 and 2: idle, then idle with an index page polling /files.
    {
      const { s, url, pid } = await serve(rt, ["--dir", dir]);
      try {
        await sleep(3_000);
        await measure(rt, "idle, no viewers", pid, FILES, 0, async () => {
          await sleep(SECONDS * 1000);
          return { changes: 0 };
        });
        await measure(rt, "idle, one index page (GET /files every 1 s)", pid, FILES, 0, async () => {
          for (let i = 0; i < SECONDS; i++) {
            const t = performance.now();
            await (await fetch(url + "files")).arrayBuffer();
            await sleep(Math.max(0, 1000 - (performance.now() - t)));
          }
          return { changes: 0 };
        });
      } finally {
        await s.stop();
      }
    }
    // 3: the baseline, one file × VIEWERS.
    {
      const { s, url, pid } = await serve(rt, [`${root}/one/one.log`]);
      try {
        const c = await viewersOf(url.replace(/^http/, "ws") + "ws/", "one.log", VIEWERS);
        await measure(rt, `1 file × ${VIEWERS} viewers, 1 change/s`, pid, 1, VIEWERS, async () => ({
          changes: await writeEverySecond([`${root}/one/one.log`], SECONDS),
        }), () => c.count());
        await c.stop();
      } finally {
        await s.stop();
      }
    }
    // 4: FILES files × VIEWERS, each changing once a second.
    {
      const { s, url, pid } = await serve(rt, ["--dir", dir]);
      try {
        const c = await viewersOf(url.replace(/^http/, "ws") + "ws/", `@${root}/names.txt`, VIEWERS);
        console.error(`${rt}: ${c.ready} sockets`);
        await sleep(2_000);
        const w = await (await fetch(url + "metrics")).text();
        console.error(w.split("\n").filter((l) => /^filewatch_(watchers|clients|watch_mode)/.test(l)).join(" | "));
        await measure(rt, `${FILES} files × ${VIEWERS} viewers, each 1 change/s`, pid, FILES, VIEWERS, async () => ({
          changes: await writeEverySecond(names.map((n) => `${dir}/${n}`), SECONDS),
        }), () => c.count());
        await c.stop();
      } finally {
        await s.stop();
      }
    }
  }
} finally {
  await Deno.remove(root, { recursive: true }).catch(() => {});
}

const date = new Date().toISOString().slice(0, 10);
const out = v.out ?? `${ROOT}bench/results/${date}-files`;
await Deno.mkdir(out, { recursive: true });
const cpu = await cpuModel();
await Deno.writeTextFile(`${out}/results.json`, JSON.stringify({ cpu, argv: Deno.args, rows }, null, 2) + "\n");
const md = [
  `| runtime | scenario | CPU (% of a core) | ms CPU per change | changes | messages | RSS MiB | peak RSS MiB |`,
  `| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |`,
  ...rows.map((r) =>
    `| ${r.runtime} | ${r.scenario} | ${r.cpuPctOfCore} | ${
      r.msCpuPerChange ?? "–"
    } | ${r.changes} | ${r.messages} | ${r.rssMiB} | ${r.hwmMiB} |`
  ),
].join("\n");
await Deno.writeTextFile(`${out}/summary.md`, `${cpu}; ${SECONDS} s windows\n\n${md}\n`);
console.log(md);
