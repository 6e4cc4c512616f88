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
  sameStamp,
  type Stamp,
  unchangedForNs,
} from "./read.ts";
import type { Snapshot } from "./version.ts";

/**
 * A new version may be a writer caught between truncate and write: it is read
 * again at least this long after it was first read (by our clock) and after
 * its ctime's tick (by the kernel's), and published only when the two reads
 * agree (see {@link SettledReader.read}).
 */
export const SETTLE_MS = 10;
const SETTLE_NS = BigInt(SETTLE_MS) * 1_000_000n;
/** How many times a still-changing file is re-read before the check leaves it to the next one. */
export const SETTLE_TRIES = 5;
/**
 * A file that has not held still for {@link SETTLE_MS} for this long (or for
 * one poll period, when that is shorter) is shown as last read: a stable read,
 * so a state the file really had, but not confirmed by a second one.
 * Otherwise a file that never holds still would never update.
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
  /** Read only the file's last this many bytes (0 = the whole file). */
  tail: number;
  /** The poll period, ms: a file that never holds still is shown at least this often. */
  poll: number;
  fs: FileOps;
}

/**
 * Reads one file's new versions, settled. Remembers one thing between
 * reads: since when the file has been changing between every re-read.
 */
export class SettledReader {
  /** When the file was first found changing between every settle re-read (0: it has held still since). */
  #unsettledSince = 0;

  constructor(readonly options: SettleOptions) {}

  /** The file was seen holding still by other means (an append was read): it is not "never still". */
  heldStill(): void {
    this.#unsettledSince = 0;
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
   * it, and gives up with "unstable").
   *
   * @param previous the stamp last read (null: read whatever is there)
   * @param racy the last read may have missed a change its stamp does not show
   * @param published the snapshot clients hold: a re-read that finds its bytes needs no confirming
   */
  async read(previous: Stamp | null, racy: boolean, published: Snapshot | null): Promise<ReadResult> {
    const { file, maxFileSize, tail, fs } = this.options;
    let r = await readIfChanged(file, previous, maxFileSize, racy, tail, fs);
    // From the end of a read to the start of the next, so a state both reads saw stayed that long.
    let readDone = performance.now();
    let tries = 0;
    for (; tries < SETTLE_TRIES && r.kind === "content"; tries++) {
      // A racy re-check that found the bytes already published: nothing new to confirm.
      if (sameStamp(r.stamp, previous) && published?.ok && r.start === published.offset) {
        if (bytesEqual(published.bytes, r.bytes)) break;
      }
      const wait = Math.max(readDone + SETTLE_MS, ctimeSettledAt(r.stamp)) - performance.now();
      if (wait > 0) await sleep(wait);
      const againFrom = performance.now();
      const again = await readIfChanged(file, r.stamp, maxFileSize, true, tail, fs);
      if (
        again.kind === "content" && agrees(again, r) && againFrom - readDone >= SETTLE_MS &&
        ctimeSettled(again.stamp, again.readAtNs)
      ) {
        this.#unsettledSince = 0;
        return { ...again, racy: r.racy || again.racy };
      }
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
      if (gap > 0) await sleep(gap);
      const again = await readIfChanged(file, r.stamp, maxFileSize, true, tail, fs);
      if (again.kind !== "content" || !agrees(again, r)) return { kind: "unchanged" };
      if (!ctimeSettled(again.stamp, again.readAtNs)) return { kind: "unchanged" };
      r = { ...again, racy: true };
    }
    this.#unsettledSince = 0;
    return r;
  }
}
