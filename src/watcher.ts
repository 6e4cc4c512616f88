/**
 * One watcher per watched file: stable reads, change detection, appends,
 * subscribers.
 *
 * File events make changes fast; polling makes them certain. Every client of a
 * file shares one watcher, so the file is stat'ed once per poll period and read
 * once per change, however many viewers there are. A file that only grew is
 * read from where it was (an append); anything else is read again as a new
 * version after a settle wait.
 * @module
 */
import { watchName } from "./dir_events.ts";
import { realpath } from "node:fs/promises";
import { basename, dirname, sep } from "node:path";
import {
  APPEND_CHECK_BYTES,
  bytesEqual,
  ctimeGrainNs,
  describeError,
  type FileOps,
  type Held,
  heldStillHolds,
  isRacy,
  nodeFileOps,
  nowNs,
  readAppended,
  readIfChanged,
  type ReadResult,
  sameFile,
  sameStamp,
  type Stamp,
  statStamp,
  unchangedForNs,
} from "./read.ts";
import { Fnv64 } from "./fnv.ts";
import {
  contentHash,
  incompleteUtf8Tail,
  type Snapshot,
  TOKEN_TAIL_BYTES,
  tokenHash,
  Version,
  versionToken,
} from "./version.ts";

export { isRacy, readIfChanged, type ReadResult, sameStamp, type Stamp } from "./read.ts";
export { type Snapshot, utf8OrNull, Version } from "./version.ts";

/** File events come in bursts (truncate, write, close): wait this long for the burst to end. */
export const EVENT_DEBOUNCE_MS = 2;
/**
 * After an append was published, file events wait until this long after it
 * before the next check: a busy log (a line a millisecond) then goes out as
 * one append per this period, not one per line, while a quiet log's next
 * line still goes out at once. Must stay well under 100 ms (DESIGN §9's
 * "reaches viewers at least every 100 ms").
 */
export const APPEND_COALESCE_MS = 40;
/**
 * A new version may be a writer caught between truncate and write: it is read
 * again at least this long after it was first read (by our clock) and after
 * its ctime's tick (by the kernel's), and published only when the two reads
 * agree (see {@link FileWatcher}'s settled read).
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
/**
 * A file that was readable and is now missing or unreadable is looked at
 * again this long after, and the error is published only if it stays: a
 * rotation (rename, then create) or a delete + recreate passes through a
 * moment with no file, which viewers should not see as "file not found".
 */
export const ERROR_SETTLE_MS = 100;
/**
 * How many versions of the current lineage this process remembers the tokens
 * and hash states of: resuming from one of them costs a map look-up; from
 * any other version (one another process published) it costs hashing the
 * bytes from the nearest remembered one.
 */
export const RESUMABLE_KEPT = 4096;

/** Options of a {@link FileWatcher}. */
export interface WatcherOptions {
  file: string;
  /** Poll period, ms. */
  poll: number;
  maxFileSize: number;
  /** Also watch the parent directory for events. */
  events: boolean;
  /** Tail mode: keep and serve only the file's last this many bytes (0 = the whole file). */
  tail?: number;
  /** Told about event-watcher failures (the watcher falls back to polling). */
  onWarning?: (message: string) => void;
  /**
   * `--dir`'s real path: the file must resolve inside it. Checked whenever the
   * file's stamp changes, so a file swapped for a symlink to the outside
   * after it was listed is an error, not read.
   */
  root?: string;
  /** The file system calls reads go through (node:fs; tests play racing writers with their own). */
  fs?: FileOps;
}

/** How changes are being noticed right now. */
export type WatchMode = "events" | "polling" | "idle";

/**
 * The file's bytes the watcher keeps for the current lineage: the whole file,
 * or in tail mode its last part. Grows in place with spare room, so an append
 * costs a copy of the new bytes only; views handed out earlier stay valid
 * (new bytes go past their end, and trimming copies into a new buffer).
 */
class KeptBytes {
  #buf: Uint8Array;
  #len: number;
  constructor(bytes: Uint8Array, public base: number) {
    this.#buf = bytes;
    this.#len = bytes.length;
  }
  get end(): number {
    return this.base + this.#len;
  }
  view(): Uint8Array {
    return this.#buf.subarray(0, this.#len);
  }
  /** Adds bytes; with `keep` > 0, drops the front once more than twice `keep` is held. */
  append(chunk: Uint8Array, keep: number): void {
    const need = this.#len + chunk.length;
    if (keep > 0 && need > 2 * keep) {
      const next = new Uint8Array(2 * keep);
      const fromOld = Math.max(0, keep - chunk.length);
      next.set(this.#buf.subarray(this.#len - fromOld, this.#len), 0);
      next.set(chunk.subarray(Math.max(0, chunk.length - keep)), fromOld);
      this.base += need - (fromOld + Math.min(chunk.length, keep));
      this.#buf = next;
      this.#len = fromOld + Math.min(chunk.length, keep);
      return;
    }
    if (need > this.#buf.length) {
      const next = new Uint8Array(Math.max(need, 2 * this.#buf.length, 4096));
      next.set(this.#buf.subarray(0, this.#len));
      this.#buf = next;
    }
    this.#buf.set(chunk, this.#len);
    this.#len = need;
  }
}

/**
 * Where a client's content starts in tail mode: after the first newline of
 * the file's last `tail` bytes (so its first line is whole), or at the first
 * character boundary when that window has no newline. The whole file when it
 * is no larger than `tail`.
 */
export function windowStart(kept: Uint8Array, base: number, tail: number): number {
  const size = base + kept.length;
  const from = Math.max(base, size - tail);
  if (from === 0) return 0;
  const rel = from - base;
  const nl = kept.indexOf(0x0a, rel);
  if (nl !== -1 && nl + 1 < kept.length) return base + nl + 1;
  let i = rel;
  while (i < kept.length && i < rel + 3 && (kept[i]! & 0xc0) === 0x80) i++;
  return base + i;
}

/** Two reads saw one state: the whole stamp, where they start, and every byte. */
function agrees(
  a: Extract<ReadResult, { kind: "content" }>,
  b: Extract<ReadResult, { kind: "content" }>,
): boolean {
  return sameStamp(a.stamp, b.stamp) && a.start === b.start && bytesEqual(a.bytes, b.bytes);
}

/**
 * A read that began at `atNs` began late enough after the stamp's ctime
 * that the kernel would have moved the ctime for any change since
 * {@link SETTLE_MS} before it. Whole-second ctimes (Deno 2.9) would make that
 * a wait of over a second per version: for them our own clock's gap stands
 * alone (docs/detection.md).
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
  /** The file's stamp when last read (its size may be past the published size: bytes held back). */
  #stamp: Stamp | null = null;
  #racy = false;
  /** The current lineage's bytes (null after an error). */
  #kept: KeptBytes | null = null;
  /** The first bytes of the current lineage's file, for the append check. */
  #head = new Uint8Array(0);
  #lineage = 0;
  /** Tokens of the current lineage's versions → their sizes (resume, and `touch` aliases). */
  #resumable = new Map<string, number>();
  /** Whole mode: FNV-1a state over the current lineage's kept bytes (null in tail mode). */
  #fnv: Fnv64 | null = null;
  /** Whole mode: the hash state at each published version's size, ascending (see {@link RESUMABLE_KEPT}). */
  #marks: { size: number; state: Fnv64 }[] = [];
  /**
   * The last hash {@link sizeOf} computed for a token it did not know: a
   * resume asks twice, and a client that keeps retrying asks again; the
   * bytes before a size never change within a lineage.
   */
  #memo: { size: number; hash: string } | null = null;
  #errorCode = "";
  #listeners = new Set<(s: Snapshot) => void>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #debounce: ReturnType<typeof setTimeout> | undefined;
  /** Stops this watcher's file events; set while they run. */
  #fsw: (() => void) | undefined;
  #checking: Promise<void> | null = null;
  /** When the file was first found changing between every settle re-read (0: it has held still since). */
  #unsettledSince = 0;
  /** performance.now() of the last published append (for {@link APPEND_COALESCE_MS}). */
  #lastAppendAt = -Infinity;
  /** The current lineage has had appends. */
  #grew = false;
  #again = false;
  #closed = false;
  /** Counters for metrics. */
  readonly stats = { versions: 0, appends: 0, readErrors: 0, checks: 0, reads: 0 };

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

  get #tail(): number {
    return this.options.tail ?? 0;
  }

  get #fs(): FileOps {
    return this.options.fs ?? nodeFileOps;
  }

  /** True when a client that saw `lastMod` already has the current content. */
  isCurrent(lastMod: string | null): boolean {
    const snap = this.#snap;
    if (lastMod === null || !snap?.ok) return false;
    return this.sizeOf(lastMod) === snap.size;
  }

  /**
   * The size of the version `lastMod` names when it is in the current
   * lineage (a prefix of the current file), else undefined. A token this
   * process did not hand out (another worker or replica did) is checked by
   * its content hash: at `size` when given, else at the current size.
   */
  sizeOf(lastMod: string | null, size: number | null = null): number | undefined {
    if (lastMod === null) return undefined;
    const known = this.#resumable.get(lastMod);
    if (known !== undefined) return known;
    const snap = this.#snap;
    const hash = tokenHash(lastMod);
    if (!snap?.ok || hash === null) return undefined;
    const at = size ?? snap.size;
    if (at > snap.size) return undefined;
    if (this.#memo?.size !== at) {
      const h = this.#hashAt(at);
      if (h === null) return undefined;
      this.#memo = { size: at, hash: h };
    }
    return this.#memo.hash === hash ? at : undefined;
  }

  /**
   * The content hash of the current lineage's file at `size` bytes: FNV-1a
   * of its bytes (whole mode), or of its last {@link TOKEN_TAIL_BYTES} at
   * most (tail mode), with the size; null when those bytes are not held.
   */
  #hashAt(size: number): string | null {
    const kept = this.#kept;
    if (!kept || size > kept.end || size < kept.base) return null;
    const view = kept.view();
    if (this.#tail > 0) {
      const from = Math.max(0, size - Math.min(this.#tail, TOKEN_TAIL_BYTES));
      if (from < kept.base) return null;
      return contentHash(new Fnv64().update(view.subarray(from - kept.base, size - kept.base)), size);
    }
    if (size === kept.end && this.#fnv) return contentHash(this.#fnv, size);
    // The nearest remembered state at or before `size`, then the bytes after it.
    const marks = this.#marks;
    let lo = 0, hi = marks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (marks[mid]!.size <= size) lo = mid + 1;
      else hi = mid;
    }
    const mark = marks[lo - 1];
    const state = mark ? mark.state.clone() : new Fnv64();
    return contentHash(state.update(view.subarray(mark?.size ?? 0, size)), size);
  }

  /** The current snapshot; checks the file first when nobody keeps it fresh. */
  async current(): Promise<Snapshot> {
    if (this.#listeners.size === 0 || !this.#snap) await this.check();
    // A file rewritten during every read try has no snapshot yet: try a little longer.
    for (let i = 0; !this.#snap && i < 20; i++) {
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      await this.check();
    }
    return this.#snap ?? { ok: false, seq: 0, lastMod: "", error: "file is changing too fast to read" };
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
          try {
            await this.#checkOnce();
          } catch (e) {
            // Checks run from timers and events: a throw here would be an
            // unhandled rejection that ends the process. Report it; the next
            // check starts afresh.
            this.#warn("checking the file failed", e);
          }
        } while (this.#again && !this.#closed);
      } finally {
        this.#checking = null;
      }
    })();
    return this.#checking;
  }

  /** What is held of the current version, for the append check; null when nothing is. */
  #held(): Held | null {
    const snap = this.#snap;
    if (!snap?.ok || !this.#stamp || !this.#kept) return null;
    const kept = this.#kept.view();
    const before = kept.subarray(Math.max(0, kept.length - APPEND_CHECK_BYTES));
    return { stamp: this.#stamp, size: snap.size, before, head: this.#head };
  }

  async #checkOnce(settleErrors = true): Promise<void> {
    this.stats.checks++;
    const { file } = this.options;
    let st: Stamp;
    try {
      st = await statStamp(file, this.#fs);
    } catch (e) {
      await this.#failed(describeError(e, basename(file)), settleErrors);
      return;
    }
    if (!this.#racy && sameStamp(st, this.#stamp)) return;
    if (this.options.root !== undefined && !await this.#inside(this.options.root)) {
      await this.#failed({ code: "EOUTSIDE", message: `${basename(file)}: not in the watched directory` }, false);
      return;
    }
    const held = this.#held();
    if (held && await this.#grown(st, held)) return;
    const r = await this.#settledRead();
    if (r.kind === "unchanged" || r.kind === "unstable") {
      if (r.kind === "unstable") this.#racy = true;
      return;
    }
    if (r.kind === "error") {
      await this.#failed(r, settleErrors);
      return;
    }
    this.stats.reads++;
    this.#replaced(r);
  }

  /**
   * The cheap paths of a file that only grows; true when they settled the
   * check. Growth is read as an append. A file that has been growing and is
   * the size clients hold may be a racy version looked at again, or a write
   * whose mtime came before its size: the bytes an append is checked by are
   * read again (docs/detection.md, "Appends"), not the whole file with a settle
   * wait, which a log written every millisecond never passes.
   */
  async #grown(st: Stamp, held: Held): Promise<boolean> {
    const { file } = this.options;
    for (let look = 0; look < 3 && sameFile(st, held.stamp); look++) {
      if (st.size > held.size) {
        // Tail mode keeps twice the window: more new bytes than that start over.
        const limit = this.#tail > 0 ? 2 * this.#keep() : this.options.maxFileSize - held.size;
        const grown = await readAppended(file, held, limit, this.#fs);
        if (grown.kind !== "appended") return false;
        this.#unsettledSince = 0;
        this.#appended(grown.stamp, grown.bytes, grown.racy);
        return true;
      }
      if (st.size !== held.size || !this.#grew) return false;
      const same = await heldStillHolds(file, held, this.#fs);
      if (same === false) return false;
      if (same !== "moved") {
        if (same.mtimeNs !== held.stamp.mtimeNs) this.#alias(same.mtimeNs, held.size);
        this.#stamp = same;
        this.#racy = isRacy(same, nowNs());
        return true;
      }
      // It changed while we looked (a writer at work): look again.
      try {
        st = await statStamp(file, this.#fs);
      } catch {
        return false;
      }
    }
    return false;
  }

  /**
   * A read error: published once per distinct error; a success in between
   * makes it news again. When the file was readable until now, it is first
   * looked at again after {@link ERROR_SETTLE_MS} (a rotation in progress).
   */
  async #failed(r: { code: string; message: string }, settle: boolean): Promise<void> {
    if (settle && this.#snap?.ok && !this.#closed) {
      await new Promise((res) => setTimeout(res, ERROR_SETTLE_MS));
      return this.#checkOnce(false);
    }
    this.#stamp = null;
    this.#racy = false;
    if (this.#snap && !this.#snap.ok && this.#errorCode === r.code && this.#snap.error === r.message) return;
    this.stats.readErrors++;
    this.#errorCode = r.code;
    this.#kept = null;
    this.#fnv = null;
    this.#marks = [];
    this.#memo = null;
    this.#resumable.clear();
    this.#publish({ ok: false, seq: this.#nextSeq(), lastMod: "", error: r.message });
  }

  async #inside(root: string): Promise<boolean> {
    try {
      return (await realpath(this.options.file)).startsWith(root + sep);
    } catch {
      return false;
    }
  }

  /** Bytes at the end that start a character still being written are left for the next check. */
  #holdBack(bytes: Uint8Array, racy: boolean): number {
    return racy ? incompleteUtf8Tail(bytes) : 0;
  }

  /** The file grew by `bytes` from what clients hold. */
  #appended(stamp: Stamp, bytes: Uint8Array, racy: boolean): void {
    const held = this.#holdBack(bytes, racy);
    this.#stamp = stamp;
    this.#racy = racy || held > 0;
    if (held === bytes.length) return;
    this.#publishAppend(stamp, bytes.subarray(0, bytes.length - held));
  }

  #publishAppend(stamp: Stamp, bytes: Uint8Array): void {
    const prev = this.#snap as Version;
    const kept = this.#kept!;
    kept.append(bytes, this.#tail > 0 ? this.#keep() : 0);
    this.#fnv?.update(bytes);
    if (kept.base === 0 && this.#head.length < APPEND_CHECK_BYTES) {
      this.#head = kept.view().slice(0, APPEND_CHECK_BYTES);
    }
    this.stats.appends++;
    this.#grew = true;
    this.#lastAppendAt = performance.now();
    this.#schedule(APPEND_COALESCE_MS);
    this.#errorCode = "";
    this.#publishVersion(stamp.mtimeNs, { lastMod: prev.lastMod, size: prev.size });
  }

  /** A version read whole (or its tail window): an append if it extends what is held, else a new lineage. */
  #replaced(r: Extract<ReadResult, { kind: "content" }>): void {
    const prev = this.#snap;
    const before = this.#stamp;
    const hold = this.#holdBack(r.bytes, r.racy);
    const bytes = r.bytes.subarray(0, r.bytes.length - hold);
    const size = r.start + bytes.length;
    this.#stamp = r.stamp;
    this.#racy = r.racy || hold > 0;
    if (prev?.ok && this.#kept && size >= prev.size && r.start <= prev.size) {
      // Does this read start with what clients hold? In tail mode only the
      // part both hold can be compared.
      const from = Math.max(r.start, prev.base);
      const extends_ = from < prev.size
        ? bytesEqual(bytes.subarray(from - r.start, prev.size - r.start), prev.since(from)!)
        : prev.size === 0;
      if (extends_ && size === prev.size) {
        // Same bytes under a new stamp (a touch, or a copy put in place): nothing to send.
        this.#alias(r.stamp.mtimeNs, size);
        return;
      }
      if (extends_ && sameFile(r.stamp, before)) {
        // Read whole, but the file only grew (a check that saw the mtime of a
        // write before its size): an append, as readAppended would have found.
        this.#publishAppend(r.stamp, bytes.subarray(prev.size - r.start));
        return;
      }
    }
    this.#lineage++;
    this.#grew = false;
    this.#resumable.clear();
    this.#kept = new KeptBytes(bytes, r.start);
    this.#fnv = this.#tail > 0 ? null : new Fnv64().update(bytes);
    this.#marks = [];
    this.#memo = null;
    this.#head = r.start === 0 ? bytes.slice(0, APPEND_CHECK_BYTES) : new Uint8Array(0);
    this.#errorCode = "";
    this.#publishVersion(r.stamp.mtimeNs, null);
  }

  /**
   * Remembers the token of the current bytes under a new mtime (a touch), so
   * a client holding it (from a process that saw only the touched file) is
   * current. The published version keeps its token: clients hold it.
   */
  #alias(raw: bigint, size: number): void {
    const hash = this.#hashAt(size);
    if (hash !== null) this.#remember(versionToken(raw, hash), size);
  }

  #remember(token: string, size: number): void {
    this.#resumable.delete(token);
    this.#resumable.set(token, size);
    if (this.#resumable.size > RESUMABLE_KEPT) this.#resumable.delete(this.#resumable.keys().next().value!);
  }

  /** Publishes the kept bytes as the new version, its token made from mtime `raw` and the bytes. */
  #publishVersion(raw: bigint, appendOf: { lastMod: string; size: number } | null): void {
    // A resume token must name one content, or a client holding it would skip
    // the other, in this process and in every other one that watches the
    // file: so it is made from the file's state alone (mtime and a hash of
    // the bytes), never from what this process happened to see. Two writes
    // in one clock tick, or an mtime set back, differ in the hash.
    const kept = this.#kept!;
    const lastMod = versionToken(raw, this.#hashAt(kept.end)!);
    if (this.#fnv) {
      this.#marks.push({ size: kept.end, state: this.#fnv.clone() });
      if (this.#marks.length > RESUMABLE_KEPT) this.#marks.shift();
    }
    const view = kept.view();
    const tail = this.#tail;
    const version = new Version({
      seq: this.#nextSeq(),
      lastMod,
      kept: view,
      base: kept.base,
      offset: tail > 0 ? windowStart(view, kept.base, tail) : 0,
      lineage: this.#lineage,
      appendOf,
    });
    this.#remember(lastMod, version.size);
    this.#publish(version);
  }

  /** Bytes kept in tail mode after trimming: the window, and never less than the append check needs. */
  #keep(): number {
    return Math.max(this.#tail, APPEND_CHECK_BYTES);
  }

  /**
   * A read that is not a writer's half-done work: a new version is read
   * again and taken when both reads agree on the whole stamp (ctime
   * included) and the bytes, with the second read starting at least
   * {@link SETTLE_MS} after
   *
   * - the end of the first, by our clock: while a file is truncated (O_TRUNC,
   *   ftruncate) Linux/ext4 sets the new size before the new times, so a stat
   *   in between sees the emptied file under the previous change's mtime and
   *   ctime, which can be any age. No timestamp tells that state apart, so
   *   the file's age alone never confirms a read (trusting the mtime's age
   *   published empty files mid-rewrite: the e2e torture test counted them);
   *   only a second look after the writer's call had time to finish does;
   * - the end of the ctime's clock tick, by the kernel's clock (when ctimes
   *   are finer than a second): every change after that moves the ctime,
   *   which no program can set back, so two agreeing reads then prove the
   *   file held that state the whole time between them, whenever our process
   *   got to run. Without it, a writer that rewrote the file and put its
   *   mtime and size back (same-tick rewrites) could show the same half-done
   *   state to both reads ("twins").
   *
   * A read whose before/after stats disagree is never taken (readIfChanged
   * retries it, and gives up with "unstable").
   */
  async #settledRead(): Promise<ReadResult> {
    const { file, maxFileSize } = this.options;
    const tail = this.#tail;
    const fs = this.#fs;
    let r = await readIfChanged(file, this.#stamp, maxFileSize, this.#racy, tail, fs);
    // From the end of a read to the start of the next, so a state both reads saw stayed that long.
    let readDone = performance.now();
    let tries = 0;
    for (; tries < SETTLE_TRIES && r.kind === "content"; tries++) {
      // A racy re-check that found the bytes already published: nothing new to confirm.
      if (sameStamp(r.stamp, this.#stamp) && this.#snap?.ok && r.start === this.#snap.offset) {
        if (bytesEqual(this.#snap.bytes, r.bytes)) break;
      }
      const wait = Math.max(readDone + SETTLE_MS, ctimeSettledAt(r.stamp)) - performance.now();
      if (wait > 0) await new Promise((res) => setTimeout(res, Math.ceil(wait)));
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
    if (r.kind === "content" && tries === SETTLE_TRIES && this.#snap) {
      // The file changed between every pair of reads, so the newest read may
      // be a writer's half-done work (the torture test caught an emptied file
      // published this way). The writer's next event, or the next poll, checks
      // again; only a file that has kept changing for UNSETTLED_MAX_MS is shown
      // as read (racy, so it is read again next time), and only when a read
      // right after agrees with it: a state the file held across two whole
      // reads, not a moment one read happened to catch.
      const now = Date.now();
      this.#unsettledSince ||= now;
      if (now - this.#unsettledSince < Math.min(UNSETTLED_MAX_MS, this.options.poll)) return { kind: "unchanged" };
      // Fine ctimes: the re-read also keeps our clock's gap, since a truncate
      // caught between size and times shows an old ctime the kernel seems to
      // vouch for (the torture test under the hog caught one that way).
      const fine = ctimeGrainNs(r.stamp) < 1_000_000_000n;
      const gap = fine ? readDone + SETTLE_MS - performance.now() : 0;
      if (gap > 0) await new Promise((res) => setTimeout(res, Math.ceil(gap)));
      const again = await readIfChanged(file, r.stamp, maxFileSize, true, tail, fs);
      if (again.kind !== "content" || !agrees(again, r)) return { kind: "unchanged" };
      // Where ctimes are fine-grained (Bun), the kernel must also vouch that
      // the state had held SETTLE_MS: two reads in a row can both land on a
      // writer's half-done state when the writer is descheduled (the torture
      // test under a CPU hog published emptied files that way). With
      // whole-second ctimes (Deno 2.9) nothing shorter than a second can be
      // vouched for, and the two reads stand alone.
      if (!ctimeSettled(again.stamp, again.readAtNs)) return { kind: "unchanged" };
      r = { ...again, racy: true };
    }
    this.#unsettledSince = 0;
    return r;
  }

  #nextSeq(): number {
    return (this.#snap?.seq ?? 0) + 1;
  }

  #publish(snap: Snapshot): void {
    const first = this.#snap === null;
    this.#snap = snap;
    if (!first) this.stats.versions++;
    for (const l of this.#listeners) {
      try {
        l(snap);
      } catch (e) {
        // One subscriber's failure must not keep the version from the others.
        this.#warn("a subscriber failed", e);
      }
    }
  }

  #warn(what: string, e: unknown): void {
    try {
      this.options.onWarning?.(`${what}: ${(e as Error)?.stack ?? e}`);
    } catch { /* nowhere left to report it */ }
  }

  #start(): void {
    if (this.#closed) return;
    this.#timer = setInterval(() => void this.check(), this.options.poll);
    if (this.options.events) this.#startEvents();
    void this.check();
  }

  /**
   * A file event: check soon. A check already scheduled takes every event
   * that comes before it (a log written every millisecond would otherwise
   * push a debounce back forever); right after an append the check waits
   * for {@link APPEND_COALESCE_MS}.
   */
  #onEvent(): void {
    this.#schedule(Math.max(EVENT_DEBOUNCE_MS, this.#lastAppendAt + APPEND_COALESCE_MS - performance.now()));
  }

  /**
   * Runs a check in `ms` unless one is already scheduled. Besides events,
   * every append schedules one: a file that is growing is looked at again
   * {@link APPEND_COALESCE_MS} later whether or not an event comes (under
   * load, Deno was seen delivering no file events for up to a second while a
   * log grew every millisecond), and the first check that finds nothing new
   * schedules no more.
   */
  #schedule(ms: number): void {
    // Only while watching: a check for a page view with nobody subscribed arms nothing.
    if (this.#debounce !== undefined || this.#timer === undefined) return;
    this.#debounce = setTimeout(() => {
      this.#debounce = undefined;
      void this.check();
    }, Math.ceil(ms));
  }

  #startEvents(): void {
    const name = basename(this.options.file);
    try {
      // The parent directory, not the file: an editor's rename-save replaces the
      // inode, and a watch on the old inode would go quiet. One watch per
      // directory serves every file in it (src/dir_events.ts).
      let active = true;
      const stop = watchName(dirname(this.options.file), name, {
        onEvent: () => {
          // A stopped watcher must not arm the debounce timer, which would run a
          // check after the last subscriber left (tests/unit/watcher_leaks.test.ts).
          if (active) this.#onEvent();
        },
        onError: (e) => {
          this.options.onWarning?.(`file events stopped (${e.message}); polling every ${this.options.poll}ms`);
          this.#stopEvents();
        },
      });
      this.#fsw = () => {
        active = false;
        stop();
      };
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
    try {
      this.#fsw?.();
    } catch { /* already closed */ }
    this.#fsw = undefined;
  }

  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    clearTimeout(this.#debounce);
    this.#debounce = undefined;
    this.#stopEvents();
  }
}
