/**
 * Search speed against grep, ripgrep and zgrep on the same page-cached files,
 * in one run (medians of 3): `deno run -A bench/search.ts [--mib 1024]`.
 *
 * Makes a realistic log of `--mib` MiB with planted markers in a temporary
 * directory (and a gzip of its first quarter), reads both once so they are
 * in the page cache, then times each search as a child process per runtime
 * (`deno run` / `bun`) as the server runs it, in the search worker: the time
 * from the search's start (the worker's start included) to the last event,
 * which includes counting the lines before the search's start (no line
 * index is given, the worst case). One row runs on the main thread, as
 * where no worker starts. Prints a Markdown table (the BENCHMARKS.md
 * "Search" section) and removes the files.
 * @module
 */
import { parseArgs } from "node:util";
import { createWriteStream, readFileSync, statSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { Buffer } from "node:buffer";
import process from "node:process";

const ROOT = new URL("..", import.meta.url).pathname;

/**
 * Child mode: one search, prints `ms matches`. As the server runs it: in the
 * search worker (src/search_pool.ts, its start counted), at the lower
 * priority where the runtime allows it; with `--here` on the main thread (the
 * path taken where no worker starts).
 */
async function child(path: string, qs: string, here: boolean): Promise<void> {
  const { parseSearchQuery } = await import("../src/scan/search.ts");
  const { closeSearchWorker, lowerSearchPriority, runSearch, searchHere } = await import("../src/search_pool.ts");
  const size = statSync(path).size;
  const p = parseSearchQuery(new URLSearchParams(qs), path.endsWith(".gz") ? Number.MAX_SAFE_INTEGER : size);
  if (!p.ok) throw new Error(p.reason);
  lowerSearchPriority(true);
  const job = { sources: [{ path, name: path, numbered: false }], query: p.query, history: false };
  const noIndex = () => Promise.reject(new Error("no line index: the search counts"));
  const signal = new AbortController().signal;
  const t0 = performance.now();
  let matches = 0;
  for await (const ev of (here ? searchHere : runSearch)(job, signal, noIndex)) {
    if ("done" in ev) matches = ev.matches;
  }
  console.log(`${(performance.now() - t0).toFixed(1)} ${matches}`);
  closeSearchWorker();
}

async function makeLog(path: string, mib: number): Promise<void> {
  const out = createWriteStream(path);
  let s = 12345;
  const rnd = () => (s = (s * 1103515245 + 12345) >>> 0) / 4294967296;
  const lv = ["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"];
  const paths = ["/api/users", "/api/orders", "/static/app.js", "/health", "/api/search?q=shoes", "/login"];
  const users = ["alice", "bob", "carol", "dave", "erin", "frank"];
  let t = Date.UTC(2026, 11, 6), written = 0, n = 0;
  const target = mib * 1024 * 1024;
  while (written < target) {
    const lines: string[] = [];
    for (let k = 0; k < 20000; k++) {
      t += Math.floor(rnd() * 20);
      n++;
      const l = lv[Math.floor(rnd() * 6)]!;
      let line = `${new Date(t).toISOString()} ${l} [worker-${Math.floor(rnd() * 8)}] GET ${
        paths[Math.floor(rnd() * 6)]
      }/${Math.floor(rnd() * 100000)} ${rnd() < 0.95 ? 200 : 503} ${Math.floor(rnd() * 900)}ms user=${
        users[Math.floor(rnd() * 6)]
      } req=${Math.floor(rnd() * 2 ** 31).toString(16)}`;
      if (n % 1000 === 7) line += " upstream connect error: timeout after 30s";
      if (n % 400_000 === 0) line += ` PLANTED-MARKER-${n}`;
      lines.push(line);
    }
    const chunk = lines.join("\n") + "\n";
    written += Buffer.byteLength(chunk);
    if (!out.write(chunk)) await new Promise<void>((r) => out.once("drain", () => r()));
  }
  await new Promise<void>((r) => out.end(() => r()));
}

function time(cmd: string, args: string[]): number {
  const t0 = performance.now();
  try {
    execFileSync(cmd, args, { stdio: ["ignore", "pipe", "ignore"], maxBuffer: 1 << 26 });
  } catch { /* grep exits 1 when nothing matches */ }
  return performance.now() - t0;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    options: {
      mib: { type: "string", default: "1024" },
      child: { type: "boolean", default: false },
      here: { type: "boolean", default: false },
    },
    allowPositionals: true,
  });
  if (values.child) return await child(positionals[0]!, positionals[1]!, values.here);
  const mib = Number(values.mib);
  const dir = await Deno.makeTempDir({ prefix: "fw-bench-search-" });
  const log = `${dir}/app.log`;
  try {
    console.error(`making ${mib} MiB in ${dir}`);
    await makeLog(log, mib);
    execFileSync("sh", ["-c", `head -c ${Math.floor(mib / 4)}M ${log} | gzip -6 > ${log}.gz`]);
    readFileSync(log); // into the page cache
    readFileSync(`${log}.gz`);
    const runtimes: [string, string[]][] = [
      ["deno", [ROOT + "node_modules/.bin/deno", "run", "-A", ROOT + "bench/search.ts", "--child"]],
      ["bun", [ROOT + "node_modules/.bin/bun", ROOT + "bench/search.ts", "--child"]],
    ];
    const ours = (rt: string[], path: string, qs: string) => {
      const t0 = performance.now();
      const here = qs.startsWith("here:");
      const args = [...rt.slice(1), ...(here ? ["--here"] : []), path, qs.replace(/^here:/, "")];
      const out = execFileSync(rt[0]!, args, { encoding: "utf8" });
      const wall = performance.now() - t0;
      const [ms, matches] = out.trim().split(" ");
      return { ms: Number(ms), wall, matches: Number(matches) };
    };
    const rows: string[] = [];
    const cases: [string, string, string, [string, string[]][]][] = [
      ["literal, case-sensitive", log, "q=PLANTED-MARKER&case=1&limit=10000", [["grep -c -F", [
        "grep",
        "-c",
        "-F",
        "PLANTED-MARKER",
        log,
      ]], ["rg -c", ["rg", "-c", "-F", "PLANTED-MARKER", log]]]],
      ["literal, case-insensitive (default)", log, "q=planted-marker&limit=10000", [
        ["grep -c -F -i", ["grep", "-c", "-F", "-i", "planted-marker", log]],
        ["grep -c -F", ["grep", "-c", "-F", "PLANTED-MARKER", log]],
        ["rg -c -i", ["rg", "-c", "-i", "-F", "planted-marker", log]],
      ]],
      ["regex with a literal", log, "q=error.*timeout&regex=1&case=1&limit=10000", [["grep -c -E", [
        "grep",
        "-c",
        "-E",
        "error.*timeout",
        log,
      ]], ["rg -c", ["rg", "-c", "error.*timeout", log]]]],
      ["regex, no literal", log, "q=%5B0-9%5D%7B5%7Dms&regex=1&case=1&limit=10000", [["grep -c -E", [
        "grep",
        "-c",
        "-E",
        "[0-9]{5}ms",
        log,
      ]], ["rg -c", ["rg", "-c", "[0-9]{5}ms", log]]]],
      ["regex, no literal, on the main thread", log, "here:q=%5B0-9%5D%7B5%7Dms&regex=1&case=1&limit=10000", [[
        "grep -c -E",
        ["grep", "-c", "-E", "[0-9]{5}ms", log],
      ]]],
      [".gz literal (256 MiB log)", `${log}.gz`, "q=PLANTED-MARKER&case=1&dir=fwd&limit=10000", [["zgrep -c", [
        "zgrep",
        "-c",
        "-F",
        "PLANTED-MARKER",
        `${log}.gz`,
      ]]]],
    ];
    for (const [name, path, qs, anchors] of cases) {
      const anchorMs = anchors.map(([label, [cmd, ...args]]) =>
        [label, median([0, 1, 2].map(() => time(cmd!, args)))] as const
      );
      for (const [rt, argv] of runtimes) {
        const r = [0, 1, 2].map(() => ours(argv, path, qs));
        const ms = median(r.map((x) => x.ms));
        const ratios = anchorMs.map(([l, a]) => `${(a / ms).toFixed(2)}× ${l} (${a.toFixed(0)} ms)`).join(", ");
        rows.push(`| ${name} | ${rt} | ${r[0]!.matches} | ${ms.toFixed(0)} | ${ratios} |`);
        console.error(rows.at(-1));
      }
    }
    console.log(
      `${mib} MiB log (${statSync(log).size} bytes), .gz of its first ${Math.floor(mib / 4)} MiB (${
        statSync(`${log}.gz`).size
      } bytes)\n`,
    );
    console.log(
      "| search | runtime | matches | ours ms (median of 3) | speed relative to the anchor (anchor median) |",
    );
    console.log("| --- | --- | ---: | ---: | --- |");
    for (const r of rows) console.log(r);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
