/**
 * One watcher per watched file: it looks at the file when its schedule says
 * (src/schedule.ts), reads what changed (an append, or a whole new version
 * through the settled read of src/settle.ts), tells the file's lineage
 * (src/lineage.ts) and hands each new snapshot to its subscribers.
 *
 * Every client of a file shares one watcher, so the file is stat'ed once per
 * poll period and read once per change, however many viewers there are
 * (docs/detection.md).
 * @module
 */
import { realpath } from "node:fs/promises";
import { basename, sep } from "node:path";
import { Lineage } from "./lineage.ts";
import {
  APPEND_CHECK_BYTES,
  type AppendBase,
  describeError,
  type FileOps,
  heldStillHolds,
  isRacy,
  nodeFileOps,
  nowNs,
  readAppended,
  sameFile,
  sameStamp,
  type Stamp,
  statStamp,
} from "./read.ts";
import { Schedule } from "./schedule.ts";
import { SETTLE_MS, SettledReader } from "./settle.ts";
import { incompleteUtf8Tail, MAX_HELD_BYTES, type Snapshot, type Version } from "./version.ts";

/**
 * A file that was readable and is now missing or unreadable is looked at
 * again this long after, and the error is published only if it stays: a
 * rotation (rename, then create) or a delete + recreate passes through a
 * moment with no file, which viewers should not see as "file not found".
 */
export const ERROR_SETTLE_MS = 100;

/**
 * The window of a file followed in tail mode because it is larger than
 * `--max-file-size` (without `--tail`): 1 MiB, or the limit when that is
 * lower (docs/detection.md#tail-mode). The window goes out as one message,
 * and the limit is what one message may carry. 1 MiB because nothing is
 * lost by a small window and more costs every viewer: the large-file view
 * shows its last screen and reads the rest of the file through `/lines`, a
 * page that held the file whole shows the window at once (the page draws
 * 1 MiB in well under the 16 MiB it was made for), a plain client gets what
 * `tail -c 1M` gives, and the server keeps at most twice it of the file.
 */
export const AUTO_TAIL_BYTES = 1024 * 1024;

/**
 * The tail window a lineage of the file that starts at `size` bytes is
 * served with (0: the whole file): `--tail` for every file, else
 * {@link AUTO_TAIL_BYTES} (at most `--max-file-size`) for a file larger than
 * `--max-file-size`. A function of the file's size alone, so every process
 * that reads the file in one state serves it alike and publishes the same
 * token.
 * @example
 * ```ts
 * windowFor(3 << 20, { maxFileSize: 1 << 20 }); // 1048576: followed in tail mode
 * windowFor(1 << 20, { maxFileSize: 1 << 20 }); // 0: the whole file
 * windowFor(10, { maxFileSize: 1 << 20, tail: 4096 }); // 4096: --tail
 * ```
 */
export function windowFor(size: number, options: { maxFileSize: number; tail?: number }): number {
  const tail = options.tail ?? 0;
  if (tail > 0) return tail;
  return size > options.maxFileSize ? Math.min(options.maxFileSize, AUTO_TAIL_BYTES) : 0;
}

/** Options of a {@link FileWatcher}. */
export interface WatcherOptions {
  file: string;
  /** Poll period, ms. */
  poll: number;
  /**
   * The most the watcher holds whole: a larger file is followed in tail mode
   * ({@link windowFor}), decided when a lineage starts.
   */
  maxFileSize: number;
  /** Also watch the parent directory for events. */
  events: boolean;
  /** Tail mode for every file: keep and serve only its last this many bytes (0 = only for files over `maxFileSize`). */
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

/**
 * How many bytes a read of a file of `size` bytes takes from its end (0: the
 * whole file): the window, and room for a character held back at its end
 * (src/version.ts), so the window before it is whole (the token hashes the
 * window's bytes: src/lineage.ts).
 */
function readWindow(size: number, options: { maxFileSize: number; tail?: number }): number {
  const window = windowFor(size, options);
  return window > 0 ? window + MAX_HELD_BYTES : 0;
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
  /** The file's versions: what clients are sent, and where a resuming client stands. */
  readonly lineage: Lineage;
  /**
   * The file's stamp when last read. Its size may be past the published
   * version's: the bytes of a character not yet complete are held back.
   */
  #stamp: Stamp | null = null;
  #racy = false;
  #listeners = new Set<(s: Snapshot) => void>();
  #schedule: Schedule;
  #reader: SettledReader;
  #checking: Promise<void> | null = null;
  #again = false;
  #closed = false;
  /** Counters for metrics. */
  readonly stats = { versions: 0, appends: 0, readErrors: 0, checks: 0, reads: 0 };

  constructor(options: WatcherOptions) {
    this.options = options;
    this.lineage = new Lineage();
    this.#schedule = new Schedule(options, () => void this.check());
    const { file, maxFileSize, poll } = options;
    this.#reader = new SettledReader({
      file,
      maxFileSize,
      tail: (size) => readWindow(size, options),
      poll,
      fs: this.#fs,
    });
  }

  /** The newest snapshot, if any check has completed. */
  get snapshot(): Snapshot | null {
    return this.lineage.snapshot;
  }

  get mode(): WatchMode {
    if (this.#listeners.size === 0) return "idle";
    return this.#schedule.hasEvents ? "events" : "polling";
  }

  get subscribers(): number {
    return this.#listeners.size;
  }

  get #fs(): FileOps {
    return this.options.fs ?? nodeFileOps;
  }

  /** The current snapshot; checks the file first when nobody keeps it fresh. */
  async current(): Promise<Snapshot> {
    if (this.#listeners.size === 0 || !this.snapshot) await this.check();
    // A file rewritten during every read try has no snapshot yet: try a little longer.
    for (let i = 0; !this.snapshot && i < 20; i++) {
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      await this.check();
    }
    return this.snapshot ?? { ok: false, seq: 0, lastMod: "", error: "file is changing too fast to read" };
  }

  /** Calls `listener` with every new snapshot until the returned function is called. */
  subscribe(listener: (s: Snapshot) => void): () => void {
    this.#listeners.add(listener);
    if (this.#listeners.size === 1 && !this.#closed) {
      this.#schedule.start();
      void this.check();
    }
    return () => {
      if (this.#listeners.delete(listener) && this.#listeners.size === 0) this.#schedule.stop();
    };
  }

  /** Stops polling and events for good. */
  close(): void {
    this.#closed = true;
    this.#listeners.clear();
    this.#schedule.stop();
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
    const base = this.lineage.appendBase(this.#stamp);
    if (base && await this.#grown(st, base)) return;
    const r = await this.#reader.read(this.#stamp, this.#racy, this.snapshot);
    if (r.kind === "unchanged" || r.kind === "unstable") {
      if (r.kind === "unstable") this.#racy = true;
      return;
    }
    if (r.kind === "error") {
      await this.#failed(r, settleErrors);
      return;
    }
    this.stats.reads++;
    // The read's window was decided by the size it read at, which is its stamp's.
    this.#replaced(r.stamp, r.bytes, r.start, r.racy, windowFor(r.stamp.size, this.options));
  }

  /**
   * The cheap paths of a file that only grows; true when they settled the
   * check. Growth is read as an append. A file that has been growing and is
   * the size clients hold may be a racy version looked at again, or a write
   * whose mtime came before its size: the bytes an append is checked by are
   * read again (docs/detection.md#appends), not the whole file with a settle
   * wait, which a log written every millisecond never passes.
   */
  async #grown(st: Stamp, base: AppendBase): Promise<boolean> {
    const { file } = this.options;
    for (let look = 0; look < 3 && sameFile(st, base.stamp); look++) {
      if (st.size > base.size) {
        // Tail mode keeps twice the window: more new bytes than that start
        // over. A file held whole that grows past --max-file-size goes on in
        // tail mode, read so too.
        const tail = this.lineage.tail || windowFor(st.size, this.options);
        const limit = tail > 0 ? 2 * Math.max(tail, APPEND_CHECK_BYTES) : this.options.maxFileSize - base.size;
        const grown = await readAppended(file, base, limit, this.#fs);
        if (grown.kind !== "appended") return false;
        this.#reader.heldStill();
        const window = windowFor(grown.stamp.size, this.options);
        if (window === this.lineage.tail) this.#appended(grown.stamp, grown.bytes, grown.racy);
        else if (!this.#rewindowed(grown.stamp, grown.bytes, grown.racy, window)) return false;
        return true;
      }
      if (st.size !== base.size || !this.lineage.grew) return false;
      const same = await heldStillHolds(file, base, this.#fs);
      if (same === false) return false;
      if (same !== "moved") {
        if (same.mtimeNs !== base.stamp.mtimeNs) this.lineage.alias(same.mtimeNs, base.size);
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
    if (settle && this.snapshot?.ok && !this.#closed) {
      await new Promise((res) => setTimeout(res, ERROR_SETTLE_MS));
      return this.#checkOnce(false);
    }
    this.#stamp = null;
    this.#racy = false;
    const failure = this.lineage.fail(r.code, r.message);
    if (!failure) return;
    this.stats.readErrors++;
    this.#publish(failure);
  }

  async #inside(root: string): Promise<boolean> {
    try {
      return (await realpath(this.options.file)).startsWith(root + sep);
    } catch {
      return false;
    }
  }

  /**
   * The file grew by `bytes` from what clients hold. A character whose last
   * bytes have not been written yet stays out of the version, however long
   * they take (docs/detection.md#appends): clients get it whole with them.
   */
  #appended(stamp: Stamp, bytes: Uint8Array, racy: boolean): void {
    const held = incompleteUtf8Tail(bytes);
    this.#stamp = stamp;
    this.#racy = racy;
    if (held === bytes.length) {
      // Only the start of a character: the version clients hold, under the file's new mtime.
      this.lineage.alias(stamp.mtimeNs, (this.snapshot as Version).size);
      return;
    }
    this.#published(this.lineage.extend(bytes.subarray(0, bytes.length - held), stamp.mtimeNs));
  }

  /**
   * The file held whole grew past --max-file-size (by `bytes`, from the
   * version clients hold): it goes on in tail mode, as a new lineage
   * (clients get `content` of the window, never an append across the
   * switch). The window is cut from the bytes held and the bytes appended,
   * the very bytes a read of the window would give, so the version and its
   * token are those of every process that reads the file in this state. False
   * when the bytes it needs are not held (the caller reads the file).
   */
  #rewindowed(stamp: Stamp, bytes: Uint8Array, racy: boolean, window: number): boolean {
    const held = this.snapshot as Version;
    const start = Math.max(0, stamp.size - readWindow(stamp.size, this.options));
    let read = bytes.subarray(Math.max(0, start - held.size));
    if (start < held.size) {
      const before = held.since(start);
      if (!before) return false;
      const joined = new Uint8Array(before.length + bytes.length);
      joined.set(before);
      joined.set(bytes, before.length);
      read = joined;
    }
    this.#replaced(stamp, read, start, racy, window);
    return true;
  }

  /**
   * A version read whole (or its tail window), from file offset `start`,
   * served with tail window `tail` (0: whole): the lineage tells an append,
   * a touch and a new lineage apart. A character not yet complete at its end
   * is held back, as for an append.
   */
  #replaced(stamp: Stamp, read: Uint8Array, start: number, racy: boolean, tail: number): void {
    const held = incompleteUtf8Tail(read);
    const bytes = read.subarray(0, read.length - held);
    const sameInode = sameFile(stamp, this.#stamp);
    this.#stamp = stamp;
    this.#racy = racy;
    const version = this.lineage.replace(bytes, start, stamp.mtimeNs, sameInode, tail);
    if (version) this.#published(version);
  }

  /** A new version: an append is counted and brings the next look forward. */
  #published(version: Version): void {
    if (version.appendOf) {
      this.stats.appends++;
      this.#schedule.appended();
    }
    this.#publish(version);
  }

  #publish(snap: Snapshot): void {
    // seq 1 is the first read: not a change.
    if (snap.seq > 1) this.stats.versions++;
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
}
