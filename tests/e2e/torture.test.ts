/**
 * Change detection under torture (issue 6), against a real server on every
 * runtime, with file events on and with `--no-events`; then the cases around
 * it: changes that file events cannot see, an oversize file, and the
 * directory watch given back when the last client leaves.
 *
 * One writer in this process changes the watched file in every way a tool
 * does — in-place overwrite, truncate+write, append, write-temp+rename,
 * delete+recreate, same-tick rewrites of the same size, replace by a copy
 * with an older mtime — with random gaps of 0–50 ms, while one filewatch.v1
 * client records every payload. The writer records every state the file
 * passes through, half-written ones included, and how long each stayed, so
 * afterwards:
 *
 * - every payload must be a version the writer finished (or the "not found"
 *   error between the two steps of a delete+recreate). Anything else is a
 *   torn payload: it is matched to the half-written state it shows and
 *   counted per writer kind. None may come from a writer that renames, none
 *   from a state that was gone within the watcher's settle window (unless the
 *   file showed an identical twin of it later: see TORN_BOUND_SHORT), and
 *   none may be a state the file never was in (a torn read; the file inside
 *   one of the writer's calls, a truncate that set the size and not yet the
 *   times, or a write with some of its pages copied, is a state it was in);
 * - nothing is delivered twice in a row, and nothing older than what was
 *   already delivered (versions only move forward);
 * - the last version is delivered (its latency is reported against the
 *   issue's poll + 200 ms, not asserted: a loaded machine may not run this
 *   process for that long). The writer also pauses at checkpoints (every
 *   {@link CHECKPOINT_EVERY} operations) until the version at the pause
 *   arrives: a version lost in the middle of the run fails the test, not only
 *   one lost at its end;
 * - a resume token (lastMod) names one content: a token delivered with two
 *   different contents would let a reconnecting client skip a version.
 *
 * Each runtime and mode runs idle, and again under a hog ({@link cpuHog},
 * issues 12 and 23): a busy loop on every core and a writer that syncs to
 * the same file system. There the writer is descheduled in the middle of its
 * writes, and inside them, so more half-written states stay long enough to
 * be read twice; short ones must still never be published, and the ones no
 * watcher can tell from a finished file (stalled, unsure, twin) are bounded.
 *
 * The sequence of operations comes from a seeded PRNG (the seed is printed;
 * `FILEWATCH_TORTURE_SEED` replays it; timing still varies). Set
 * `FILEWATCH_TORTURE_WRITES` for the number of operations: 300 by default, so
 * the four runs (2 runtimes × 2 modes) take about 50 s in the suite; the
 * figures in BENCHMARKS.md come from a 1,000-operation run (`bench/detect.ts`).
 * A same-tick operation counts once however many rewrites it makes. With
 * `FILEWATCH_REPORT_DIR` set, each run's figures are written there as JSON.
 * @module
 */
import { createHash } from "node:crypto";
import { basename, dirname } from "node:path";
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { parseExposition } from "../helpers/prom.ts";
import { SETTLE_MS } from "../../src/settle.ts";
import { connect, sleep } from "../helpers/client.ts";
import { assertV1, SchemaViolation } from "../helpers/schema.ts";
import { BIN_PROTOCOL, decodeBin } from "../helpers/binstate.ts";
import { type RuntimeName, RUNTIMES, type Server, startServer, tempFile, waitFor } from "../helpers/harness.ts";
import { type DiskState, lifeOf, midWriteOf, stateOf, twinned } from "../helpers/torture_classify.ts";

/** Operations per run. */
export const WRITES = Number(Deno.env.get("FILEWATCH_TORTURE_WRITES") ?? 300);
/** The PRNG seed; every run of one `deno test` uses the same sequence. */
export const SEED = Number(Deno.env.get("FILEWATCH_TORTURE_SEED") ?? Math.floor(Math.random() * 2 ** 32));
/**
 * Operations per run under the hog (a busy loop on every core and a syncing
 * disk writer, see {@link cpuHog}), and how many such runs per runtime and mode. The suite
 * makes one run of 300; issue 12's figure is 3 × 1,000
 * (`FILEWATCH_TORTURE_HOG_WRITES=1000 FILEWATCH_TORTURE_HOG_RUNS=3`: about
 * 1 min 45 s per runtime and mode, 7 min for all four, against ~12 s each for
 * the suite's 300; RELIABILITY.md §7 has the counts).
 */
export const HOG_WRITES = Number(Deno.env.get("FILEWATCH_TORTURE_HOG_WRITES") ?? 300);
export const HOG_RUNS = Number(Deno.env.get("FILEWATCH_TORTURE_HOG_RUNS") ?? 1);
/** --poll for the server under test. */
const POLL_MS = 100;
/**
 * The issue's figure: the last version delivered within poll + 200 ms of the
 * last write. Reported, not asserted: on a loaded machine (other tests, the
 * CPU hog) the test's own process may not run for longer than that. What is
 * asserted is that it arrives, within {@link FINAL_WAIT_MS}.
 */
const DELIVERY_TARGET_MS = POLL_MS + 200;
/** How long the last version may take before it counts as lost. */
const FINAL_WAIT_MS = 20_000;
/**
 * Bounds per 1,000 operations under the CPU hog on the torn payloads no
 * stat-and-read watcher can tell from a finished file (see {@link Torn.life}):
 * half-written states that certainly stayed ≥ SETTLE_MS (the writer stalled)
 * or may have (unsure), and twins. Short ones stay at 0 ({@link TORN_BOUND_SHORT}).
 */
const HOG_BOUNDS_PER_1000 = { stalled: 20, unsure: 20, twin: 5 };
/** Gaps between operations are uniform in [0, MAX_GAP_MS]. */
const MAX_GAP_MS = 50;
/** The writer pauses after this many operations and checks that the current version arrived. */
const CHECKPOINT_EVERY = 50;
/**
 * Torn payloads allowed from half-written states that stayed in the file for
 * less than the watcher's settle window (SETTLE_MS): 0. Hiding those is what
 * the watcher's stable and settled reads are for. Two kinds are counted and
 * reported instead, because no watcher that can only stat and read can tell
 * them from a finished file: a state that stayed longer (the writer was
 * descheduled between or inside two of its calls), and a "twin" — a short
 * state the file showed again, identical in bytes, inode, size and mtime, at
 * least SETTLE_MS later (same-tick rewrites truncating the file twice), so
 * the settle's two reads agreed on what looked like one state. Writers that
 * rename must never produce a torn payload at all.
 */
const TORN_BOUND_SHORT = 0;
/** In-place writers write in chunks of this size, as buffered writers do. */
const WRITE_CHUNK = 16 * 1024;
/** A stuck run fails instead of hanging the suite. */
const runBudgetMs = (writes: number) => writes * (MAX_GAP_MS + 60) + 30_000;

/** How the writer changes the file. */
export type WriterKind =
  | "overwrite" // in place, no truncate first: new bytes over the old, then ftruncate
  | "truncate-write" // O_TRUNC, then the new bytes (chunked)
  | "append" // O_APPEND, one line
  | "rename" // write a temporary file, rename it over
  | "recreate" // unlink, 0–20 ms later create and write
  | "same-tick" // 2–3 rewrites of the same size, all left with one mtime
  | "older"; // rename over by a copy whose mtime is minutes to weeks old

const KINDS: readonly WriterKind[] = [
  "overwrite",
  "truncate-write",
  "append",
  "rename",
  "recreate",
  "same-tick",
  "older",
];
/** Writers whose every state on disk is a whole version: a torn payload from them is a bug. */
const ATOMIC: ReadonlySet<WriterKind | "initial"> = new Set(["rename", "older", "initial"]);

/** mulberry32: small, seedable, good enough to pick operations and bytes. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:-_";

/** `len` printable bytes in lines of 64. */
function body(rand: () => number, len: number): string {
  const out: string[] = [];
  for (let i = 0; i < len; i++) {
    out.push(i % 65 === 64 ? "\n" : ALPHABET[Math.floor(rand() * ALPHABET.length)]!);
  }
  return out.join("");
}

/** Mostly small files, some tens of KiB, a few hundreds (so some writes take several chunks). */
function pickSize(rand: () => number): number {
  const r = rand();
  if (r < 0.7) return 16 + Math.floor(rand() * 1_000);
  if (r < 0.95) return 1_024 + Math.floor(rand() * 31_000);
  return 64 * 1024 + Math.floor(rand() * 192 * 1024);
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
const enc = new TextEncoder();

/** One version the writer left in the file. */
interface Version {
  n: number;
  op: number;
  kind: WriterKind | "initial";
  text: string;
  hash: string;
  /** Date.now() when the write that made it finished. */
  at: number;
}

/** Wall-clock ms with sub-ms precision (comparable with mtimes). */
const wall = () => performance.timeOrigin + performance.now();

/** Every state of the file, recorded as the writer makes it. */
class Disk {
  readonly states: DiskState[] = [];
  constructor(initial: string) {
    const now = wall();
    this.states.push({
      op: 0,
      kind: "initial",
      text: initial,
      whole: true,
      callAt: now,
      doneAt: now,
      minMs: 0,
      maxMs: 0,
    });
  }
  get text(): string | null {
    return this.states[this.states.length - 1]!.text;
  }
  /**
   * Makes one system call that leaves `next` in the file (null: no file).
   * Synchronous, as a tight writer's consecutive calls are, so a half-written
   * state lasts as long as it would for a real writer, and its bounds are tight.
   */
  step<T>(op: number, kind: WriterKind, next: string | null, whole: boolean, call: () => T): T {
    const callAt = wall();
    const r = call();
    const doneAt = wall();
    this.#end(callAt, doneAt);
    this.states.push({ op, kind, text: next, whole, callAt, doneAt, minMs: Infinity, maxMs: Infinity });
    return r;
  }
  /** Closes the last state's lifetime. */
  #end(callAt: number, doneAt: number) {
    const prev = this.states[this.states.length - 1]!;
    prev.minMs = Math.max(0, callAt - prev.doneAt);
    prev.maxMs = doneAt - prev.callAt;
  }
  finish() {
    const now = wall();
    this.#end(now, now);
  }
}

/** A received frame, parsed after the run so the writer is not slowed down by the client. */
interface Frame {
  at: number;
  raw: Uint8Array;
  /** A binary frame: filewatch.bin.v1 (the run's client speaks one format). */
  binary?: boolean;
}

/** One payload the client got. */
interface Payload {
  at: number;
  type: "content" | "error";
  /** It came as an append onto the payload before it. */
  appended?: boolean;
  lastMod?: string;
  hash?: string;
  text?: string;
  message?: string;
}

/** What the client holds, as it applies content and appends in order. */
interface Held {
  lastMod: string;
  size: number;
  text: string;
}

/**
 * Applies one frame to what the client holds and returns the version it then
 * holds (an append must follow exactly the version held, at its size).
 */
function parseFrame(f: Frame, held: Held): Payload {
  if (f.binary) return parseBinFrame(f, held);
  const m = JSON.parse(new TextDecoder().decode(f.raw));
  assertV1(m); // the message is one docs/filewatch.v1.schema.json describes
  if (m.type === "error") {
    Object.assign(held, { lastMod: "", size: -1, text: "" });
    return { at: f.at, type: "error", message: m.message };
  }
  assertEquals(m.encoding, undefined, "the content is UTF-8");
  if (m.type === "append") {
    assertEquals([m.prev, m.offset], [held.lastMod, held.size], "an append follows the version held");
    held.text += m.data;
  } else {
    assertEquals([m.type, m.offset], ["content", 0], "content from the start");
    held.text = m.data;
  }
  held.lastMod = m.lastMod;
  held.size = m.size;
  assertEquals(new TextEncoder().encode(held.text).length, held.size, "the size names the bytes held");
  return {
    at: f.at,
    type: "content",
    appended: m.type === "append",
    lastMod: m.lastMod,
    hash: sha256(held.text),
    text: held.text,
  };
}

/**
 * {@link parseFrame} for a filewatch.bin.v1 client: the strict decoder of
 * tests/helpers/binstate.ts, then the same checks; an append names the
 * version it extends by its hash and the new one relative to it.
 */
function parseBinFrame(f: Frame, held: Held): Payload {
  const m = decodeBin(f.raw);
  if (typeof m === "string") throw new Error(`not a filewatch.bin.v1 frame: ${m}`);
  if (m.type === "error") {
    Object.assign(held, { lastMod: "", size: -1, text: "" });
    return { at: f.at, type: "error", message: m.message };
  }
  assertEquals(m.utf8, true, "the content is UTF-8");
  const text = new TextDecoder().decode(m.data);
  if (m.type === "append") {
    const prev = held.lastMod ? BigInt("0x" + held.lastMod) : -1n;
    assertEquals([prev & ((1n << 64n) - 1n), m.offset], [m.prevHash, held.size], "an append follows the version held");
    held.text += text;
    held.lastMod = ((((prev >> 64n) + m.delta) << 64n) | m.hash).toString(16);
  } else {
    assertEquals(m.offset, 0, "content from the start");
    held.text = text;
    held.lastMod = m.token.toString(16);
  }
  held.size = m.size;
  assertEquals(new TextEncoder().encode(held.text).length, held.size, "the size names the bytes held");
  return { at: f.at, type: "content", lastMod: held.lastMod, hash: sha256(held.text), text: held.text };
}

/** A torn payload: which half-written state it was, and how long that state stayed in the file. */
export interface Torn {
  kind: string;
  op: number;
  bytes: number;
  /** The state stayed at least / at most this long (ms); null when no recorded state matches. */
  minMs: number | null;
  maxMs: number | null;
  /**
   * short: certainly gone within SETTLE_MS; stalled: certainly stayed ≥ SETTLE_MS; twin: short, but the
   * file showed an identical state (same bytes, inode, size and mtime) at least SETTLE_MS later, so two
   * reads that far apart agreed on what looked like one state; else unsure.
   */
  life: "short" | "twin" | "stalled" | "unsure";
  /** The file inside the truncate that made the state, under the times of the state before (see {@link stateOf}). */
  midTruncate: boolean;
  /** The file inside a write call, part of its bytes copied (see {@link midWriteOf}). */
  midWrite: boolean;
  /**
   * Came as an append onto a torn payload of this many bytes: the life is
   * that payload's (a file that only grows is read without the settle).
   */
  grewFrom: number | null;
  lastMod: string;
}

/** What one run measured. */
export interface TortureFigures {
  runtime: RuntimeName;
  mode: "events" | "no-events";
  /** idle, or under the hog: a busy loop on every core and a syncing disk writer ({@link cpuHog}). */
  load: "idle" | "hog";
  /** Under the hog: its busy loops, the CPU seconds they used, how long they ran, the disk writer's synced writes. */
  hog: { processes: number; cpuSeconds: number; seconds: number; syncs: number; machineBusy: number } | null;
  seed: number;
  operations: number;
  opsByKind: Record<string, number>;
  versionsWritten: number;
  /** Half-written states the writer left in the file, however briefly, and how many stayed ≥ SETTLE_MS. */
  partialStates: number;
  partialStatesStalled: number;
  payloads: number;
  contentPayloads: number;
  errorPayloads: number;
  /** The distinct error messages delivered. */
  errorMessages: string[];
  /** Payloads that are no written version, by the writer they came from. */
  tornByKind: Record<string, number>;
  torn: number;
  /** Torn payloads by how long their state stayed: see {@link Torn.life}. */
  tornShort: number;
  tornTwin: number;
  tornStalled: number;
  tornUnsure: number;
  tornDetail: Torn[];
  duplicatesInARow: number;
  backwards: number;
  /** lastMod tokens delivered with more than one content. */
  tokenCollisions: number;
  tokenCollisionDetail: string[];
  /** Checkpoint and final versions: ms from their write to their payload (null = missed). */
  deliveryMs: Array<number | null>;
  finalMs: number | null;
  deliveryP50: number | null;
  deliveryP90: number | null;
  deliveryMax: number | null;
  seconds: number;
}

function quantile(xs: number[], q: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
}

async function watchMode(s: Server): Promise<string | undefined> {
  const m = parseExposition(await (await fetch(s.url + "metrics")).text());
  return (["events", "polling", "idle"] as const).find((mode) => m.get("filewatch_watch_mode", { mode }) === 1);
}

/**
 * Busy loops per core under the hog. These alone once let a torn version
 * through only when other work on the machine added as much again (issue
 * 23: load ~5 on 2 cores, which made the writer's truncates wait inside the
 * kernel), so the hog brings a disk writer besides ({@link cpuHog}). Two per
 * core made each run half as long again for no more of those waits.
 */
export const HOG_LOOPS_PER_CORE = 1;
/**
 * The hog's disk writer writes this much, waits for it to reach the disk,
 * then pauses this long, over and over: a couple of hundred journal commits
 * a second, enough to keep a truncate waiting (unpaused it made ten times as
 * many for no more effect, on a disk other work shares).
 */
const HOG_SYNC_BYTES = 4096;
const HOG_SYNC_EVERY_MS = 4;

/**
 * Busy-loop processes, {@link HOG_LOOPS_PER_CORE} per core, and a writer
 * that syncs small writes to the watched file's file system, each ending by
 * itself after a bounded time.
 */
export interface CpuHog {
  /** Busy loops. */
  readonly processes: number;
  /**
   * Kills them all and waits for them to exit; the CPU seconds the busy
   * loops used, the wall seconds they ran, how many writes the disk writer
   * synced, and how busy the whole machine was meanwhile (0 to 1).
   */
  stop(): Promise<{ cpuSeconds: number; seconds: number; syncs: number; machineBusy: number }>;
}

/** CPU seconds a process has used (Linux: utime + stime from /proc, in clock ticks of 1/100 s). */
function cpuSecondsOf(pid: number): number {
  try {
    const f = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]!.split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

/** The machine's CPU time so far, all of it and the busy part (Linux: /proc/stat, in clock ticks). */
function machineTicks(): { total: number; busy: number } {
  const t = Deno.readTextFileSync("/proc/stat").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = t.reduce((a, b) => a + b, 0);
  // idle and iowait are the 4th and 5th fields.
  return { total, busy: total - (t[3] ?? 0) - (t[4] ?? 0) };
}

/** Write calls a process has made (Linux: syscw from /proc/PID/io). */
function writeCallsOf(pid: number): number {
  try {
    return Number(/^syscw: (\d+)$/m.exec(Deno.readTextFileSync(`/proc/${pid}/io`))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/**
 * Starts {@link HOG_LOOPS_PER_CORE} busy loops per core (cores as
 * `navigator.hardwareConcurrency` counts them), and one process that writes
 * {@link HOG_SYNC_BYTES} to a file in `dir` and `fdatasync`s it, in a loop:
 * every sync commits the file system's journal, which the writer under test
 * needs for each truncate, so its calls stall inside the kernel as they do
 * when other work shares the disk. Each process is a `deno eval` that exits
 * by itself after `ms` at the latest; {@link CpuHog.stop} kills them sooner
 * (call it in a finally block).
 */
export function cpuHog(ms: number, dir: string): CpuHog {
  const end = `const end = Date.now() + ${Math.ceil(ms)};`;
  const spawn = (code: string) =>
    new Deno.Command(Deno.execPath(), {
      args: ["eval", end + code],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
  const loops = Array.from(
    { length: HOG_LOOPS_PER_CORE * navigator.hardwareConcurrency },
    () => spawn("let x = 0; while (Date.now() < end) x++;"),
  );
  // Beside the watched file: its events reach the server's directory watch
  // too, as other files' do in a busy log directory. It stays at 1 MiB at
  // most: the writer starts over from its first byte.
  const syncer = spawn(
    `const f = Deno.openSync(${JSON.stringify(`${dir}/.hog-sync`)}, { write: true, create: true });` +
      `const b = new Uint8Array(${HOG_SYNC_BYTES}).fill(120);` +
      `for (let n = 1; Date.now() < end; n++) {` +
      `  f.writeSync(b); f.syncDataSync(); if (n % 256 === 0) f.seekSync(0, Deno.SeekMode.Start);` +
      `  await new Promise((r) => setTimeout(r, ${HOG_SYNC_EVERY_MS}));` +
      `}`,
  );
  const started = performance.now();
  const ticks0 = machineTicks();
  return {
    processes: loops.length,
    async stop() {
      const seconds = (performance.now() - started) / 1000;
      const cpuSeconds = loops.reduce((sum, p) => sum + cpuSecondsOf(p.pid), 0);
      const syncs = writeCallsOf(syncer.pid);
      const ticks1 = machineTicks();
      const machineBusy = (ticks1.busy - ticks0.busy) / Math.max(1, ticks1.total - ticks0.total);
      for (const p of [...loops, syncer]) {
        try {
          p.kill("SIGKILL");
        } catch { /* already exited */ }
      }
      await Promise.all([...loops, syncer].map((p) => p.status));
      return {
        cpuSeconds: Math.round(cpuSeconds * 10) / 10,
        seconds: Math.round(seconds * 10) / 10,
        syncs,
        machineBusy: Math.round(machineBusy * 100) / 100,
      };
    },
  };
}

/** Writes `text` over the file through `f` (positioned at 0) in chunks, recording each state. */
function chunks(disk: Disk, op: number, kind: WriterKind, f: Deno.FsFile, text: string, under: string): void {
  const bytes = enc.encode(text); // ASCII: byte offsets are string offsets
  for (let off = 0; off < bytes.length;) {
    const end = Math.min(off + WRITE_CHUNK, bytes.length);
    const n = disk.step(
      op,
      kind,
      text.slice(0, end) + under.slice(end),
      false,
      () => f.writeSync(bytes.subarray(off, end)),
    );
    assertEquals(n, end - off, "a regular file takes a whole write");
    off = end;
  }
}

/** Runs the writer against one server; returns the figures (asserts nothing itself). */
async function torture(
  rt: RuntimeName,
  mode: "events" | "no-events",
  load: "idle" | "hog" = "idle",
  writes = WRITES,
  seed = SEED,
  protocol: "filewatch.v1" | typeof BIN_PROTOCOL = "filewatch.v1",
): Promise<TortureFigures> {
  const WRITES = writes;
  const RUN_BUDGET_MS = runBudgetMs(writes);
  const rand = prng(seed);
  const started = Date.now();
  const versions: Version[] = [];
  const byHash = new Map<string, Version>();
  const initial = `#0000 initial\n${body(rand, 200)}\n`;
  const file = await tempFile(initial);
  const dir = dirname(file);
  const disk = new Disk(initial);
  const add = (op: number, kind: Version["kind"], text: string) => {
    const v: Version = { n: versions.length, op, kind, text, hash: sha256(text), at: 0 };
    versions.push(v);
    byHash.set(v.hash, v);
    return v;
  };
  add(0, "initial", initial).at = Date.now();

  const s = await startServer(rt, {
    file,
    args: ["--poll", `${POLL_MS}ms`, "--quiet", ...(mode === "no-events" ? ["--no-events"] : [])],
  });
  const c = connect(s.wsUrl, { protocols: [protocol] });
  const frames: Frame[] = [];
  c.ws.on("message", (data: Uint8Array, binary: boolean) => {
    frames.push({ at: Date.now(), raw: binary && protocol !== BIN_PROTOCOL ? new Uint8Array(0) : data, binary });
  });
  const opsByKind: Record<string, number> = {};
  const deliveryMs: Array<number | null> = [];
  let finalMs: number | null = null;

  // Frames are parsed (and hashed) as they are needed, each once: parsing
  // them all at every checkpoint would block the event loop long enough to
  // delay the very frame being timed.
  const payloads: Payload[] = [];
  const held: Held = { lastMod: "", size: -1, text: "" };
  let hog: CpuHog | undefined;
  let hogUse: { cpuSeconds: number; seconds: number; syncs: number; machineBusy: number } | null = null;
  const parseUpTo = () => {
    for (let i = payloads.length; i < frames.length; i++) payloads.push(parseFrame(frames[i]!, held));
  };
  /** Waits for a version's payload; its latency, or null when it did not come. */
  const delivered = async (v: Version, within = 3_000): Promise<number | null> => {
    let seen = payloads.length;
    try {
      const at = await waitFor(
        () => {
          parseUpTo();
          for (; seen < payloads.length; seen++) if (payloads[seen]!.hash === v.hash) return payloads[seen]!.at;
          return null;
        },
        within,
        `version #${v.n} (${v.kind})`,
      );
      return at - v.at;
    } catch (e) {
      // A version that did not come is counted; a message the protocol does not describe fails the run.
      if (e instanceof SchemaViolation) throw e;
      return null;
    }
  };

  try {
    await c.opened;
    await waitFor(() => frames.length >= 1, 5_000, "the initial content");
    parseUpTo();
    assertEquals(payloads[0]!.hash, versions[0]!.hash, "the first payload is the initial content");
    // The mode under test is the mode in effect (a failed watch would make this a polling-only run).
    assertEquals(await watchMode(s), mode === "events" ? "events" : "polling");
    if (load === "hog") hog = cpuHog(RUN_BUDGET_MS, dir);

    for (let op = 1; op <= WRITES; op++) {
      if (Date.now() - started > RUN_BUDGET_MS) throw new Error(`run exceeded ${RUN_BUDGET_MS} ms at op ${op}`);
      await sleep(Math.floor(rand() * (MAX_GAP_MS + 1)));
      const kind = KINDS[Math.floor(rand() * KINDS.length)]!;
      opsByKind[kind] = (opsByKind[kind] ?? 0) + 1;
      const head = `#${String(op).padStart(4, "0")} ${kind}\n`;
      const current = disk.text ?? "";
      let last: Version;
      switch (kind) {
        case "overwrite": {
          // In place, no O_TRUNC: the new bytes go over the old ones, then the
          // file is cut to the new length.
          const text = head + body(rand, pickSize(rand)) + "\n";
          last = add(op, kind, text);
          using f = Deno.openSync(file, { write: true });
          chunks(disk, op, kind, f, text, current);
          disk.step(op, kind, text, true, () => f.truncateSync(text.length));
          break;
        }
        case "truncate-write":
        case "recreate": {
          const text = head + body(rand, pickSize(rand)) + "\n";
          last = add(op, kind, text);
          if (kind === "recreate") {
            disk.step(op, kind, null, false, () => Deno.removeSync(file));
            await sleep(Math.floor(rand() * 21));
          }
          using f = disk.step(
            op,
            kind,
            "",
            false,
            () => Deno.openSync(file, { write: true, create: true, truncate: true }),
          );
          chunks(disk, op, kind, f, text, "");
          disk.states[disk.states.length - 1]!.whole = true;
          break;
        }
        case "append": {
          const text = current + head.replace("\n", " ") + body(rand, 10 + Math.floor(rand() * 100)) + "\n";
          last = add(op, kind, text);
          using f = Deno.openSync(file, { append: true });
          const n = disk.step(op, kind, text, true, () => f.writeSync(enc.encode(text.slice(current.length))));
          assertEquals(n, text.length - current.length);
          break;
        }
        case "rename":
        case "older": {
          // The temporary file is written, dated, then renamed over: the
          // watched path only ever holds a whole version.
          const text = head + body(rand, pickSize(rand)) + "\n";
          last = add(op, kind, text);
          const tmp = `${dir}/.${basename(file)}.${op}.tmp`;
          await Deno.writeTextFile(tmp, text);
          if (kind === "older") {
            const old = new Date(Date.now() - 60_000 - Math.floor(rand() * 30 * 86_400_000));
            await Deno.utime(tmp, old, old);
          }
          disk.step(op, kind, text, true, () => Deno.renameSync(tmp, file));
          disk.states[disk.states.length - 1]!.mtimeMs = (await Deno.stat(file)).mtime!.getTime();
          break;
        }
        case "same-tick": {
          // Two or three different contents of one size under one mtime: the
          // stamp (mtime, size, inode, device) cannot tell them apart, only
          // the bytes can. The mtime is set explicitly so this holds on any
          // clock granularity (Linux ≥ 6.13 has fine-grained mtimes).
          const size = pickSize(rand);
          const tick = new Date();
          const k = 2 + Math.floor(rand() * 2);
          last = versions[versions.length - 1]!;
          for (let j = 0; j < k; j++) {
            const h = `#${String(op).padStart(4, "0")} same-tick ${"abc"[j]}\n`;
            const text = h + body(rand, size) + "\n";
            last = add(op, kind, text);
            {
              using f = disk.step(op, kind, "", false, () => Deno.openSync(file, { write: true, truncate: true }));
              chunks(disk, op, kind, f, text, "");
            }
            disk.step(op, kind, text, true, () => Deno.utimeSync(file, tick, tick));
            disk.states[disk.states.length - 1]!.mtimeMs = tick.getTime();
            last.at = Date.now();
            if (j < k - 1) await sleep(Math.floor(rand() * 4));
          }
          break;
        }
      }
      last.at = Date.now();
      if (op % CHECKPOINT_EVERY === 0 && op < WRITES) deliveryMs.push(await delivered(last));
    }
    disk.finish();
    const final = versions[versions.length - 1]!;
    finalMs = await delivered(final, FINAL_WAIT_MS);
    deliveryMs.push(finalMs);
    // Anything after the last version (a repeat, a stale version) shows up here.
    await sleep(2 * POLL_MS + 100);
  } finally {
    if (hog) hogUse = await hog.stop();
    c.close();
    await s.stop();
    await Deno.remove(dir, { recursive: true });
  }

  // Analysis, after the run.
  parseUpTo();
  // Half-written states by hash; several share one (every truncate leaves
  // the file empty): the payload's lastMod (the state's mtime) tells which.
  const partial = new Map<string, DiskState[]>();
  for (const st of disk.states) {
    if (st.whole || st.text === null) continue;
    const h = sha256(st.text);
    if (!byHash.has(h)) partial.set(h, [...(partial.get(h) ?? []), st]);
  }
  const mtimeOf = (p: Payload) => Number((BigInt("0x" + p.lastMod!) >> 64n) / 1_000_000n);
  const tornByKind: Record<string, number> = {};
  const tornDetail: Torn[] = [];
  let duplicatesInARow = 0;
  let backwards = 0;
  let lastN = -1;
  const tokens = new Map<string, Payload>();
  const tokenCollisionDetail: string[] = [];
  const tornOf = new Map<Payload, Torn>();
  for (const [i, p] of payloads.entries()) {
    const prev = payloads[i - 1];
    if (prev && prev.type === p.type && prev.hash === p.hash && prev.message === p.message) duplicatesInARow++;
    if (p.type === "error") continue;
    const v = byHash.get(p.hash!);
    const seenToken = tokens.get(p.lastMod!);
    if (seenToken && seenToken.hash !== p.hash) {
      const name = (q: Payload) => {
        const w = byHash.get(q.hash!);
        return w ? `#${w.n} (${w.kind} op ${w.op})` : `a torn ${q.text!.length}-byte payload`;
      };
      tokenCollisionDetail.push(`lastMod ${p.lastMod}: ${name(seenToken)}, later ${name(p)}`);
    }
    tokens.set(p.lastMod!, p);
    if (v) {
      if (v.n <= lastN) backwards++;
      lastN = Math.max(lastN, v.n);
      continue;
    }
    // A state between two of the writer's calls, else the file inside one of its writes.
    const st = stateOf(disk.states, partial.get(p.hash!) ?? [], mtimeOf(p)) ??
      midWriteOf(disk.states, p.text!, mtimeOf(p));
    const kind = st?.kind ?? "unexplained";
    // A file that only grows is read as an append, without the settle
    // (docs/detection.md#appends): once a torn state was published, a writer
    // that goes on extending it (an overwrite's later chunks) is followed
    // chunk by chunk. Such a payload is as torn as the one it grew from, and
    // is counted with that one's life; no settle rule is at stake in it.
    const root = p.appended && prev && prev.type === "content" ? tornOf.get(prev) : undefined;
    const life = root?.life ?? lifeOf(st, twinned(disk.states, p.text!, mtimeOf(p), SETTLE_MS), SETTLE_MS);
    tornByKind[kind] = (tornByKind[kind] ?? 0) + 1;
    const torn: Torn = {
      kind,
      op: st?.op ?? -1,
      bytes: p.text!.length,
      minMs: st ? Math.round(st.minMs * 10) / 10 : null,
      maxMs: st ? Math.round(st.maxMs * 10) / 10 : null,
      life,
      midTruncate: st?.midTruncate ?? false,
      midWrite: st?.midWrite ?? false,
      grewFrom: root ? root.bytes : null,
      lastMod: p.lastMod!,
    };
    tornOf.set(p, torn);
    tornDetail.push(torn);
  }
  const got = deliveryMs.filter((x): x is number => x !== null);
  const partialStates = disk.states.filter((st) => !st.whole && st.text !== null);
  return {
    runtime: rt,
    mode,
    load,
    hog: hogUse && { processes: HOG_LOOPS_PER_CORE * navigator.hardwareConcurrency, ...hogUse },
    seed,
    operations: WRITES,
    opsByKind,
    versionsWritten: versions.length,
    partialStates: partialStates.length,
    partialStatesStalled: partialStates.filter((st) => st.minMs >= SETTLE_MS).length,
    payloads: payloads.length,
    contentPayloads: payloads.filter((p) => p.type === "content").length,
    errorPayloads: payloads.filter((p) => p.type === "error").length,
    errorMessages: [...new Set(payloads.flatMap((p) => p.type === "error" ? [p.message!] : []))],
    tornByKind,
    torn: tornDetail.length,
    tornShort: tornDetail.filter((x) => x.life === "short").length,
    tornTwin: tornDetail.filter((x) => x.life === "twin").length,
    tornStalled: tornDetail.filter((x) => x.life === "stalled").length,
    tornUnsure: tornDetail.filter((x) => x.life === "unsure").length,
    tornDetail,
    duplicatesInARow,
    backwards,
    tokenCollisions: tokenCollisionDetail.length,
    tokenCollisionDetail,
    deliveryMs,
    finalMs,
    deliveryP50: quantile(got, 0.5),
    deliveryP90: quantile(got, 0.9),
    deliveryMax: got.length ? Math.max(...got) : null,
    seconds: Math.round((Date.now() - started) / 100) / 10,
  };
}

/** Logs one run's figures (and writes them to FILEWATCH_REPORT_DIR when set). */
async function report(f: TortureFigures, run = 0): Promise<void> {
  const reportDir = Deno.env.get("FILEWATCH_REPORT_DIR");
  if (reportDir) {
    await Deno.mkdir(reportDir, { recursive: true });
    const name = f.load === "idle" ? `torture-${f.runtime}-${f.mode}` : `torture-hog-${f.runtime}-${f.mode}-${run}`;
    await Deno.writeTextFile(`${reportDir}/${name}.json`, JSON.stringify(f, null, 1));
  }
  console.log(
    `[${f.runtime} ${f.mode} ${f.load}] ${f.operations} ops (${JSON.stringify(f.opsByKind)}), ` +
      `${f.versionsWritten} versions, ` +
      `${f.partialStates} half-written states (${f.partialStatesStalled} stayed ≥ ${SETTLE_MS} ms), ` +
      `${f.payloads} payloads (${f.errorPayloads} "not found"), torn ${f.torn} ${JSON.stringify(f.tornByKind)} ` +
      `(short ${f.tornShort}, twin ${f.tornTwin}, stalled writer ${f.tornStalled}, unsure ${f.tornUnsure}), ` +
      `repeats ${f.duplicatesInARow}, backwards ${f.backwards}, token collisions ${f.tokenCollisions}, ` +
      `delivery p50 ${f.deliveryP50} p90 ${f.deliveryP90} max ${f.deliveryMax} ms ` +
      `(final ${f.finalMs} ms, target ${DELIVERY_TARGET_MS}), ${f.seconds} s` +
      (f.hog
        ? `; hog: ${f.hog.processes} busy loops, ${f.hog.cpuSeconds} CPU s in ${f.hog.seconds} s, ` +
          `${f.hog.syncs} synced writes, machine ${Math.round(f.hog.machineBusy * 100)}% busy`
        : ""),
  );
  for (const x of f.tornDetail) console.log(`  torn: ${JSON.stringify(x)}`);
  for (const x of f.tokenCollisionDetail) console.log(`  token collision: ${x}`);
}

/** What every run must show, idle or under the hog. */
function assertRun(f: TortureFigures): void {
  // A checkpoint's version that never comes is a lost version; how long it
  // took is reported (this machine's load shows in it), the last version's
  // too: it must arrive, its latency against poll + 200 ms is in the log.
  const missed = f.deliveryMs.filter((x) => x === null).length;
  assertEquals(missed, 0, "every checkpoint's version and the last version are delivered");
  assert(f.finalMs !== null, `the last version did not arrive within ${FINAL_WAIT_MS} ms`);
  assertEquals(
    f.tornByKind["unexplained"] ?? 0,
    0,
    "payloads that are no state the file was ever in (a torn read)",
  );
  for (const kind of ATOMIC) {
    assertEquals(f.tornByKind[kind] ?? 0, 0, `torn payloads from "${kind}", which never leaves a torn file`);
  }
  assert(
    f.tornShort <= TORN_BOUND_SHORT,
    `${f.tornShort} torn payloads from half-written states gone within ${SETTLE_MS} ms (bound ${TORN_BOUND_SHORT})`,
  );
  assertEquals(f.duplicatesInARow, 0, "the same payload twice in a row");
  assertEquals(f.backwards, 0, "a version older than one already delivered");
  assertEquals(
    f.tokenCollisions,
    0,
    "one lastMod delivered with two contents (a resuming client would skip one)",
  );
  // The only error the writer can cause is the gap inside delete+recreate.
  for (const m of f.errorMessages) assertMatch(m, /not found/);
  assert(f.errorPayloads <= (f.opsByKind["recreate"] ?? 0), "at most one error per delete+recreate");
}

for (const rt of RUNTIMES) {
  const t = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${rt}] ${name}`, fn, sanitizeOps: false, sanitizeResources: false });

  for (const mode of ["events", "no-events"] as const) {
    t(`torture (${mode}): ${WRITES} mixed writes; no torn payload, no repeat, the last version delivered`, async () => {
      console.log(`torture seed ${SEED} (replay: FILEWATCH_TORTURE_SEED=${SEED} FILEWATCH_TORTURE_WRITES=${WRITES})`);
      const f = await torture(rt, mode);
      await report(f);
      assertRun(f);
    });
  }

  // The compact format carries the same facts: one run reconstructs from its frames (file events; polling alone
  // changes nothing the format sees).
  t(
    `torture (events) [filewatch.bin.v1]: ${WRITES} mixed writes; no torn payload, no repeat, the last version delivered`,
    async () => {
      console.log(`torture seed ${SEED} (replay: FILEWATCH_TORTURE_SEED=${SEED} FILEWATCH_TORTURE_WRITES=${WRITES})`);
      const f = await torture(rt, "events", "idle", WRITES, SEED, BIN_PROTOCOL);
      // Not written to FILEWATCH_REPORT_DIR, where it would take the filewatch.v1 run's name.
      console.log(`[${rt} events bin] ${f.payloads} payloads, torn ${f.torn}, final ${f.finalMs} ms, ${f.seconds} s`);
      assertRun(f);
    },
  );

  for (const mode of ["events", "no-events"] as const) {
    t(
      `torture (${mode}) under a busy loop on every core and a syncing writer: ${HOG_RUNS} × ${HOG_WRITES} mixed writes; ` +
        `no torn payload, bounded stalled/unsure/twin`,
      async () => {
        const sum = { stalled: 0, unsure: 0, twin: 0, ops: 0 };
        for (let run = 0; run < HOG_RUNS; run++) {
          const seed = (SEED + run * 0x9e3779b9) >>> 0;
          console.log(
            `torture under hog, run ${run + 1}/${HOG_RUNS}, seed ${seed} ` +
              `(replay: FILEWATCH_TORTURE_SEED=${seed} FILEWATCH_TORTURE_HOG_WRITES=${HOG_WRITES})`,
          );
          const f = await torture(rt, mode, "hog", HOG_WRITES, seed);
          await report(f, run);
          assertRun(f);
          // The run really was contended: the whole machine stayed busy (the loops' own share shrinks
          // when other work on it adds more, which once failed this check on a machine busier than the
          // hog alone), and the disk writer kept syncing.
          assert(
            f.hog !== null && f.hog.machineBusy >= 0.9,
            `the machine was ${f.hog?.machineBusy} busy under ${f.hog?.processes} busy loops`,
          );
          assert(f.hog.syncs >= f.hog.seconds, `the disk writer synced ${f.hog.syncs} writes in ${f.hog.seconds} s`);
          sum.stalled += f.tornStalled;
          sum.unsure += f.tornUnsure;
          sum.twin += f.tornTwin;
          sum.ops += f.operations;
        }
        for (const k of ["stalled", "unsure", "twin"] as const) {
          const bound = Math.floor(HOG_BOUNDS_PER_1000[k] * sum.ops / 1000);
          assert(
            sum[k] <= bound,
            `${sum[k]} ${k} torn payloads in ${sum.ops} operations under the hog (bound ${bound})`,
          );
        }
      },
    );
  }
}

/** inotify watches the process holds, from /proc (Linux): one per watched directory. */
async function inotifyWatches(pid: number): Promise<number> {
  let n = 0;
  for await (const e of Deno.readDir(`/proc/${pid}/fdinfo`)) {
    try {
      n += (await Deno.readTextFile(`/proc/${pid}/fdinfo/${e.name}`)).match(/^inotify wd:/gm)?.length ?? 0;
    } catch { /* the descriptor closed meanwhile */ }
  }
  return n;
}

/** The text a v1 client holds after each of its messages (content replaces, an append adds). */
function heldTexts(c: ReturnType<typeof connect>): string[] {
  const held: Held = { lastMod: "", size: -1, text: "" };
  return c.messages.map((m) => parseFrame({ at: m.at, raw: new TextEncoder().encode(String(m.data)) }, held).text!);
}

/** Writes `text` and waits for a v1 client to hold it; the ms it took. */
async function deliveredWithin(c: ReturnType<typeof connect>, write: () => Promise<void>, text: string, ms: number) {
  const n = c.messages.length;
  const t0 = Date.now();
  await write();
  await waitFor(() => heldTexts(c).slice(n).includes(text), ms, JSON.stringify(text));
  return Date.now() - t0;
}

for (const rt of RUNTIMES) {
  const t = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${rt}] ${name}`, fn, sanitizeOps: false, sanitizeResources: false });
  const POLL = 300;

  // Where file events cannot see a change, the poll must carry it. Two
  // honest cases that need no privileges: the watched file's directory is
  // replaced after start (the watch stays on the old directory, as with a
  // Kubernetes ConfigMap's swapped ..data or a redeployed release directory),
  // and a file that is a symlink into another directory (writes to the
  // target raise events there, not in the watched directory).
  t("the watched file's directory replaced after start: events are blind, polling still delivers", async () => {
    const base = await Deno.makeTempDir({ prefix: "filewatch-test-" });
    await Deno.mkdir(`${base}/current`);
    const file = `${base}/current/watched.txt`;
    await Deno.writeTextFile(file, "release 1");
    const s = await startServer(rt, { file, args: ["--poll", `${POLL}ms`, "--quiet"] });
    try {
      const c = connect(s.wsUrl, { protocols: ["filewatch.v1"] });
      assertEquals((await c.json(0)).data, "release 1");
      assertEquals(await watchMode(s), "events", "events are on: the server believes it sees changes");
      const ms1 = await deliveredWithin(
        c,
        async () => {
          await Deno.rename(`${base}/current`, `${base}/previous`);
          await Deno.mkdir(`${base}/current`);
          await Deno.writeTextFile(file, "release 2");
        },
        "release 2",
        POLL + 200,
      );
      // The watch still points at the old directory: every later change is the poll's too.
      const ms2 = await deliveredWithin(
        c,
        () => Deno.writeTextFile(file, "release 2, edited"),
        "release 2, edited",
        POLL + 200,
      );
      // A write in the old directory raises an event but changes nothing the client sees.
      await Deno.writeTextFile(`${base}/previous/watched.txt`, "old release, edited");
      await sleep(POLL + 100);
      assertEquals(heldTexts(c).at(-1), "release 2, edited");
      console.log(`[${rt}] directory replaced: delivered by polling in ${ms1} and ${ms2} ms (poll ${POLL} ms)`);
      c.close();
    } finally {
      await s.stop();
      await Deno.remove(base, { recursive: true });
    }
  });

  t("a symlink into another directory, its target edited in place: polling delivers every change", async () => {
    const base = await Deno.makeTempDir({ prefix: "filewatch-test-" });
    await Deno.mkdir(`${base}/data`);
    await Deno.mkdir(`${base}/link`);
    await Deno.writeTextFile(`${base}/data/app.log`, "line 1\n");
    await Deno.symlink(`${base}/data/app.log`, `${base}/link/watched.txt`);
    const s = await startServer(rt, { file: `${base}/link/watched.txt`, args: ["--poll", `${POLL}ms`, "--quiet"] });
    try {
      const c = connect(s.wsUrl, { protocols: ["filewatch.v1"] });
      assertEquals((await c.json(0)).data, "line 1\n");
      assertEquals(await watchMode(s), "events");
      let text = "line 1\n";
      for (let i = 2; i <= 4; i++) {
        text += `line ${i}\n`;
        const next = text;
        await deliveredWithin(c, () => Deno.writeTextFile(`${base}/data/app.log`, next), next, POLL + 200);
      }
      c.close();
    } finally {
      await s.stop();
      await Deno.remove(base, { recursive: true });
    }
  });

  t("a file over --max-file-size is followed in tail mode (never 'too large'); whole again when it fits", async () => {
    const file = await tempFile("x".repeat(200));
    const s = await startServer(rt, { file, args: ["--poll", "100ms", "--max-file-size", "100", "--quiet"] });
    try {
      // The window is at most the limit (docs/detection.md#tail-mode): the last 100 bytes, no newline to start after.
      const v1 = connect(s.wsUrl, { protocols: ["filewatch.v1"] });
      const e = await v1.json(0);
      assertEquals([e.type, e.offset, e.size, e.data], ["content", 100, 200, "x".repeat(100)]);
      const plain = connect(s.wsUrl);
      const p = await plain.message(0);
      assertEquals([p.binary, p.data], [false, "x".repeat(100)]);
      // The page is the large-file view of it, followed, with no error.
      const page = await (await fetch(s.url)).text();
      assertMatch(page, /data-view="large"/);
      assert(!/too large/.test(page), "no error");
      await sleep(300);
      assertEquals(v1.messages.length, 1, "nothing more while the file is still");
      await Deno.writeTextFile(file, "small now");
      const m1 = await v1.json(1, 1_000);
      assertEquals([m1.type, m1.offset, m1.data], ["content", 0, "small now"]);
      await Deno.writeTextFile(file, "y".repeat(150));
      const e2 = await v1.json(2, 1_000);
      assertEquals([e2.type, e2.offset, e2.size, e2.data], ["content", 50, 150, "y".repeat(100)]);
      v1.close();
      plain.close();
    } finally {
      await s.stop();
      await Deno.remove(dirname(file), { recursive: true });
    }
  });

  t("the server holds a directory watch only while a client is connected (--no-events: never)", async () => {
    for (const events of [true, false]) {
      const file = await tempFile("watch me");
      const s = await startServer(rt, {
        file,
        args: ["--poll", "100ms", "--quiet", ...(events ? [] : ["--no-events"])],
      });
      try {
        assertEquals(await inotifyWatches(s.pid), 0, "no watch before the first client");
        for (let round = 0; round < 3; round++) {
          const a = connect(s.wsUrl);
          const b = connect(s.wsUrl);
          await a.message(0);
          await b.message(0);
          assertEquals(await inotifyWatches(s.pid), events ? 1 : 0, "one watch however many clients");
          a.close();
          await a.closed;
          assertEquals(await inotifyWatches(s.pid), events ? 1 : 0, "still watching for the other client");
          b.close();
          await b.closed;
          await waitFor(async () => (await inotifyWatches(s.pid)) === 0, 2_000, "the watch to be given back");
          assertEquals(await watchMode(s), "idle");
        }
      } finally {
        await s.stop();
        await Deno.remove(dirname(file), { recursive: true });
      }
    }
  });
}
