/**
 * One watcher per watched file: stable reads, change detection, subscribers.
 *
 * File events make changes fast; polling makes them certain. Every client of a
 * file shares one watcher, so the file is stat'ed once per poll period and read
 * once per change, however many viewers there are.
 * @module
 */
import { type FSWatcher, watch as fsWatch } from "node:fs";
import { open, stat } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { Buffer } from "node:buffer";

/** What identifies one version of the file on disk. */
export interface Stamp {
  /** Modification time in ns (Deno's node:fs gives ms precision: ns = ms × 10⁶). */
  mtimeNs: bigint;
  size: number;
  ino: bigint;
  dev: bigint;
}

/** The file's current state as clients see it. `seq` grows with every change worth sending. */
export type Snapshot =
  | {
    ok: true;
    seq: number;
    /** Resume token: hex ns, as gorilla's example. */
    lastMod: string;
    size: number;
    bytes: Uint8Array;
    /** The content as text, or null when it is not valid UTF-8. */
    text: string | null;
  }
  | { ok: false; seq: number; lastMod: string; error: string };

/** Outcome of {@link readIfChanged}. */
export type ReadResult =
  | { kind: "unchanged" }
  | { kind: "content"; stamp: Stamp; bytes: Uint8Array; racy: boolean }
  | { kind: "error"; code: string; message: string };

/**
 * Within this much of the moment it was read, an mtime may not move on the next
 * write (the kernel's coarse clock ticks every few ms; git calls this "racy"):
 * such a version is compared by content on the next check as well.
 */
export const RACY_WINDOW_NS = 100_000_000n;
/** Filesystems that keep whole seconds (FAT keeps 2 s) get a wider window. */
export const RACY_WINDOW_COARSE_NS = 2_000_000_000n;
/** A read whose before/after stats disagree is tried again this many times. */
export const STABLE_READ_TRIES = 5;
/** File events come in bursts (truncate, write, close): wait this long for the burst to end. */
export const EVENT_DEBOUNCE_MS = 2;
/**
 * A new version may be a writer caught between truncate and write: it is read
 * again this long (by our clock) after it was first read, and published only
 * when the two reads agree.
 */
export const SETTLE_MS = 10;
/** How many times a still-changing file is re-read before the check leaves it to the next one. */
export const SETTLE_TRIES = 5;
/**
 * A file that has not held still for {@link SETTLE_MS} for this long is shown
 * as last read, confirmed or not: otherwise a file that never holds still
 * would never update.
 */
export const UNSETTLED_MAX_MS = 1_000;
/**
 * How many mtimes the watcher remembers the resume tokens of, so a token is
 * never handed out again for other content (a few dozen bytes each).
 */
export const TOKENS_KEPT = 1024;

/** Two stamps name the same version. */
export function sameStamp(a: Stamp | null, b: Stamp | null): boolean {
  return !!a && !!b && a.mtimeNs === b.mtimeNs && a.size === b.size && a.ino === b.ino &&
    a.dev === b.dev;
}

/** The stamp of a version that may still change without its mtime moving. */
export function isRacy(stamp: Stamp, readAtNs: bigint): boolean {
  const window = stamp.mtimeNs % 1_000_000_000n === 0n ? RACY_WINDOW_COARSE_NS : RACY_WINDOW_NS;
  return readAtNs - stamp.mtimeNs < window;
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
  };
  return { code, message: `${file}: ${what[code] ?? `cannot read (${code})`}` };
}

const nowNs = () => BigInt(Date.now()) * 1_000_000n;

function toStamp(s: { mtimeNs: bigint; size: bigint; ino: bigint; dev: bigint }): Stamp {
  return { mtimeNs: s.mtimeNs, size: Number(s.size), ino: s.ino, dev: s.dev };
}

/**
 * gorilla's `readFileIfModified`, made safe: stats the file, and unless its
 * stamp equals `previous` (and `previous` was not racy), reads it whole through
 * one descriptor with a stat before and after, retrying when they differ, so
 * the bytes are one complete version as it was on disk.
 *
 * @param previous the stamp last seen, or null to read unconditionally
 * @param recheck re-read even when the stamp is unchanged (the last read was racy)
 */
export async function readIfChanged(
  path: string,
  previous: Stamp | null,
  maxSize: number,
  recheck = false,
): Promise<ReadResult> {
  try {
    const first = toStamp(await stat(path, { bigint: true }));
    if (!recheck && sameStamp(first, previous)) return { kind: "unchanged" };
    if (first.size > maxSize) return tooLarge(path, first.size, maxSize);
    const fh = await open(path, "r");
    try {
      let last: { stamp: Stamp; bytes: Uint8Array } | null = null;
      for (let i = 0; i < STABLE_READ_TRIES; i++) {
        const readAt = nowNs();
        const before = toStamp(await fh.stat({ bigint: true }));
        if (before.size > maxSize) return tooLarge(path, before.size, maxSize);
        // One byte more than the size: a file that grew while we read is noticed.
        const buf = new Uint8Array(before.size + 1);
        let n = 0;
        while (n < buf.length) {
          const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
          if (bytesRead === 0) break;
          n += bytesRead;
        }
        const after = toStamp(await fh.stat({ bigint: true }));
        const bytes = buf.subarray(0, Math.min(n, before.size));
        if (sameStamp(before, after) && n === before.size) {
          return { kind: "content", stamp: after, bytes, racy: isRacy(after, readAt) };
        }
        last = { stamp: after, bytes };
      }
      // Still changing after every try (a busy log): the last read is a prefix
      // as the file was; mark it racy so the next check reads again.
      return { kind: "content", stamp: last!.stamp, bytes: last!.bytes, racy: true };
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

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The bytes as text, or null when they are not valid UTF-8 (never a lossy guess). */
export function utf8OrNull(bytes: Uint8Array): string | null {
  try {
    return decoder.decode(bytes);
  } catch {
    return null;
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length &&
    Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}

/** Options of a {@link FileWatcher}. */
export interface WatcherOptions {
  file: string;
  /** Poll period, ms. */
  poll: number;
  maxFileSize: number;
  /** Also watch the parent directory for events. */
  events: boolean;
  /** Told about event-watcher failures (the watcher falls back to polling). */
  onWarning?: (message: string) => void;
}

/** How changes are being noticed right now. */
export type WatchMode = "events" | "polling" | "idle";

/**
 * Shared by every client of one file. Polls and listens only while someone is
 * subscribed; {@link current} answers for a page view even when nobody is.
 *
 * @example
 * ```ts
 * const w = new FileWatcher({ file: "app.log", poll: 1000, maxFileSize: 1 << 24, events: true });
 * const stop = w.subscribe((snap) => console.log(snap.seq));
 * stop();
 * ```
 */
export class FileWatcher {
  readonly options: WatcherOptions;
  #snap: Snapshot | null = null;
  #stamp: Stamp | null = null;
  #racy = false;
  /** lastMods whose content equals the current one (a `touch` is not news). */
  #aliases = new Set<string>();
  /** mtime → the highest resume token handed out for it (see {@link TOKENS_KEPT}). */
  #tokens = new Map<bigint, bigint>();
  #errorCode = "";
  #listeners = new Set<(s: Snapshot) => void>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #debounce: ReturnType<typeof setTimeout> | undefined;
  #fsw: FSWatcher | undefined;
  #checking: Promise<void> | null = null;
  /** When the file was first found changing between every settle re-read (0: it has held still since). */
  #unsettledSince = 0;
  #again = false;
  #closed = false;
  /** Counters for metrics. */
  readonly stats = { versions: 0, readErrors: 0, checks: 0, reads: 0 };

  constructor(options: WatcherOptions) {
    this.options = options;
  }

  /** The newest snapshot, if any check has completed. */
  get snapshot(): Snapshot | null {
    return this.#snap;
  }

  get mode(): WatchMode {
    if (this.#listeners.size === 0) return "idle";
    return this.#fsw ? "events" : "polling";
  }

  get subscribers(): number {
    return this.#listeners.size;
  }

  /** True when a client that saw `lastMod` already has the current content. */
  isCurrent(lastMod: string | null): boolean {
    if (lastMod === null || !this.#snap) return false;
    return this.#snap.lastMod === lastMod || (this.#snap.ok && this.#aliases.has(lastMod));
  }

  /** The current snapshot; checks the file first when nobody keeps it fresh. */
  async current(): Promise<Snapshot> {
    if (this.#listeners.size === 0 || !this.#snap) await this.check();
    return this.#snap!;
  }

  /** Calls `listener` with every new snapshot until the returned function is called. */
  subscribe(listener: (s: Snapshot) => void): () => void {
    this.#listeners.add(listener);
    if (this.#listeners.size === 1) this.#start();
    return () => {
      if (this.#listeners.delete(listener) && this.#listeners.size === 0) this.#stop();
    };
  }

  /** Stops polling and events for good. */
  close(): void {
    this.#closed = true;
    this.#listeners.clear();
    this.#stop();
  }

  /**
   * Looks at the file now. Concurrent calls share one check; a call that
   * arrives during a check makes one more run after it, so no event is lost.
   */
  check(): Promise<void> {
    if (this.#checking) {
      this.#again = true;
      return this.#checking;
    }
    this.#checking = (async () => {
      try {
        do {
          this.#again = false;
          await this.#checkOnce();
        } while (this.#again && !this.#closed);
      } finally {
        this.#checking = null;
      }
    })();
    return this.#checking;
  }

  async #checkOnce(): Promise<void> {
    this.stats.checks++;
    const r = await this.#settledRead();
    if (r.kind === "unchanged") return;
    if (r.kind === "error") {
      this.#stamp = null;
      this.#racy = false;
      // The same error is news only once; a success in between makes it news again.
      if (this.#snap && !this.#snap.ok && this.#errorCode === r.code && this.#snap.error === r.message) return;
      this.stats.readErrors++;
      this.#errorCode = r.code;
      this.#aliases.clear();
      this.#publish({ ok: false, seq: this.#nextSeq(), lastMod: "", error: r.message });
      return;
    }
    this.stats.reads++;
    this.#stamp = r.stamp;
    this.#racy = r.racy;
    const raw = r.stamp.mtimeNs;
    const prev = this.#snap;
    if (prev?.ok && bytesEqual(prev.bytes, r.bytes)) {
      // Same bytes under a new stamp: remember the alias, send nothing.
      this.#aliases.add(raw.toString(16));
      if (!this.#tokens.has(raw)) this.#issue(raw, raw);
      return;
    }
    // A resume token must name one content, or a client holding it would skip
    // the other. Different content under an mtime that already named one (two
    // writes in one clock tick, an mtime set back) gets the next token after
    // the highest handed out for that mtime: X, Y, Z in one tick get T, T+1,
    // T+2. Comparing with the previous version only gave Z the token T again.
    const high = this.#tokens.get(raw);
    const token = high === undefined ? raw : high + 1n;
    this.#issue(raw, token);
    const lastMod = token.toString(16);
    this.#aliases.clear();
    this.#aliases.add(lastMod);
    this.#errorCode = "";
    this.#publish({
      ok: true,
      seq: this.#nextSeq(),
      lastMod,
      size: r.bytes.length,
      bytes: r.bytes,
      text: utf8OrNull(r.bytes),
    });
  }

  /**
   * A read that is not a writer's half-done work: a new version is read
   * again {@link SETTLE_MS} after the first read ended and taken when both agree.
   *
   * The wait is measured on our clock, not from the version's mtime: while a
   * file is truncated (O_TRUNC, ftruncate) Linux/ext4 sets the new size before
   * the new mtime, so a stat in between sees the emptied file under the
   * previous version's mtime, which can be any age. Trusting that age
   * published empty files mid-rewrite (the e2e torture test counted them).
   */
  async #settledRead(): Promise<ReadResult> {
    const { file, maxFileSize } = this.options;
    let r = await readIfChanged(file, this.#stamp, maxFileSize, this.#racy);
    // From the end of a read to the start of the next, so a state both reads saw stayed that long.
    let readDone = performance.now();
    let tries = 0;
    for (; tries < SETTLE_TRIES && r.kind === "content"; tries++) {
      // A racy re-check that found the bytes already published: nothing new to confirm.
      if (sameStamp(r.stamp, this.#stamp) && this.#snap?.ok && bytesEqual(this.#snap.bytes, r.bytes)) break;
      const wait = readDone + SETTLE_MS - performance.now();
      if (wait > 0) await new Promise((res) => setTimeout(res, Math.ceil(wait)));
      const again = await readIfChanged(file, r.stamp, maxFileSize, true);
      readDone = performance.now();
      if (again.kind === "content" && sameStamp(again.stamp, r.stamp) && bytesEqual(again.bytes, r.bytes)) {
        this.#unsettledSince = 0;
        return { ...again, racy: r.racy || again.racy };
      }
      r = again;
    }
    if (r.kind === "content" && tries === SETTLE_TRIES && this.#snap) {
      // The file changed between every pair of reads, so the newest read may
      // be a writer's half-done work (the torture test caught an emptied file
      // published this way). The writer's next event, or the next poll, checks
      // again; only a file that has kept changing for UNSETTLED_MAX_MS is shown
      // as read (racy, so it is read again next time).
      const now = Date.now();
      this.#unsettledSince ||= now;
      if (now - this.#unsettledSince < UNSETTLED_MAX_MS) return { kind: "unchanged" };
      r = { ...r, racy: true };
    }
    this.#unsettledSince = 0;
    return r;
  }

  /** Remembers the highest token handed out for an mtime (the newest {@link TOKENS_KEPT} mtimes). */
  #issue(raw: bigint, token: bigint): void {
    this.#tokens.delete(raw);
    this.#tokens.set(raw, token);
    if (this.#tokens.size > TOKENS_KEPT) this.#tokens.delete(this.#tokens.keys().next().value!);
  }

  #nextSeq(): number {
    return (this.#snap?.seq ?? 0) + 1;
  }

  #publish(snap: Snapshot): void {
    const first = this.#snap === null;
    this.#snap = snap;
    if (!first) this.stats.versions++;
    for (const l of this.#listeners) l(snap);
  }

  #start(): void {
    if (this.#closed) return;
    this.#timer = setInterval(() => void this.check(), this.options.poll);
    if (this.options.events) this.#startEvents();
    void this.check();
  }

  #startEvents(): void {
    const name = basename(this.options.file);
    try {
      // The parent directory, not the file: an editor's rename-save replaces the
      // inode, and a watch on the old inode would go quiet.
      const fsw = fsWatch(dirname(this.options.file), { persistent: false }, (_type, filename) => {
        // Deno's node:fs watch still delivers an event queued before close():
        // a stopped watcher must not arm the debounce timer, which would run a
        // check after the last subscriber left (tests/unit/watcher_leaks.test.ts).
        if (this.#fsw !== fsw) return;
        if (filename !== null && filename !== undefined && String(filename) !== name) return;
        clearTimeout(this.#debounce);
        this.#debounce = setTimeout(() => void this.check(), EVENT_DEBOUNCE_MS);
      });
      this.#fsw = fsw;
      this.#fsw.on("error", (e) => {
        this.options.onWarning?.(`file events stopped (${(e as Error).message}); polling every ${this.options.poll}ms`);
        this.#stopEvents();
      });
    } catch (e) {
      // ENOSPC (inotify limits), a missing directory, a filesystem without events:
      // polling carries on alone.
      this.options.onWarning?.(
        `file events unavailable (${
          describeError(e, dirname(this.options.file)).message
        }); polling every ${this.options.poll}ms`,
      );
      this.#fsw = undefined;
    }
  }

  #stopEvents(): void {
    clearTimeout(this.#debounce);
    this.#debounce = undefined;
    try {
      this.#fsw?.close();
    } catch { /* already closed */ }
    this.#fsw = undefined;
  }

  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#stopEvents();
  }
}
