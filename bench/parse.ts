/**
 * The cost of reading real logs (src/shared/): 200,000 mixed lines — text
 * lines with levels (some with Java stack traces and Python tracebacks), ANSI
 * coloured lines, JSON lines, logfmt lines, URLs — through each parser, on the
 * runtime that runs this script. The baseline, timed in the same run, is one
 * case-insensitive literal regular expression tested on every line: what one
 * keystroke of today's filter costs.
 *
 * ```sh
 * node_modules/.bin/deno run bench/parse.ts                 # Deno
 * node_modules/.bin/bun run bench/parse.ts                  # Bun
 * node_modules/.bin/deno run bench/parse.ts --lines 50000 --runs 3
 * ```
 *
 * Each stage runs once to warm up, then `--runs` rounds run every stage in
 * turn; the table gives the median and the fastest run, in ms for all the
 * lines, and the median over the baseline's median. Nothing is written.
 * "load" is what the page needs for every line it holds (styles, level,
 * entry); a JSON summary and links are needed only for the lines drawn,
 * but "all" does them for every line too.
 * @module
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { parseAnsi, spansText, stripAnsi } from "../src/shared/ansi.ts";
import { detectLevel } from "../src/shared/levels.ts";
import { parseJsonLine, parseLogfmtLine, summary } from "../src/shared/structured.ts";
import { detectEntryContext, entryStarts } from "../src/shared/entries.ts";
import { findUrls } from "../src/shared/urls.ts";
import { rng } from "../tests/helpers/scan_fixtures.ts";

const { values } = parseArgs({
  options: { lines: { type: "string", default: "200000" }, runs: { type: "string", default: "15" } },
});
const LINES = Number(values.lines);
const RUNS = Number(values.runs);
if (!Number.isInteger(LINES) || LINES < 1 || !Number.isInteger(RUNS) || RUNS < 1) {
  console.error(`Cannot run with --lines "${values.lines}" --runs "${values.runs}": expected whole numbers ≥ 1`);
  // deno-lint-ignore no-process-global -- the one exit both runtimes share
  process.exit(2);
}

const LEVEL_WORDS = ["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR", "TRACE"];
const JSON_LEVELS = ["info", "info", "debug", "warn", "error"];

/** The mixed log: about 45 % text, 15 % ANSI, 25 % JSON, 10 % logfmt, 5 % trace lines. */
export function mixedLog(n: number): string[] {
  const r = rng(1125);
  const out: string[] = [];
  let t = Date.UTC(2024, 5, 12, 10, 0, 0);
  while (out.length < n) {
    t += Math.floor(r() * 50);
    const iso = new Date(t).toISOString();
    const stamp = iso.replace("T", " ").slice(0, 23);
    const lv = LEVEL_WORDS[Math.floor(r() * LEVEL_WORDS.length)]!;
    const id = Math.floor(r() * 100_000);
    const k = r();
    if (k < 0.45) {
      out.push(
        `${stamp} [http-nio-8080-exec-${id % 20}] ${lv.padEnd(5)} c.e.api.Orders - order ${id} handled in ${
          id % 900
        } ms`,
      );
      if (lv === "ERROR" && r() < 0.5) {
        out.push(`java.lang.IllegalStateException: order ${id} is closed`);
        for (let f = 0; f < 8; f++) out.push(`\tat com.example.api.Orders.step${f}(Orders.java:${40 + f})`);
        out.push("Caused by: java.sql.SQLException: connection reset", "\t... 12 more");
      }
    } else if (k < 0.6) {
      const c = lv === "ERROR" ? "31" : lv === "WARN" ? "33" : "32";
      out.push(
        `\x1b[2m${stamp}\x1b[0m \x1b[1;${c}m${lv.padEnd(5)}\x1b[0m \x1b[38;5;${id % 256}mworker-${id % 8}\x1b[39m ` +
          `served \x1b[38;2;${id % 256};128;64m/api/orders/${id}\x1b[0m see https://example.com/o/${id}`,
      );
    } else if (k < 0.85) {
      const jl = JSON_LEVELS[Math.floor(r() * JSON_LEVELS.length)]!;
      out.push(
        `{"level":"${jl}","ts":${(t / 1000).toFixed(3)},"caller":"api/orders.go:${id % 300}","msg":"request done",` +
          `"order":${id},"status":${r() < 0.9 ? 200 : 500},"path":"/api/orders/${id}","user":{"id":${
            id % 977
          },"name":"u ${id % 7}"}}`,
      );
    } else if (k < 0.95) {
      out.push(
        `time=${iso} level=${lv.toLowerCase()} msg="cache lookup" key=order:${id} hit=${r() < 0.7} took=${id % 90}ms`,
      );
    } else {
      out.push(`${stamp} - jobs - ERROR - job ${id} failed`, "Traceback (most recent call last):");
      out.push(`  File "/app/jobs.py", line ${id % 200}, in run`, "    total = a / b");
      out.push("ZeroDivisionError: division by zero");
    }
  }
  return out.slice(0, n);
}

interface Row {
  stage: string;
  fn: () => number;
  ms: number[];
}

/** Registers a stage; {@link measure} runs them. */
function time(stage: string, fn: () => number, rows: Row[]): void {
  rows.push({ stage, fn, ms: [] });
}

/**
 * Runs every stage once to warm up, then `RUNS` rounds of every stage in
 * turn, so that a neighbour's burst of load falls on all stages alike
 * rather than on whichever ran during it.
 */
function measure(rows: Row[]): void {
  for (const r of rows) r.fn();
  for (let i = 0; i < RUNS; i++) {
    for (const r of rows) {
      const t0 = performance.now();
      r.fn();
      r.ms.push(performance.now() - t0);
    }
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const runtime = "Bun" in globalThis ? `Bun ${(globalThis as { Bun?: { version: string } }).Bun!.version}` : `Deno`;

function main(): void {
  // Joined and split again, as the page gets its lines: substrings of one text.
  const lines = mixedLog(LINES).join("\n").split("\n");
  const plain = lines.map(stripAnsi);
  const rows: Row[] = [];
  let sink = 0;
  time("baseline: /error/i.test(line)", () => {
    let c = 0;
    for (const l of lines) if (/error/i.test(l)) c++;
    return (sink += c);
  }, rows);
  time("ANSI: parseAnsi(line)", () => {
    let c = 0;
    for (const l of lines) c += parseAnsi(l).length;
    return (sink += c);
  }, rows);
  time("ANSI: stripAnsi(line)", () => {
    let c = 0;
    for (const l of lines) c += stripAnsi(l).length;
    return (sink += c);
  }, rows);
  time("levels: detectLevel(plain text)", () => {
    let c = 0;
    for (const l of plain) if (detectLevel(l)) c++;
    return (sink += c);
  }, rows);
  time("levels: detectLevel(raw line), as the server", () => {
    let c = 0;
    for (const l of lines) if (detectLevel(l)) c++;
    return (sink += c);
  }, rows);
  time("JSON: parseJsonLine + summary", () => {
    let c = 0;
    for (const l of plain) {
      const s = parseJsonLine(l);
      if (s) c += summary(s).length;
    }
    return (sink += c);
  }, rows);
  time("logfmt: parseLogfmtLine + summary", () => {
    let c = 0;
    for (const l of plain) {
      const s = parseLogfmtLine(l);
      if (s) c += summary(s).length;
    }
    return (sink += c);
  }, rows);
  time("entries: detectEntryContext + entryStarts", () => {
    const ctx = detectEntryContext(plain);
    return (sink += entryStarts(plain, ctx).length);
  }, rows);
  time("links: findUrls(plain text)", () => {
    let c = 0;
    for (const l of plain) c += findUrls(l).length;
    return (sink += c);
  }, rows);
  time("load: ANSI, level, entries (what every line needs)", () => {
    let c = 0;
    const texts: string[] = new Array(lines.length);
    for (let i = 0; i < lines.length; i++) {
      const spans = parseAnsi(lines[i]!);
      const text = spans.length === 1 ? spans[0]!.text : spansText(spans);
      texts[i] = text;
      if (detectLevel(text)) c++;
    }
    c += entryStarts(texts, detectEntryContext(texts)).length;
    return (sink += c);
  }, rows);
  time("all: ANSI, level, JSON summary, entries, links", () => {
    let c = 0;
    const texts: string[] = new Array(lines.length);
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i]!;
      const spans = parseAnsi(l);
      const text = spans.length === 1 ? spans[0]!.text : spansText(spans);
      texts[i] = text;
      if (detectLevel(text)) c++;
      const s = text.charCodeAt(0) === 0x7b ? parseJsonLine(text) : null;
      if (s) c += summary(s).length;
      c += findUrls(text).length;
    }
    c += entryStarts(texts, detectEntryContext(texts)).length;
    return (sink += c);
  }, rows);

  measure(rows);
  const base = median(rows[0]!.ms);
  const counts = {
    ansi: lines.filter((l) => l.includes("\x1b")).length,
    json: plain.filter((l) => parseJsonLine(l)).length,
    logfmt: plain.filter((l) => parseLogfmtLine(l)).length,
    levelled: plain.filter((l) => detectLevel(l)).length,
  };
  // On a shared machine the fastest run is the cost; the median also carries the neighbours' load.
  const load = loadavg().map((x) => x.toFixed(1)).join(", ");
  console.log(
    `${runtime}, ${lines.length.toLocaleString("en")} lines (${counts.ansi} with ANSI, ${counts.json} JSON, ` +
      `${counts.logfmt} logfmt, ${counts.levelled} with a level), ${RUNS} runs, load average ${load}:\n`,
  );
  console.log("| stage | median ms | fastest ms | × baseline |");
  console.log("| --- | ---: | ---: | ---: |");
  for (const r of rows) {
    const m = median(r.ms);
    console.log(
      `| ${r.stage} | ${m.toFixed(1)} | ${Math.min(...r.ms).toFixed(1)} | ${(m / base).toFixed(1)} |`,
    );
  }
  if (sink === -1) console.log("");
}

if (import.meta.main) main();
