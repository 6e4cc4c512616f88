/**
 * Reading the watched file safely: stamps, whole or tail reads that are one
 * complete version, and reads of what an append added.
 *
 * Every read goes through one descriptor with a stat before and after, so a
 * read that raced a writer is noticed rather than published.
 * @module
 */
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import { notRegular, openRegular } from "./open.ts";
import { Buffer } from "node:buffer";

// FIFOs, sockets and devices are never opened: statStamp refuses them before
// any open, and openRegular (src/open.ts) opens without blocking and checks
// the type on the descriptor too, in case the path changed in between.
export { openRegular } from "./open.ts";

/** What identifies one version of the file on disk. */
export interface Stamp {
  /** Modification time in ns (Deno's node:fs gives ms precision: ns = ms × 10⁶). */
  mtimeNs: bigint;
  /**
   * Status change time in ns: moved by the kernel on every write, truncate,
   * rename and utime, and no program can set it, so it changes where a writer
   * puts the mtime back. Bun gives ns; Deno 2.9 whole seconds (see
   * {@link ctimeGrainNs}).
   */
  ctimeNs: bigint;
  size: number;
  ino: bigint;
  dev: bigint;
}

/** A stat as node:fs gives it with `{ bigint: true }`. */
export interface RawStat {
  mtimeNs: bigint;
  ctimeNs: bigint;
  size: bigint;
  ino: bigint;
  dev: bigint;
}

/** One open file, as {@link FileOps} opens it. */
export interface OpenFile {
  stat(): Promise<RawStat>;
  read(buf: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  close(): Promise<void>;
}

/**
 * The file system calls every read goes through: node:fs, which both
 * runtimes provide. Tests pass their own to play a writer that races every
 * read (tests/unit/fake_fs.ts).
 */
export interface FileOps {
  stat(path: string): Promise<RawStat>;
  open(path: string): Promise<OpenFile>;
}

/** {@link FileOps} on node:fs/promises, never opening what is not a regular file (or a directory, which fails to read). */
export const nodeFileOps: FileOps = {
  // A FIFO, socket or device is refused here, before anything opens it (docs/security.md#several-files).
  async stat(path) {
    const st = await stat(path, { bigint: true });
    if (!st.isFile() && !st.isDirectory()) throw notRegular();
    return st;
  },
  async open(path) {
    const fh = await openRegular(path);
    return {
      stat: () => fh.stat({ bigint: true }),
      read: (buf, offset, length, position) => fh.read(buf, offset, length, position),
      close: () => fh.close(),
    };
  },
};

/**
 * Within this much of the moment it was read, an mtime may not move on the next
 * write (the kernel's coarse clock ticks every few ms; git calls this "racy"):
 * such a version is compared by content on the next check as well.
 */
export const RACY_WINDOW_NS = 100_000_000n;
/** Filesystems that keep whole seconds (FAT keeps 2 s) get a wider window. */
export const RACY_WINDOW_COARSE_NS = 2_000_000_000n;
/** A read whose before/after stats disagree is tried again this many times. */
export const STABLE_READ_TRIES = 20;
/**
 * An append is checked against what the server holds: this many bytes just
 * before the old end, and as many at the start of the file, must read back
 * equal (docs/detection.md#appends). Anything else is a replacement.
 */
export const APPEND_CHECK_BYTES = 4096;

/** Two stamps name the same version: the whole tuple agrees, ctime included. */
export function sameStamp(a: Stamp | null, b: Stamp | null): boolean {
  return !!a && !!b && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs && a.size === b.size &&
    a.ino === b.ino && a.dev === b.dev;
}

/** Both stamps are of one file (same device and inode). */
export function sameFile(a: Stamp | null, b: Stamp | null): boolean {
  return !!a && !!b && a.ino === b.ino && a.dev === b.dev;
}

/**
 * The stamp of a version read at `readAtNs` that may change again without
 * the stamp moving: its mtime is within the racy window (the kernel's coarse
 * clock may not move it on the next write), or the read began before the
 * ctime's tick was over, and a change within that tick keeps the ctime. With
 * Deno's whole-second ctimes that is up to a second, in which a writer that
 * puts the mtime back and keeps the size (same-tick rewrites) leaves nothing
 * a stat can see; the mtime rule alone missed such a rewrite when the writer
 * paused past the mtime's window between two of them (docs/detection.md).
 */
export function isRacy(stamp: Stamp, readAtNs: bigint): boolean {
  const window = stamp.mtimeNs % 1_000_000_000n === 0n ? RACY_WINDOW_COARSE_NS : RACY_WINDOW_NS;
  return readAtNs - stamp.mtimeNs < window || unchangedForNs(stamp, readAtNs) < CTIME_TICK_NS;
}

/** Maps Node-style error codes from either runtime to one message a viewer understands. */
export function describeError(e: unknown, file: string): { code: string; message: string } {
  const code = (e as { code?: string })?.code ?? "EIO";
  const what: Record<string, string> = {
    ENOENT: "file not found",
    EACCES: "permission denied",
    EPERM: "permission denied",
    EISDIR: "is a directory, not a file",
    ENOTDIR: "a parent is not a directory",
    EFBIG: "file too large",
    ELOOP: "too many symbolic links",
    ENOTREG: "not a regular file (a FIFO, socket or device is never opened)",
    EHARDLINK:
      "has more than one hard link (one may be a file from outside the directory; --allow-hardlinks serves it)",
  };
  return { code, message: `${file}: ${what[code] ?? `cannot read (${code})`}` };
}

/** Now, in ns since the epoch (the clock mtimes are compared with). */
export const nowNs = (): bigint => BigInt(Date.now()) * 1_000_000n;

/**
 * How far the kernel's file timestamps may lag behind the moment of the
 * change they record: the coarse clock ticks at HZ, every 10 ms at worst.
 */
export const CTIME_TICK_NS = 10_000_000n;

/**
 * How coarse a stamp's ctime is: a whole-second ctime (Deno 2.9's node:fs
 * and Deno.stat give no more; FAT and some network filesystems keep no more)
 * may lag its change by up to a second, any other by one kernel clock tick.
 */
export function ctimeGrainNs(s: Stamp): bigint {
  return s.ctimeNs % 1_000_000_000n === 0n ? 1_000_000_000n : CTIME_TICK_NS;
}

/**
 * How long, by the kernel's own record, the inode had not changed at `atNs`
 * (negative: a change within the ctime's tick would not have moved it).
 * The state the file is in has held that long, with one exception a reader
 * must guard against itself: Linux sets a truncated file's size before its
 * times, so a stat inside that call sees the new size under the previous
 * change's ctime (docs/detection.md, "Stable reads").
 */
export function unchangedForNs(s: Stamp, atNs: bigint): bigint {
  return atNs - s.ctimeNs - ctimeGrainNs(s);
}

function toStamp(s: RawStat): Stamp {
  return { mtimeNs: s.mtimeNs, ctimeNs: s.ctimeNs, size: Number(s.size), ino: s.ino, dev: s.dev };
}

/** The file's stamp now. Throws the runtime's error (see {@link describeError}). */
export async function statStamp(path: string, fs: FileOps = nodeFileOps): Promise<Stamp> {
  return toStamp(await fs.stat(path));
}

/** True when two byte ranges hold the same bytes. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length &&
    Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}

/** Fills `buf` from file offset `at`; returns how many bytes the file had there. */
async function readAt(fh: OpenFile, buf: Uint8Array, at: number): Promise<number> {
  let n = 0;
  while (n < buf.length) {
    const { bytesRead } = await fh.read(buf, n, buf.length - n, at + n);
    if (bytesRead === 0) break;
    n += bytesRead;
  }
  return n;
}

/** Outcome of {@link readIfChanged}. */
export type ReadResult =
  | { kind: "unchanged" }
  /** Every try raced a writer: no read is known to be one version. */
  | { kind: "unstable" }
  | {
    kind: "content";
    stamp: Stamp;
    /** The file's bytes from `start` to `stamp.size`. */
    bytes: Uint8Array;
    /** 0, or in tail mode (a window) where the bytes read start. */
    start: number;
    racy: boolean;
    /** When the try that read it began (ns since the epoch, the clock ctimes are on). */
    readAtNs: bigint;
  }
  | { kind: "error"; code: string; message: string };

/**
 * How much of a file of `size` bytes a read takes: its last this many bytes,
 * or 0 for the whole file. A number is the same for every size (0: the whole
 * file; more: tail mode); the watcher passes a function, since a file over
 * `--max-file-size` is followed in tail mode (docs/detection.md#tail-mode).
 */
export type ReadWindow = number | ((size: number) => number);

/**
 * gorilla's `readFileIfModified`, made safe: stats the file, and unless its
 * stamp equals `previous` (and `recheck` is off), reads it through one
 * descriptor with a stat before and after, retrying when they differ, so the
 * bytes are one complete version as it was on disk.
 * The stats compare the whole stamp, ctime included: a writer that puts the
 * mtime back (or keeps the size) during the read still moves the ctime.
 *
 * @param previous the stamp last seen, or null to read unconditionally
 * @param maxSize a file larger than this that `tail` reads whole is an error
 * @param recheck re-read even when the stamp is unchanged (the last read was racy)
 * @param tail how much of the file to read, by its size at the read ({@link ReadWindow}; 0 = the whole file)
 * @param fs the file system calls (tests play a racing writer with their own)
 */
export async function readIfChanged(
  path: string,
  previous: Stamp | null,
  maxSize: number,
  recheck = false,
  tail: ReadWindow = 0,
  fs: FileOps = nodeFileOps,
): Promise<ReadResult> {
  const windowOf = typeof tail === "number" ? () => tail : tail;
  try {
    const first = await statStamp(path, fs);
    if (!recheck && sameStamp(first, previous)) return { kind: "unchanged" };
    if (windowOf(first.size) === 0 && first.size > maxSize) return tooLarge(path, first.size, maxSize);
    const fh = await fs.open(path);
    try {
      for (let i = 0; i < STABLE_READ_TRIES; i++) {
        const readAtNs = nowNs();
        const before = toStamp(await fh.stat());
        // Decided by the size this try reads at: the stat after it must agree, so the result is its window.
        const window = windowOf(before.size);
        if (window === 0 && before.size > maxSize) return tooLarge(path, before.size, maxSize);
        const start = window > 0 ? Math.max(0, before.size - window) : 0;
        // One byte more than the size: a file that grew while we read is noticed.
        const buf = new Uint8Array(before.size - start + 1);
        const n = await readAt(fh, buf, start);
        const after = toStamp(await fh.stat());
        if (sameStamp(before, after) && n === before.size - start) {
          return {
            kind: "content",
            stamp: after,
            bytes: buf.subarray(0, n),
            start,
            racy: isRacy(after, readAtNs),
            readAtNs,
          };
        }
      }
      // Still changing after every try: nothing read is known to be one
      // version, and a torn read must never be published.
      return { kind: "unstable" };
    } finally {
      await fh.close();
    }
  } catch (e) {
    return { kind: "error", ...describeError(e, basename(path)) };
  }
}

function tooLarge(path: string, size: number, max: number): ReadResult {
  return {
    kind: "error",
    code: "EFBIG",
    message: `${basename(path)}: file too large (${size} bytes, limit ${max})`,
  };
}

/**
 * What an append is checked against: the version clients hold (its stamp
 * and size) and the two ranges of it that must read back equal.
 */
export interface AppendBase {
  /** The stamp the file had when it was last read. */
  stamp: Stamp;
  /** Bytes of the file the clients hold: where the appended bytes start. */
  size: number;
  /** The file's bytes just before `size` (at most {@link APPEND_CHECK_BYTES}). */
  before: Uint8Array;
  /** The file's first bytes (at most {@link APPEND_CHECK_BYTES}). */
  head: Uint8Array;
}

/** Outcome of {@link readAppended}. */
export type GrowthResult =
  | { kind: "appended"; stamp: Stamp; bytes: Uint8Array; racy: boolean }
  | { kind: "other" };

/**
 * Whether the file behind `fh` still holds the two ranges an append is
 * checked by (docs/detection.md#appends): the {@link AppendBase.before}
 * bytes just before `base.size`, and the {@link AppendBase.head} at the
 * start. `end`, when given, is what the caller already read from
 * `base.size - base.before.length` on (at least that many bytes, or the file
 * was shorter); otherwise they are read here. The head is read apart only
 * where the end range does not cover it.
 */
export async function checkedRangesHold(fh: OpenFile, base: AppendBase, end?: Uint8Array): Promise<boolean> {
  const start = base.size - base.before.length;
  if (!end) {
    const buf = new Uint8Array(base.before.length);
    end = buf.subarray(0, await readAt(fh, buf, start));
  }
  if (!bytesEqual(end.subarray(0, base.before.length), base.before)) return false;
  if (start === 0 || base.head.length === 0) return true;
  const head = new Uint8Array(base.head.length);
  const h = await readAt(fh, head, 0);
  return h === head.length && bytesEqual(head, base.head);
}

/**
 * Reads what was appended since `base`, if the file only grew: same device
 * and inode, larger, and the bytes just before the old end and at the start
 * of the file read back equal ({@link checkedRangesHold}). Reads those
 * checked bytes and the new ones, nothing else; no settle wait is needed,
 * since bytes already written to a file that only grows do not change.
 * Anything else (or more than `limit` new bytes) is `other`: the caller
 * reads the file as a replacement.
 */
export async function readAppended(
  path: string,
  base: AppendBase,
  limit: number,
  fs: FileOps = nodeFileOps,
): Promise<GrowthResult> {
  const other = { kind: "other" } as const;
  let fh: OpenFile;
  try {
    fh = await fs.open(path);
  } catch {
    return other;
  }
  try {
    const readAtNs = nowNs();
    const before = toStamp(await fh.stat());
    if (!sameFile(before, base.stamp) || before.size <= base.size || before.size - base.size > limit) return other;
    const start = base.size - base.before.length;
    const buf = new Uint8Array(before.size - start);
    const n = await readAt(fh, buf, start);
    if (n < buf.length || !await checkedRangesHold(fh, base, buf)) return other;
    const after = toStamp(await fh.stat());
    // A shrink or a new inode during the read: not an append of what we hold.
    if (!sameFile(after, before) || after.size < before.size) return other;
    return { kind: "appended", stamp: before, bytes: buf.subarray(base.before.length), racy: isRacy(before, readAtNs) };
  } catch {
    return other;
  } finally {
    await fh.close().catch(() => {});
  }
}

/**
 * Re-reads the bytes an append would be checked against (the head, and the
 * end of what is held) on a file the size clients hold: the cheap recheck of
 * a version of a growing file, instead of reading the whole file again.
 * Returns the file's stamp when those bytes are unchanged (its mtime may have
 * moved), false when they changed or the file is another one, and "moved"
 * when the file changed while it was looked at.
 */
export async function heldStillHolds(
  path: string,
  base: AppendBase,
  fs: FileOps = nodeFileOps,
): Promise<Stamp | false | "moved"> {
  let fh: OpenFile | undefined;
  try {
    fh = await fs.open(path);
    const before = toStamp(await fh.stat());
    if (!sameFile(before, base.stamp) || before.size < base.size) return false;
    if (before.size > base.size) return "moved";
    const holds = await checkedRangesHold(fh, base);
    const after = toStamp(await fh.stat());
    if (!sameFile(after, before) || after.size < before.size) return false;
    if (!sameStamp(before, after)) return "moved";
    return holds ? after : false;
  } catch {
    return false;
  } finally {
    await fh?.close().catch(() => {});
  }
}
