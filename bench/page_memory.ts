/**
 * Memory of a server whose page is asked for and not read (issue 23,
 * docs/security.md#http-bounded): N clients send `GET /` for a page of a
 * file of SIZE and never read the answer, so every response stays in
 * progress. Before the page was shared, each request rendered the whole file
 * into a string of its own (and the runtime encoded it again); now the page
 * of a version is rendered once and streamed from one buffer.
 *
 * "before" is a `git archive` of REV (default: the commit this work started
 * from) run from a temporary directory, "after" the working tree, in the same
 * run, on the same file, one after the other, each on a fresh process:
 *
 *   deno run -A bench/page_memory.ts [--before REV] [--runtime deno,bun] [--clients 10] [--size 4MiB] [--rounds 3]
 *
 * For each: start the server, load the page once (the first render), let it
 * settle, read VmRSS; open the clients; sample VmRSS every 50 ms for
 * `--hold` seconds; report the peak growth over the settled RSS (and
 * VmHWM's, which catches a peak between samples). Medians over rounds.
 */
import { parseArgs } from "node:util";
import * as net from "node:net";
import { ROOT, type RuntimeName, serverCommand, startServer, tempFile } from "../tests/helpers/harness.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    before: { type: "string", default: "bad2e5e" },
    runtime: { type: "string", default: "deno,bun" },
    clients: { type: "string", default: "10" },
    size: { type: "string", default: "4" },
    rounds: { type: "string", default: "3" },
    hold: { type: "string", default: "4" },
    json: { type: "string" },
  },
});
const CLIENTS = Number(values.clients);
const SIZE_MIB = Number(values.size);
const ROUNDS = Number(values.rounds);
const HOLD_MS = Number(values.hold) * 1000;
const RUNTIMES = values.runtime.split(",").map((s) => s.trim()) as RuntimeName[];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function status(pid: number): { rss: number; hwm: number } {
  const text = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? NaN) / 1024;
  return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
}

/** The tree at `rev`, extracted once into a temporary directory that shares this checkout's node_modules. */
async function checkout(rev: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: `filewatch-bench-${rev}-` });
  const archive = new Deno.Command("git", { args: ["-C", ROOT, "archive", rev], stdout: "piped" }).spawn();
  const tar = new Deno.Command("tar", { args: ["-x", "-C", dir], stdin: "piped" }).spawn();
  await archive.stdout.pipeTo(tar.stdin);
  if (!(await archive.status).success || !(await tar.status).success) throw new Error(`Cannot extract ${rev}`);
  await Deno.symlink(`${ROOT}node_modules`, `${dir}/node_modules`);
  return dir;
}

/** A log line of 100 bytes with characters the page escapes, so the render is as dear as a real log's. */
function content(mib: number): string {
  const line = `2026-12-07T00:00:00Z INFO <request id="1"> & "quoted" served in 12 ms`.padEnd(99, ".") + "\n";
  return line.repeat(Math.floor((mib * 1024 * 1024) / line.length));
}

/** Clients that ask for the page and never read a byte of the answer. */
async function unreadClients(port: number, n: number): Promise<net.Socket[]> {
  return await Promise.all(Array.from({ length: n }, () =>
    new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: "127.0.0.1", port }, () => {
        s.pause();
        s.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
        resolve(s);
      });
      s.once("error", reject);
    })));
}

interface Sample {
  settledMiB: number;
  peakGrowthMiB: number;
}

async function once(rt: RuntimeName, tree: string, file: string): Promise<Sample> {
  const entry = `${tree}/src/${rt}.ts`;
  const server = await startServer(rt, { file, command: serverCommand(rt, entry), args: ["--quiet"] });
  try {
    const first = await fetch(server.url);
    await first.arrayBuffer();
    await sleep(1_500);
    const settled = status(server.pid);
    const clients = await unreadClients(server.port, CLIENTS);
    let peak = settled.rss;
    const until = Date.now() + HOLD_MS;
    while (Date.now() < until) {
      peak = Math.max(peak, status(server.pid).rss);
      await sleep(50);
    }
    const hwm = status(server.pid).hwm - settled.hwm;
    for (const c of clients) c.destroy();
    return { settledMiB: settled.rss, peakGrowthMiB: Math.max(peak - settled.rss, hwm) };
  } finally {
    await server.stop();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const beforeTree = await checkout(values.before);
const afterTree = ROOT.replace(/\/$/, "");
const file = await tempFile(content(SIZE_MIB), "page.log");
const head = new TextDecoder().decode(
  (await new Deno.Command("git", { args: ["-C", ROOT, "rev-parse", "--short", "HEAD"], stdout: "piped" }).output())
    .stdout,
).trim();
console.log(
  `page memory: ${CLIENTS} clients asking for the page of a ${SIZE_MIB} MiB file and not reading it; ` +
    `before = ${values.before}, after = working tree at ${head}; ${ROUNDS} rounds each, medians`,
);
const rows: Array<Record<string, string | number>> = [];
for (const rt of RUNTIMES) {
  const results: Record<string, Sample[]> = { before: [], after: [] };
  for (let r = 0; r < ROUNDS; r++) {
    // Interleaved, so a change in the machine's load weighs on both alike.
    results.before!.push(await once(rt, beforeTree, file));
    results.after!.push(await once(rt, afterTree, file));
  }
  for (const [which, samples] of Object.entries(results)) {
    const row = {
      runtime: rt,
      code: which,
      settledMiB: Math.round(median(samples.map((s) => s.settledMiB))),
      growthMiB: Math.round(median(samples.map((s) => s.peakGrowthMiB))),
      perClientMiB: +(median(samples.map((s) => s.peakGrowthMiB)) / CLIENTS).toFixed(1),
      rounds: samples.map((s) => Math.round(s.peakGrowthMiB)).join(" "),
    };
    rows.push(row);
  }
}
console.log(
  "\n| runtime | code | RSS settled (MiB) | peak growth with the clients (MiB) | per client (MiB) | growth per round |",
);
console.log("| --- | --- | ---: | ---: | ---: | --- |");
for (const r of rows) {
  console.log(
    `| ${r.runtime} | ${r.code} | ${r.settledMiB} | ${r.growthMiB} | ${r.perClientMiB} | ${r.rounds} |`,
  );
}
if (values.json) {
  await Deno.writeTextFile(
    values.json,
    JSON.stringify({ clients: CLIENTS, sizeMiB: SIZE_MIB, before: values.before, after: head, rows }, null, 1),
  );
}
await Deno.remove(beforeTree, { recursive: true });
