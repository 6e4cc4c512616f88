/**
 * Change detection figures (issue 6): write → first client latency with file
 * events and with `--no-events`, on Deno and on Bun, and the torn-payload
 * counts of a 1,000-operation torture run (tests/e2e/torture.test.ts).
 *
 * ```sh
 * node_modules/.bin/deno run -A bench/detect.ts                  # print the section
 * node_modules/.bin/deno run -A bench/detect.ts --write          # and put it in BENCHMARKS.md
 * node_modules/.bin/deno run -A bench/detect.ts --samples 20 --torture-writes 0   # latency only, quick
 * ```
 *
 * Latency: one filewatch.v1 client per server; each sample waits 150–300 ms
 * (the file is quiet, and without events the poll's phase is random), then
 * rewrites the file — in place (truncate + write) or by write-temp + rename,
 * alternately — and times from just before the write call to the moment the
 * client has the new content. Writer and client run in this process, on one
 * clock.
 *
 * With `--write`, the section between the `change-detection` markers in
 * BENCHMARKS.md is replaced, or appended at the end when there is none; the
 * rest of the file is left as it is (the file is read again right before).
 *
 * Every server started here is stopped here.
 * @module
 */
import { parseArgs } from "node:util";
import { connect, sleep } from "../tests/helpers/client.ts";
import { ROOT, type RuntimeName, startServer, tempFile, waitFor } from "../tests/helpers/harness.ts";
import type { TortureFigures } from "../tests/e2e/torture.test.ts";
import { EVENT_DEBOUNCE_MS } from "../src/schedule.ts";
import { SETTLE_MS } from "../src/settle.ts";

const POLL_MS = 100;
const BEGIN = "<!-- change-detection:begin (bench/detect.ts) -->";
const END = "<!-- change-detection:end -->";

interface LatencyRow {
  runtime: RuntimeName;
  mode: "events" | "no-events";
  writer: "in place" | "rename" | "all";
  ms: number[];
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}
const f1 = (x: number) => x.toFixed(1);

/** write → first client, `samples` times, on one server. */
async function latency(runtime: RuntimeName, mode: "events" | "no-events", samples: number): Promise<LatencyRow[]> {
  const file = await tempFile("start\n");
  const dir = file.slice(0, file.lastIndexOf("/"));
  const s = await startServer(runtime, {
    file,
    args: ["--poll", `${POLL_MS}ms`, "--quiet", ...(mode === "no-events" ? ["--no-events"] : [])],
  });
  const inPlace: number[] = [];
  const renamed: number[] = [];
  try {
    const c = connect(s.wsUrl, { protocols: ["filewatch.v1"] });
    let expect = "";
    let sentAt = 0;
    let got = -1;
    c.ws.on("message", (data: Uint8Array) => {
      const now = performance.now();
      const m = JSON.parse(new TextDecoder().decode(data));
      if (m.type === "content" && m.data === expect && got < 0) got = now - sentAt;
    });
    await c.opened;
    await waitFor(() => c.messages.length > 0, 5_000, "the first content");
    for (let i = 0; i < samples; i++) {
      await sleep(150 + Math.random() * 150);
      const rename = i % 2 === 1;
      expect = `sample ${i} ${"x".repeat(100 + (i % 7) * 300)}\n`;
      got = -1;
      if (rename) {
        await Deno.writeTextFile(`${dir}/.tmp`, expect);
        sentAt = performance.now();
        Deno.renameSync(`${dir}/.tmp`, file);
      } else {
        sentAt = performance.now();
        Deno.writeTextFileSync(file, expect);
      }
      await waitFor(() => got >= 0, 5_000, `sample ${i}`);
      (rename ? renamed : inPlace).push(got);
    }
    c.close();
  } finally {
    await s.stop();
    await Deno.remove(dir, { recursive: true });
  }
  return [
    { runtime, mode, writer: "in place", ms: inPlace },
    { runtime, mode, writer: "rename", ms: renamed },
    { runtime, mode, writer: "all", ms: [...inPlace, ...renamed] },
  ];
}

/** Runs the torture test as the suite does, with more operations; its figures per runtime and mode. */
async function torture(writes: number, seed: number, runtimes: RuntimeName[]) {
  const reportDir = await Deno.makeTempDir({ prefix: "filewatch-torture-" });
  const out = await new Deno.Command(`${ROOT}node_modules/.bin/deno`, {
    // The idle runs only: the runs under a CPU hog are their own figures (RELIABILITY.md).
    args: ["test", "-A", "--filter", "/torture \\((no-)?events\\): /", "tests/e2e/torture.test.ts"],
    cwd: ROOT,
    env: {
      NO_COLOR: "1",
      FILEWATCH_TORTURE_WRITES: String(writes),
      FILEWATCH_TORTURE_SEED: String(seed),
      FILEWATCH_REPORT_DIR: reportDir,
      FILEWATCH_TEST_RUNTIMES: runtimes.join(","),
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const log = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  const figures: Array<TortureFigures & { passed: boolean }> = [];
  for (const rt of runtimes) {
    for (const mode of ["events", "no-events"] as const) {
      const f = JSON.parse(await Deno.readTextFile(`${reportDir}/torture-${rt}-${mode}.json`)) as TortureFigures;
      const passed = new RegExp(`\\[${rt}\\] torture \\(${mode}\\).* \\.\\.\\. ok`).test(log);
      figures.push({ ...f, passed });
    }
  }
  await Deno.remove(reportDir, { recursive: true });
  const duration = /\(((\d+m)?\d+s)\)\s*$/m.exec(log.split("\n").filter((l) => /passed \|/.test(l)).pop() ?? "")?.[1];
  return { figures, ok: out.success, log, duration };
}

async function text(cmd: string, args: string[]): Promise<string> {
  try {
    const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).output();
    return new TextDecoder().decode(o.stdout).trim();
  } catch {
    return "?";
  }
}

async function machine(): Promise<string[]> {
  const cpu = /model name\s*:\s*(.*)/.exec(await Deno.readTextFile("/proc/cpuinfo").catch(() => ""))?.[1] ?? "?";
  const fs = await text("findmnt", ["-n", "-o", "FSTYPE", "-T", Deno.env.get("TMPDIR") ?? "/tmp"]);
  return [
    `Deno ${(await text(`${ROOT}node_modules/.bin/deno`, ["--version"])).split("\n")[0]?.replace(/^deno /, "")}, ` +
    `Bun ${await text(`${ROOT}node_modules/.bin/bun`, ["--version"])}`,
    `${await text("uname", ["-sr"])}, ${navigator.hardwareConcurrency} × ${cpu}, temp files on ${fs}`,
    `load average at the start ${
      (await Deno.readTextFile("/proc/loadavg").catch(() => "?")).split(" ").slice(0, 3).join(" ")
    }` +
    " (a shared machine: other people's tests were running)",
  ];
}

function section(
  cmd: string,
  meta: string[],
  rows: LatencyRow[],
  t: Awaited<ReturnType<typeof torture>> | null,
  tortureWrites: number,
  seed: number,
): string {
  const L: string[] = [];
  L.push(BEGIN, "## Change detection", "");
  L.push(`Measured ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC with \`${cmd}\`.`);
  for (const m of meta) L.push(`- ${m}`);
  L.push("");
  L.push(`### Write → first client (\`--poll ${POLL_MS}ms\`)`, "");
  L.push(
    "One filewatch.v1 client; from just before the write call to the client holding the new content. " +
      `Each new version is read twice, ${SETTLE_MS} ms apart, before it is sent (the settle read), and events are ` +
      `debounced ${EVENT_DEBOUNCE_MS} ms; without events a change waits for the next poll.`,
    "",
  );
  L.push("| runtime | detection | writer | samples | p50 ms | p90 ms | max ms |", "|---|---|---|---:|---:|---:|---:|");
  for (const r of rows) {
    if (r.ms.length === 0) continue;
    const b = r.writer === "all" ? "**" : "";
    L.push(
      `| ${r.runtime} | ${r.mode === "events" ? "events + poll" : "--no-events"} | ${r.writer} | ${r.ms.length} | ` +
        `${b}${f1(quantile(r.ms, 0.5))}${b} | ${b}${f1(quantile(r.ms, 0.9))}${b} | ${f1(Math.max(...r.ms))} |`,
    );
  }
  L.push("");
  if (t) {
    L.push(`### Torture: ${tortureWrites} operations per run (seed ${seed})`, "");
    L.push(
      "`tests/e2e/torture.test.ts`: in-place overwrite, truncate+write, append, write-temp+rename, " +
        "delete+recreate, same-tick rewrites of one size, replace by an older copy; gaps 0–50 ms; " +
        "in-place writers write 16 KiB chunks with consecutive system calls. A payload that is no " +
        "finished version is torn; it is matched to the half-written state it shows. Delivery is timed " +
        "at the checkpoints (every 50 operations) and for the last version.",
      "",
    );
    const kinds = ["overwrite", "truncate-write", "append", "recreate", "same-tick", "rename", "older"];
    L.push(
      "| runtime | detection | versions written | payloads | torn: " + kinds.join(" / ") +
        " | torn by how long the state lasted: < 10 ms / twin / unsure / ≥ 10 ms" +
        " | repeats | backwards | token reuse | last version ms | checkpoints p50 / p90 / max ms | result |",
      "|---|---|---:|---:|---|---|---:|---:|---:|---:|---|---|",
    );
    for (const f of t.figures) {
      L.push(
        `| ${f.runtime} | ${f.mode === "events" ? "events + poll" : "--no-events"} | ${f.versionsWritten} | ` +
          `${f.payloads} (${f.errorPayloads} "not found") | ${f.torn}: ${
            kinds.map((k) => f.tornByKind[k] ?? 0).join(" / ")
          } | ${f.tornShort} / ${f.tornTwin} / ${f.tornUnsure} / ${f.tornStalled} | ` +
          `${f.duplicatesInARow} | ${f.backwards} | ${f.tokenCollisions} | ${f.finalMs ?? "missed"} | ` +
          `${f.deliveryP50} / ${f.deliveryP90} / ${f.deliveryMax} | ${f.passed ? "pass" : "**fail**"} |`,
      );
    }
    const torn = t.figures.flatMap((f) =>
      f.tornDetail.map((x) =>
        `- torn, ${f.runtime} ${f.mode}: ${x.kind} (operation ${x.op}), ${x.bytes} bytes; the state lasted ` +
        (x.minMs === null ? "(no recorded state)" : `${x.minMs}–${x.maxMs} ms`) + ` (${x.life})`
      )
    );
    if (torn.length) L.push("", ...torn);
    const stalled = t.figures.reduce((a, f) => a + f.partialStatesStalled, 0);
    const partial = t.figures.reduce((a, f) => a + f.partialStates, 0);
    L.push(
      "",
      `The writers left ${partial} half-written states in the file over the four runs (the same sequence each ` +
        `run, timing aside), ${stalled} of them for 10 ms or more.` +
        (t.duration ? ` The four runs took ${t.duration}.` : ""),
    );
  }
  L.push("", "### Reading the figures", "");
  L.push(
    `- With events, a change waits for the ${EVENT_DEBOUNCE_MS} ms event debounce, a first read, the ` +
      `${SETTLE_MS} ms settle wait and a second read that must agree, plus the runtime's timer lateness (Deno's ` +
      "timers fire 1–2 ms late). The issue's target is 20 ms. `SETTLE_MS` in src/watcher.ts trades latency against " +
      "the window for catching a writer between two of its calls; the debounce was cut from 5 ms to 2 ms to meet " +
      "the target without shortening that window.",
    "- Without events, a change waits for the next poll (uniform over `--poll`), then the same settle read.",
    "- Torn payloads are counted for every writer; those from writers that rename, from half-written states that " +
      "lasted less than the settle window, and payloads that are no state the file was ever in fail the test. A " +
      "state that lasts longer (a writer descheduled between or inside two calls) looks like a finished file to " +
      "anything that can only stat and read, so those are reported, not failed. How long a state lasted is known " +
      "within the duration of the two system calls around it (the writer's own clock): when those bounds straddle " +
      '10 ms it is "unsure" and reported too. A "twin" is a short state the file showed again, identical in ' +
      "bytes, inode, size and mtime, at least 10 ms later (same-tick rewrites truncating the file twice; on a " +
      "filesystem with a coarse clock any two rewrites in one tick): the settle's two reads agree on what looks " +
      "like one state. Only a change counter could tell them apart: the ctime (Bun's `node:fs` gives it in ns, " +
      "Deno's in whole seconds) or a file event seen between the two reads.",
    "- History: before commit 95f6fa5 the watcher took the settle wait from the file's mtime (which Linux updates " +
      "after the size while truncating), published its newest read after 5 re-reads that disagreed, and bumped a " +
      "reused lastMod only against the previous version. The same test at 1,000 operations, seed 1125, then " +
      "counted 6 / 1 / 15 / 2 torn payloads (deno events / deno --no-events / bun events / bun --no-events; all " +
      "emptied files or half-written chunks that lasted under 10 ms) and 4 / 0 / 8 / 0 reused lastMod tokens, " +
      "and failed on all four.",
  );
  L.push(END);
  return L.join("\n") + "\n";
}

/** Replaces our section of BENCHMARKS.md, or appends it; never touches the rest. */
async function writeSection(md: string): Promise<void> {
  const path = `${ROOT}BENCHMARKS.md`;
  const current = await Deno.readTextFile(path).catch(() => null);
  if (current === null) {
    await Deno.writeTextFile(path, `# Benchmarks\n\n${md}`, { createNew: true });
    return;
  }
  const a = current.indexOf(BEGIN);
  const b = current.indexOf(END);
  const next = a >= 0 && b > a
    ? current.slice(0, a) + md + current.slice(b + END.length + 1)
    : current.replace(/\n*$/, "\n\n") + md;
  await Deno.writeTextFile(path, next);
}

async function main() {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      samples: { type: "string", default: "60" },
      "torture-writes": { type: "string", default: "1000" },
      seed: { type: "string" },
      runtimes: { type: "string", default: "deno,bun" },
      write: { type: "boolean", default: false },
    },
  });
  const samples = Number(values.samples);
  const writes = Number(values["torture-writes"]);
  const seed = values.seed ? Number(values.seed) : Math.floor(Math.random() * 2 ** 32);
  const runtimes = values.runtimes!.split(",") as RuntimeName[];
  const cmd = ["deno run -A bench/detect.ts", ...Deno.args].join(" ");
  const meta = await machine();
  const rows: LatencyRow[] = [];
  for (const rt of runtimes) {
    for (const mode of ["events", "no-events"] as const) {
      console.error(`latency: ${rt} ${mode}, ${samples} samples`);
      rows.push(...await latency(rt, mode, samples));
    }
  }
  let t: Awaited<ReturnType<typeof torture>> | null = null;
  if (writes > 0) {
    console.error(`torture: ${writes} operations per run, seed ${seed}`);
    t = await torture(writes, seed, runtimes);
    if (!t.ok) console.error(t.log.split("\n").filter((l) => /^\[|error|torn:/.test(l)).join("\n"));
  }
  const md = section(cmd, meta, rows, t, writes, seed);
  console.log(md);
  if (values.write) {
    await writeSection(md);
    console.error('BENCHMARKS.md: section "Change detection" updated');
  }
  if (t && !t.ok) Deno.exit(1);
}

if (import.meta.main) await main();
