/**
 * The settled read: a new version of the file is published only when a
 * second read, late enough after the first, agrees with it, so a writer's
 * half-done work (a file caught between truncate and write) is not shown.
 * The rules and the writers that shaped them: docs/detection.md#settled-reads.
 * @module
 */
import {
  bytesEqual,
  ctimeGrainNs,
  type FileOps,
  nowNs,
  readIfChanged,
  type ReadResult,
  type ReadWindow,
  sameFile,
  sameStamp,
  type Stamp,
  statStamp,
  unchangedForNs,
} from "./read.ts";
import { incompleteUtf8Tail, type Snapshot } from "./version.ts";

/**
 * A new version may be a writer caught between truncate and write: it is read
 * again at least this long after it was first read (by our clock) and after
 * its ctime's tick (by the kernel's), and published only when the two reads
 * agree (see {@link SettledReader.read}).
 */
export const SETTLE_MS = 10;
const SETTLE_NS = BigInt(SETTLE_MS) * 1_000_000n;
/**
 * While it waits between two reads, the settled read looks at the file's
 * stamp this often, so a truncate that starts meanwhile is known by the size
 * it drops from ({@link shrankUnderOldTimes}). A stat costs microseconds.
 */
export const STAMP_EVERY_MS = 2;
/** How many times a still-changing file is re-read before the check leaves it to the next one. */
export const SETTLE_TRIES = 5;
/**
 * A file that has not held still for {@link SETTLE_MS} for this long (or for
 * one poll period, when that is shorter) is shown as last read: a stable read,
 * so a state the file really had, but not confirmed by a second one.
 * Otherwise a file that never holds still would never update. A state taken
 * for a truncate in progress ({@link shrankUnderOldTimes}) is shown only once
 * it has stayed this long.
 */
export const UNSETTLED_MAX_MS = 1_000;

type Content = Extract<ReadResult, { kind: "content" }>;

/** Two reads saw one state: the whole stamp, where they start, and every byte. */
function agrees(a: Content, b: Content): boolean {
  return sameStamp(a.stamp, b.stamp) && a.start === b.start && bytesEqual(a.bytes, b.bytes);
}

/**
 * A read that began at `atNs` began late enough after the stamp's ctime
 * that the kernel would have moved the ctime for any change since
 * {@link SETTLE_MS} before it. Whole-second ctimes (Deno 2.9) would make that
 * a wait of over a second per version: for them our own clock's gap stands
 * alone (docs/detection.md#settled-reads).
 */
function ctimeSettled(stamp: Stamp, atNs: bigint): boolean {
  return ctimeGrainNs(stamp) >= 1_000_000_000n || unchangedForNs(stamp, atNs) >= SETTLE_NS;
}

/**
 * The file is smaller than a state already seen, under that state's very
 * times: a truncate still running. Linux sets a truncated file's size before
 * its times, and a writer descheduled inside the call (seen for over 100 ms
 * on a busy machine) leaves the file that way for as long as it waits; two
 * reads any distance apart then agree on it, and its times are as old as the
 * state before, so the kernel's clock seems to vouch for it. No finished
 * change looks so where ctimes are fine-grained: since Linux 6.13 a change
 * after a stat gets a ctime of its own, and a shrink also moves the mtime.
 * Whole-second ctimes (Deno 2.9) repeat within a second, so for them this
 * says nothing (docs/detection.md#settled-reads).
 */
export function shrankUnderOldTimes(s: Stamp, seen: readonly Stamp[]): boolean {
  if (ctimeGrainNs(s) >= 1_000_000_000n) return false;
  return seen.some((o) => sameFile(o, s) && o.mtimeNs === s.mtimeNs && o.ctimeNs === s.ctimeNs && s.size < o.size);
}

/** performance.now() at which {@link ctimeSettled} will hold for a read starting then (past for coarse ctimes). */
function ctimeSettledAt(stamp: Stamp): number {
  if (ctimeGrainNs(stamp) >= 1_000_000_000n) return 0;
  const lackNs = SETTLE_NS - unchangedForNs(stamp, nowNs());
  // +1 ms: nowNs() is whole milliseconds.
  return lackNs <= 0n ? 0 : performance.now() + Number(lackNs / 1_000_000n) + 1;
}

const sleep = (ms: number) => new Promise((res) => setTimeout(res, Math.ceil(ms)));

/** Where and how a {@link SettledReader} reads. */
export interface SettleOptions {
  file: string;
  maxFileSize: number;
  /** How much of the file a read takes, by its size: its last bytes, or 0 for all of it (see {@link ReadWindow}). */
  tail: ReadWindow;
  /** The poll period, ms: a file that never holds still is shown at least this often. */
  poll: number;
  fs: FileOps;
}

/**
 * Reads one file's new versions, settled. Remembers two things between
 * reads: since when the file has been changing between every re-read, and
 * the last state taken for a truncate in progress.
 */
export class SettledReader {
  /** When the file was first found changing between every settle re-read (0: it has held still since). */
  #unsettledSince = 0;
  /** The last stamp {@link shrankUnderOldTimes} flagged, and since when (performance.now()). */
  #suspect: { stamp: Stamp; since: number } | null = null;

  constructor(readonly options: SettleOptions) {}

  /** The file was seen holding still by other means (an append was read): it is not "never still". */
  heldStill(): void {
    this.#unsettledSince = 0;
  }

  /**
   * Waits `ms`, adding the file's stamp to `seen` every
   * {@link STAMP_EVERY_MS} (when it differs from the last one seen).
   */
  async #waitWatching(ms: number, seen: Stamp[]): Promise<void> {
    const until = performance.now() + ms;
    for (let left = ms; left > 0; left = until - performance.now()) {
      await sleep(Math.min(STAMP_EVERY_MS, left));
      try {
        const st = await statStamp(this.options.file, this.options.fs);
        if (!sameStamp(st, seen.at(-1) ?? null)) seen.push(st);
      } catch { /* gone or unreadable: the next read says so */ }
    }
  }

  /**
   * Whether a read's state is a truncate in progress
   * ({@link shrankUnderOldTimes} against the states `seen` before it), and
   * has not yet stayed {@link UNSETTLED_MAX_MS}: a truncate does not take
   * that long, and a kernel whose ctimes repeat within one clock tick can
   * show a finished truncate so; after that it may be confirmed.
   */
  #truncating(s: Stamp, seen: readonly Stamp[]): boolean {
    const now = performance.now();
    if (!this.#suspect || !sameStamp(this.#suspect.stamp, s)) {
      if (!shrankUnderOldTimes(s, seen)) return false;
      this.#suspect = { stamp: s, since: now };
    }
    return now - this.#suspect.since < UNSETTLED_MAX_MS;
  }

  /**
   * A read that is not a writer's half-done work: a new version is read
   * again and taken when both reads agree on the whole stamp (ctime
   * included) and the bytes, with the second read starting at least
   * {@link SETTLE_MS} after the end of the first, by our clock (a truncate
   * sets the size before the times, so no timestamp tells its middle from a
   * finished file), and after the end of the ctime's clock tick, by the
   * kernel's (when ctimes are finer than a second: every later change moves
   * the ctime, so the two reads prove the state held between them). A read
   * whose before/after stats disagree is never taken (readIfChanged retries
   * it, and gives up with "unstable"), nor one smaller than a state seen
   * before it under the same times (a truncate caught in its middle; see
   * {@link shrankUnderOldTimes}).
   *
   * @param previous the stamp last read (null: read whatever is there)
   * @param racy the last read may have missed a change its stamp does not show
   * @param published the snapshot clients hold: a re-read that finds its bytes needs no confirming
   */
  async read(previous: Stamp | null, racy: boolean, published: Snapshot | null): Promise<ReadResult> {
    const { file, maxFileSize, tail, fs } = this.options;
    // Every state this call saw, and the one last read before it: what a truncate in progress shrinks from.
    const seen: Stamp[] = previous ? [previous] : [];
    let r = await readIfChanged(file, previous, maxFileSize, racy, tail, fs);
    if (r.kind === "content") seen.push(r.stamp);
    // From the end of a read to the start of the next, so a state both reads saw stayed that long.
    let readDone = performance.now();
    let tries = 0;
    for (; tries < SETTLE_TRIES && r.kind === "content"; tries++) {
      // A racy re-check that found the bytes already published: nothing new
      // to confirm. (A character not yet complete at the end is not published.)
      if (sameStamp(r.stamp, previous) && published?.ok && r.start === published.offset) {
        if (bytesEqual(published.bytes, r.bytes.subarray(0, r.bytes.length - incompleteUtf8Tail(r.bytes)))) break;
      }
      const wait = Math.max(readDone + SETTLE_MS, ctimeSettledAt(r.stamp)) - performance.now();
      if (wait > 0) await this.#waitWatching(wait, seen);
      const againFrom = performance.now();
      const again = await readIfChanged(file, r.stamp, maxFileSize, true, tail, fs);
      if (
        again.kind === "content" && agrees(again, r) && againFrom - readDone >= SETTLE_MS &&
        ctimeSettled(again.stamp, again.readAtNs) && !this.#truncating(again.stamp, seen)
      ) {
        this.#unsettledSince = 0;
        return { ...again, racy: r.racy || again.racy };
      }
      if (again.kind === "content") seen.push(again.stamp);
      readDone = performance.now();
      // A re-read that raced the writer confirms nothing and refutes nothing:
      // the last stable read still waits to be confirmed.
      if (again.kind !== "unstable") r = again;
    }
    if (r.kind === "content" && tries === SETTLE_TRIES && published) {
      // The file changed between every pair of reads, so the newest read may
      // be a writer's half-done work: leave it to the next event or poll,
      // unless the file has kept changing for UNSETTLED_MAX_MS
      // (docs/detection.md#a-file-that-never-holds-still).
      const now = Date.now();
      this.#unsettledSince ||= now;
      if (now - this.#unsettledSince < Math.min(UNSETTLED_MAX_MS, this.options.poll)) return { kind: "unchanged" };
      // Then only a state two whole reads agree on is shown (racy, so it is
      // read again next time), the second keeping our clock's gap where
      // ctimes are fine-grained, and vouched for by the kernel's clock too.
      const fine = ctimeGrainNs(r.stamp) < 1_000_000_000n;
      const gap = fine ? readDone + SETTLE_MS - performance.now() : 0;
      if (gap > 0) await this.#waitWatching(gap, seen);
      const again = await readIfChanged(file, r.stamp, maxFileSize, true, tail, fs);
      if (again.kind !== "content" || !agrees(again, r)) return { kind: "unchanged" };
      if (!ctimeSettled(again.stamp, again.readAtNs)) return { kind: "unchanged" };
      if (this.#truncating(again.stamp, seen)) return { kind: "unchanged" };
      r = { ...again, racy: true };
    }
    this.#unsettledSince = 0;
    return r;
  }
}
