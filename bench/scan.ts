/**
 * Line counting and the line index against `wc -l` (issue 24): on one
 * page-cached log of 1 GiB, in one run, medians of 3, each round timing
 * `wc -l`, then the line index built by src/scan/line_index.ts on Deno and
 * on Bun, and, for the record, src/scan/newlines.ts counting the same bytes
 * with its JavaScript fallback. The budget: the index at ≥ 0.5× `wc -l`'s
 * speed.
 *
 * ```sh
 * node_modules/.bin/deno run -A bench/scan.ts                  # print the section
 * node_modules/.bin/deno run -A bench/scan.ts --write          # and put it in BENCHMARKS.md
 * node_modules/.bin/deno run -A bench/scan.ts --size 256MiB --runs 1   # quick
 * node_modules/.bin/deno run -A bench/scan.ts --file /var/log/big.log  # a log of your own
 * ```
 *
 * The log is made here (about 100 bytes a line, stamped like an app's log)
 * in a temporary directory, read once so it is in the page cache, and
 * removed at the end. Each runtime's figures come from a child process
 * running this file with `--child FILE` (timing inside the process, so
 * start-up is not counted; `wc -l`'s own start-up is about a millisecond).
 * The child also builds the index with asynchronous reads on the main thread
 * alone, and reports the longest gap a 1 ms interval timer saw during each
 * build: how long the build held the event loop.
 * @module
 */
import { open } from "node:fs/promises";
import process from "node:process";
import { parseArgs } from "node:util";
import { waitForQuiet } from "./_machine.ts";
import { closeIndexWorker } from "../src/scan/_index_pool.ts";
import { LineIndex, type LineIndexOptions } from "../src/scan/line_index.ts";
import { countNewlinesJs, NewlineScanner, simdAvailable } from "../src/scan/newlines.ts";

const BEGIN = "<!-- line-index:begin (bench/scan.ts) -->";
const END = "<!-- line-index:end -->";

/** What one child run measures. */
interface ChildFigures {
  indexMs: number;
  maxGapMs: number;
  /** The same build on the main thread alone (asynchronous reads), for comparison. */
  mainMs: number;
  mainGapMs: number;
  total: number | null;
  entries: number;
  memoryBytes: number;
  builtIn: string | null;
  jsCountMs: number;
  simd: boolean;
}

/** Builds the index of `path` once, timing it and the longest gap a 1 ms interval timer sees meanwhile. */
async function timedBuild(path: string, options: LineIndexOptions) {
  const fh = await open(path, "r");
  const st = await fh.stat();
  await fh.close();
  const index = new LineIndex(() => open(path, "r"), options);
  let maxGap = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
  }, 1);
  const t0 = performance.now();
  index.sync({ dev: st.dev, ino: st.ino, size: st.size });
  index.start();
  await index.waitFor(() => index.complete, 600_000);
  const ms = performance.now() - t0;
  clearInterval(timer);
  return { index, ms, maxGap };
}

/** In the child: build the index of `path` (in the worker, then on the main thread) and count it with the JS fallback. */
async function child(path: string): Promise<ChildFigures> {
  const worker = await timedBuild(path, { path });
  closeIndexWorker();
  const main = await timedBuild(path, { path, workerMinBytes: Infinity });
  const index = worker.index;

  const scanner = new NewlineScanner(undefined, true);
  const js = await open(path, "r");
  const t1 = performance.now();
  let n = 0;
  for (let pos = 0;;) {
    const { bytesRead } = await js.read(scanner.buffer, 0, scanner.buffer.length, pos);
    if (!bytesRead) break;
    n += countNewlinesJs(scanner.buffer.subarray(0, bytesRead));
    pos += bytesRead;
  }
  const jsCountMs = performance.now() - t1;
  await js.close();
  if (n !== index.newlines || main.index.total !== index.total) {
    throw new Error(`the counts differ: JS ${n}, index ${index.newlines}, main thread ${main.index.newlines}`);
  }
  return {
    indexMs: worker.ms,
    maxGapMs: worker.maxGap,
    mainMs: main.ms,
    mainGapMs: main.maxGap,
    total: index.total,
    entries: index.entries,
    memoryBytes: index.memoryBytes,
    builtIn: index.builtIn,
    jsCountMs,
    simd: simdAvailable(),
  };
}

function parseSize(s: string): number {
  const m = /^(\d+)(B|KiB|MiB|GiB)?$/.exec(s);
  if (!m) throw new RangeError(`Cannot parse --size "${s}": expected a size like 1GiB or 256MiB`);
  return Number(m[1]) * { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 }[m[2] ?? "B"]!;
}

/** Writes a log of `size` bytes: lines of 40 to 130 bytes with an ISO stamp, a level and some words. */
async function writeLog(path: string, size: number): Promise<void> {
  const enc = new TextEncoder();
  const words = ["GET", "POST", "user", "login", "failed", "ok", "cache", "miss", "db", "query", "took", "ms"];
  const f = await Deno.open(path, { write: true, create: true, truncate: true });
  let t = Date.UTC(2026, 11, 6);
  let n = 0;
  try {
    for (let written = 0; written < size;) {
      let s = "";
      while (s.length < 1 << 20) {
        n++;
        t += 7;
        s += `${new Date(t).toISOString()} INFO [w${n % 8}] line ${n} ${words[n % 12]} ${words[(n * 7) % 12]} ${
          "x".repeat((n * 31) % 70)
        }\n`;
      }
      let b = enc.encode(s).subarray(0, size - written);
      written += b.length;
      while (b.length) b = b.subarray(await f.write(b));
    }
  } finally {
    f.close();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function wcLines(path: string): Promise<{ ms: number; lines: number }> {
  const t0 = performance.now();
  const out = await new Deno.Command("wc", { args: ["-l", path], stdout: "piped" }).output();
  const ms = performance.now() - t0;
  return { ms, lines: Number(new TextDecoder().decode(out.stdout).trim().split(/\s+/)[0]) };
}

async function runChild(runtime: "deno" | "bun", path: string): Promise<ChildFigures> {
  const bin = new URL(`../node_modules/.bin/${runtime}`, import.meta.url).pathname;
  const self = new URL(import.meta.url).pathname;
  const args = runtime === "deno" ? ["run", "-A", self, "--child", path] : [self, "--child", path];
  const out = await new Deno.Command(bin, { args, stdout: "piped", stderr: "inherit" }).output();
  if (!out.success) throw new Error(`${runtime} child failed`);
  return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
}

async function version(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped" }).output().catch(() => null);
  return out ? new TextDecoder().decode(out.stdout).trim().split("\n")[0]! : "?";
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      size: { type: "string", default: "1GiB" },
      runs: { type: "string", default: "3" },
      file: { type: "string" },
      write: { type: "boolean", default: false },
    },
  });
  const runs = Number(values.runs);
  let dir: string | undefined;
  let path = values.file;
  if (!path) {
    dir = await Deno.makeTempDir({ prefix: "filewatch-scan-" });
    path = `${dir}/bench.log`;
    console.error(`writing ${values.size} to ${path}`);
    await writeLog(path, parseSize(values.size!));
  }
  try {
    const size = (await Deno.stat(path)).size;
    await new Deno.Command("cat", { args: [path], stdout: "null" }).output(); // into the page cache
    const wc: number[] = [];
    const fig: Record<"deno" | "bun", ChildFigures[]> = { deno: [], bun: [] };
    let wcCount = 0;
    const loads: number[] = [];
    for (let r = 0; r < runs; r++) {
      // Others share this machine: each round waits (up to 30 s) for a second with less than a core busy.
      loads.push(await waitForQuiet(30, 1));
      const w = await wcLines(path);
      wc.push(w.ms);
      wcCount = w.lines;
      for (const rt of ["deno", "bun"] as const) {
        const f = await runChild(rt, path);
        fig[rt].push(f);
        console.error(`round ${r + 1}: wc -l ${w.ms.toFixed(0)} ms, ${rt} index ${f.indexMs.toFixed(0)} ms`);
      }
    }
    const gib = size / 1024 ** 3;
    const wcMs = median(wc);
    const rows = (["deno", "bun"] as const).map((rt) => {
      const f = fig[rt];
      const idx = median(f.map((x) => x.indexMs));
      const last = f[f.length - 1]!;
      // wc -l counts newlines; the index counts a last line without one too.
      if (last.total !== null && last.total - wcCount > 1) {
        throw new Error(`${rt}: total ${last.total} vs wc ${wcCount}`);
      }
      if (last.builtIn !== "worker") throw new Error(`${rt}: the index was built on the ${last.builtIn} thread`);
      const mainMs = median(f.map((x) => x.mainMs));
      const gap = (k: "maxGapMs" | "mainGapMs") => median(f.map((x) => x[k])).toFixed(1);
      return `| ${rt} | ${(idx / 1000 / gib).toFixed(2)} s/GiB (${
        f.map((x) => x.indexMs.toFixed(0)).join(", ")
      } ms) | ${(wcMs / idx).toFixed(2)}× | ${gap("maxGapMs")} ms | ${(mainMs / 1000 / gib).toFixed(2)} s/GiB, ${
        (wcMs / mainMs).toFixed(2)
      }×, gap ${gap("mainGapMs")} ms | ${last.entries} / ${(last.memoryBytes / 1024 / gib).toFixed(0)} KiB per GiB | ${
        (median(f.map((x) => x.jsCountMs)) / 1000 / gib).toFixed(2)
      } s/GiB | ${last.simd ? "yes" : "no"} |`;
    });
    const cpu = /^model name\s*:\s*(.*)$/m.exec(await Deno.readTextFile("/proc/cpuinfo"))?.[1] ?? "?";
    const section = [
      BEGIN,
      "## The line index vs `wc -l` (issue 24)",
      "",
      "```sh",
      `node_modules/.bin/deno run -A bench/scan.ts --write${values.size !== "1GiB" ? ` --size ${values.size}` : ""}`,
      "```",
      "",
      `A ${(size / 1024 ** 3).toFixed(2)} GiB log (${
        wcCount.toLocaleString("en")
      } lines, page-cached), ${runs} rounds; ` +
      `each round: \`wc -l\`, then a fresh process per runtime building the line index (src/scan/line_index.ts: ` +
      `1 MiB synchronous positioned reads in the index worker, newlines counted with WebAssembly SIMD; the worker's ` +
      `start is counted). For comparison, the same build with asynchronous reads on the main thread alone (what ` +
      `an append is indexed with), and the JavaScript fallback's count (src/scan/newlines.ts without WebAssembly). ` +
      `The event-loop gap: the longest a 1 ms interval timer waited meanwhile. Medians; the rounds' figures in brackets. ` +
      `\`wc -l\`: ${(wcMs / 1000 / gib).toFixed(2)} s/GiB (${wc.map((x) => x.toFixed(0)).join(", ")} ms). ` +
      `Budget: the index at ≥ 0.5× \`wc -l\`'s speed.`,
      "",
      "| runtime | line index | speed vs `wc -l` | longest event-loop gap while building | the same on the main thread alone | entries / memory | JS fallback count | SIMD |",
      "| --- | --- | --- | --- | --- | --- | --- | --- |",
      ...rows,
      "",
      "The worker reads as `wc -l` does, synchronously, into one buffer; on the main thread each asynchronous read is " +
      "a round trip through the runtime's thread pool, which costs most on a busy machine. The worker's gap is its " +
      "start (Deno's `Worker` constructor holds the main thread; one worker serves every file, and ends after 30 s " +
      "idle). The index holds 16 bytes per 256 KiB of file.",
      "",
      `${cpu}, ${navigator.hardwareConcurrency} cores shared with other work (busy cores in the second before each ` +
      `round: ${loads.join(", ")}); ${await version("wc", ["--version"])}; ` +
      `Deno ${Deno.version.deno}, Bun ${await version(new URL("../node_modules/.bin/bun", import.meta.url).pathname, [
        "--version",
      ])}.`,
      END,
    ].join("\n");
    console.log(section);
    if (values.write) {
      const file = new URL("../BENCHMARKS.md", import.meta.url);
      const text = await Deno.readTextFile(file);
      const a = text.indexOf(BEGIN), b = text.indexOf(END);
      await Deno.writeTextFile(
        file,
        a >= 0 && b > a
          ? text.slice(0, a) + section + text.slice(b + END.length)
          : text.trimEnd() + "\n\n" + section + "\n",
      );
    }
  } finally {
    if (dir) await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const i = process.argv.indexOf("--child");
  if (i >= 0) console.log(JSON.stringify(await child(process.argv[i + 1]!)));
  else await main();
}
