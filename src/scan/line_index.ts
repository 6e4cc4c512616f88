/**
 * A sparse line index of one file: where some lines start and their numbers,
 * so any line's byte offset (and any offset's line number) is one short read
 * away, in a file of any size, without holding the file or a table of all
 * its lines.
 *
 * **Entries.** Line 1 at byte 0, then the first line start at or after every
 * {@link INDEX_STRIDE} bytes past the previous entry: about 2,600 lines of a
 * 100-byte-a-line log apart, and never more than `size / INDEX_STRIDE + 1`
 * entries whatever the lines are like (16 bytes each: 64 KiB per GiB of file;
 * a file of empty lines costs no more). A line longer than the stride always
 * has the next line's start as an entry, so its end is known without reading
 * it.
 *
 * **Building.** On first need ({@link LineIndex.start}), in the background,
 * never on the event loop for long: 1 MiB positioned reads, each counted
 * with WebAssembly SIMD (src/scan/newlines.ts). A span of
 * {@link WORKER_MIN_BYTES} or more is counted in the process's index worker
 * (src/scan/_index_worker.ts, one for all files, ended when idle) with
 * synchronous reads, as `wc -l` reads: the main thread only takes its
 * progress reports. A shorter span (an append)
 * is read on the main thread with asynchronous reads, each turn well under a
 * millisecond of the event loop (the count of 1 MiB takes ~30 µs), which
 * saves the worker's start. Why a worker: each asynchronous read is a round
 * trip through the runtime's thread pool, which on this busy 2-core machine
 * cost about as much as the copy; in three runs of bench/scan.ts here the
 * main thread alone indexed at 0.31–0.68× `wc -l`'s speed (the budget is
 * 0.5×), the worker at 0.61–0.78×. Synchronous reads in time slices on the main thread would
 * hold the event loop for a slice at a time; the worker holds it only while
 * it starts (on Deno, the longer event-loop gap bench/scan.ts reports; once
 * until it has been idle for 30 s). Where no worker can start, the main
 * thread does it all.
 *
 * **Keeping it true.** The owner (the watcher, or each request) tells the
 * index the file's state with {@link LineIndex.sync}: a larger size extends
 * it (appends), a smaller one or another device/inode drops it (truncation,
 * rotation). Before it extends, the build checks that the last 64 bytes it
 * counted are still there, so a file truncated and written past its old size
 * between two syncs (`copytruncate` and a busy writer) is indexed again from
 * the start; the owner can also call {@link LineIndex.reset} itself.
 *
 * **Waiting.** A question past the indexed part waits for the build
 * ({@link LineIndex.waitFor}, at most {@link INDEX_WAIT_MS}), then fails with
 * {@link IndexPendingError}, which a route answers 503 with `Retry-After`.
 * @module
 */
import type { FileState, IndexHandle } from "./_file.ts";
import { emptyState, scanChunk, type ScanState, tailMatches } from "./_index_scan.ts";
import { submit } from "./_index_pool.ts";
import { NewlineScanner, SCAN_BUFFER } from "./newlines.ts";

/** Bytes between entries (at least): memory is 16 bytes per stride, 64 KiB per GiB. */
export const INDEX_STRIDE = 256 * 1024;
/** How long a question waits for the index to reach it before {@link IndexPendingError}. */
export const INDEX_WAIT_MS = 10_000;
/** A span at least this long is counted in a worker thread (shorter: on the main thread, saving the start-up). */
export const WORKER_MIN_BYTES = 64 * 1024 * 1024;

/**
 * The index has not reached what was asked within the wait; ask again after
 * `retryAfterS` seconds (an estimate from the build's speed so far). A route
 * answers 503 with `Retry-After`.
 */
export class IndexPendingError extends Error {
  override name = "IndexPendingError";
  constructor(message: string, readonly retryAfterS: number) {
    super(message);
  }
}

/** One entry: line `line` (1-based) starts at byte `offset`. */
export interface IndexEntry {
  offset: number;
  line: number;
}

interface Waiter {
  ready: () => boolean;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** Options of a {@link LineIndex}; the defaults are the production values (tests make them small). */
export interface LineIndexOptions {
  /**
   * The file's path, for a build in a worker thread (which opens it itself
   * and checks it is the device and inode of {@link LineIndex.sync}).
   * Without it every build is on the main thread.
   */
  path?: string;
  stride?: number;
  /** Bytes per read while building. */
  chunk?: number;
  waitMs?: number;
  /** See {@link WORKER_MIN_BYTES}. */
  workerMinBytes?: number;
}

/**
 * The line index of one file (see the module comment).
 * @example
 * ```ts
 * const index = new LineIndex(() => open(path, "r"), { path });
 * index.sync({ dev, ino, size }); // whenever the file may have changed
 * index.start();                  // first need: build in the background
 * await index.waitFor(() => index.newlines >= 1_000_000); // or IndexPendingError
 * const { offset, line } = index.entryForLine(1_000_001); // read forward from there
 * ```
 */
export class LineIndex {
  readonly #open: () => Promise<IndexHandle>;
  readonly #path: string | undefined;
  readonly #stride: number;
  readonly #chunk: number;
  readonly #waitMs: number;
  readonly #workerMin: number;

  #dev = -1;
  #ino = -1;
  /** Bytes the file has, as last told by {@link sync}. */
  #size = 0;
  #known = false;
  #state: ScanState = emptyState();
  #offsets = new Float64Array(64);
  #lines = new Float64Array(64);
  #entries = 0;
  #started = false;
  #building = false;
  /** Bumped by {@link reset}: a build of an older generation stops at its next turn. */
  #generation = 0;
  #waiters = new Set<Waiter>();
  #failure: string | null = null;
  /** Bytes per ms of the current build, for Retry-After. */
  #rate = 0;
  /** Stops the build running in the worker, if one is. */
  #cancel: (() => void) | null = null;
  #builtIn: "worker" | "main" | null = null;

  /**
   * @param open opens the file for a build on the main thread (the index
   * closes it); called again after a reset or when appends come.
   */
  constructor(open: () => Promise<IndexHandle>, options: LineIndexOptions = {}) {
    this.#open = open;
    this.#path = options.path;
    this.#stride = options.stride ?? INDEX_STRIDE;
    this.#chunk = options.chunk ?? SCAN_BUFFER;
    this.#waitMs = options.waitMs ?? INDEX_WAIT_MS;
    this.#workerMin = options.workerMinBytes ?? WORKER_MIN_BYTES;
    this.#clear();
  }

  /** Bytes indexed from the start of the file. */
  get indexed(): number {
    return this.#state.indexed;
  }
  /** Newlines counted in the indexed bytes: lines 1 to `newlines + 1` have known starts. */
  get newlines(): number {
    return this.#state.newlines;
  }
  /** The device of the file indexed (-1 before the first {@link sync}). */
  get dev(): number {
    return this.#dev;
  }
  /** The inode of the file indexed (-1 before the first {@link sync}). */
  get ino(): number {
    return this.#ino;
  }
  /** Moves on at every {@link reset}: numbers read from the index before and after one are not comparable. */
  get generation(): number {
    return this.#generation;
  }
  /** The file's size as last told by {@link sync}. */
  get size(): number {
    return this.#size;
  }
  /** True once every byte of the file (as last told) is indexed. */
  get complete(): boolean {
    return this.#known && this.#started && this.#state.indexed === this.#size;
  }
  /**
   * The file's line count once {@link complete}, else null: the newlines,
   * plus a last line without one (a line being written still counts).
   */
  get total(): number | null {
    if (!this.complete) return null;
    const s = this.#state;
    return s.newlines + (s.indexed > 0 && !s.lastIsNewline ? 1 : 0);
  }
  /** Why the last build stopped short (a read error, the file replaced), or null. */
  get failure(): string | null {
    return this.#failure;
  }
  /** Where the last build ran: "worker", "main" (an append, no path, or no worker could start), or null before one. */
  get builtIn(): "worker" | "main" | null {
    return this.#builtIn;
  }
  /** Entries held. */
  get entries(): number {
    return this.#entries;
  }
  /** Bytes the entries take (their arrays' capacity), not counting the 1 MiB read buffer held while building. */
  get memoryBytes(): number {
    return this.#offsets.byteLength + this.#lines.byteLength;
  }

  /**
   * The file's state now: the same file grown extends the index (if it was
   * started), a smaller size or another device/inode drops it first.
   */
  sync(state: FileState): void {
    if (this.#known && (state.dev !== this.#dev || state.ino !== this.#ino || state.size < this.#state.indexed)) {
      this.reset();
    }
    this.#known = true;
    this.#dev = state.dev;
    this.#ino = state.ino;
    this.#size = state.size;
    this.#wake();
    if (this.#started) this.#run();
  }

  /** First need: build in the background (no-op once started). The file's state must have been given to {@link sync}. */
  start(): void {
    this.#started = true;
    this.#run();
  }

  /** Drops everything indexed (a rotation or a rewrite); the next {@link sync} says what the file is now. */
  reset(): void {
    this.#generation++;
    this.#cancel?.();
    this.#cancel = null;
    this.#clear();
    this.#known = false;
    this.#failure = null;
    this.#building = false;
    this.#wake();
  }

  /** Stops building and fails the waiting questions; safe to call twice. */
  dispose(): void {
    this.reset();
    this.#started = false;
    for (const w of this.#waiters) w.reject(new IndexPendingError("The line index was closed", 1));
    this.#waiters.clear();
  }

  /**
   * Resolves when `ready()` holds (checked now, after each step of the
   * build, and on every sync), or rejects with {@link IndexPendingError}
   * after `ms`, or at once when the build has failed; with `signal`'s reason
   * when it aborts.
   */
  waitFor(ready: () => boolean, ms = this.#waitMs, signal?: AbortSignal): Promise<void> {
    if (ready()) return Promise.resolve();
    if (this.#failure && !this.#building) return Promise.reject(this.#pending());
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", abort);
        this.#waiters.delete(w);
      };
      const w: Waiter = {
        ready,
        resolve: () => (done(), resolve()),
        reject: (e) => (done(), reject(e)),
      };
      const abort = () => w.reject(signal?.reason ?? new Error("aborted"));
      const timer = setTimeout(() => w.reject(this.#pending()), ms);
      signal?.addEventListener("abort", abort, { once: true });
      this.#waiters.add(w);
    });
  }

  /** The last entry at or before line `n` (line 1 at byte 0 when nothing else is). */
  entryForLine(n: number): IndexEntry {
    let lo = 0, hi = this.#entries - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.#lines[mid]! <= n) lo = mid;
      else hi = mid - 1;
    }
    return { offset: this.#offsets[lo]!, line: this.#lines[lo]! };
  }

  /** The last entry at or before byte `offset`. */
  entryForOffset(offset: number): IndexEntry {
    let lo = 0, hi = this.#entries - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.#offsets[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { offset: this.#offsets[lo]!, line: this.#lines[lo]! };
  }

  /** Entry `i` (0 to `entries - 1`), in file order. */
  entryAt(i: number): IndexEntry {
    if (!(i >= 0 && i < this.#entries)) throw new RangeError(`Cannot read entry ${i}: there are ${this.#entries}`);
    return { offset: this.#offsets[i]!, line: this.#lines[i]! };
  }

  /** The entry for exactly line `n`, if there is one (a line longer than the stride has its successor as one). */
  entryAtLine(n: number): IndexEntry | null {
    const e = this.entryForLine(n);
    return e.line === n ? e : null;
  }

  #clear(): void {
    this.#state = emptyState();
    this.#offsets = new Float64Array(64);
    this.#lines = new Float64Array(64);
    this.#offsets[0] = 0;
    this.#lines[0] = 1;
    this.#entries = 1;
    this.#rate = 0;
  }

  #pending(): IndexPendingError {
    const left = Math.max(0, this.#size - this.#state.indexed);
    const s = this.#rate > 0 ? Math.ceil(left / this.#rate / 1000) : 5;
    const why = this.#failure ? `: ${this.#failure}` : ` (${this.#state.indexed} of ${this.#size} bytes indexed)`;
    return new IndexPendingError(`The line index is not there yet${why}`, Math.min(60, Math.max(1, s)));
  }

  #wake(): void {
    for (const w of this.#waiters) {
      try {
        if (w.ready()) w.resolve();
      } catch (e) {
        w.reject(e);
      }
    }
  }

  #push(offset: number, line: number): void {
    if (this.#entries === this.#offsets.length) {
      const grow = (a: Float64Array) => {
        const b = new Float64Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.#offsets = grow(this.#offsets);
      this.#lines = grow(this.#lines);
    }
    this.#offsets[this.#entries] = offset;
    this.#lines[this.#entries] = line;
    this.#entries++;
  }

  #run(): void {
    if (this.#building || !this.#known || this.#state.indexed >= this.#size) return;
    this.#building = true;
    this.#failure = null;
    const gen = this.#generation;
    const inWorker = this.#path !== undefined && this.#size - this.#state.indexed >= this.#workerMin;
    (inWorker ? this.#buildInWorker(gen) : this.#build(gen)).catch((e) => {
      if (gen === this.#generation) this.#failure = e instanceof Error ? e.message : String(e);
    }).finally(() => {
      if (gen !== this.#generation) return;
      this.#building = false;
      this.#cancel = null;
      this.#wake();
      if (this.#failure) {
        for (const w of this.#waiters) w.reject(this.#pending());
      } else if (this.#state.indexed < this.#size) {
        this.#run(); // appends that came meanwhile
      }
    });
  }

  /** Builds up to the size known now on the main thread, with asynchronous reads. */
  async #build(gen: number): Promise<void> {
    this.#builtIn = "main";
    const fh = await this.#open();
    try {
      const st = await fh.stat();
      if (gen !== this.#generation) return;
      if (Number(st.dev) !== this.#dev || Number(st.ino) !== this.#ino) {
        throw new Error("the file was replaced while it was indexed");
      }
      const scanner = new NewlineScanner(this.#chunk);
      const state = this.#state;
      if (state.tail.length > 0) {
        const { bytesRead } = await fh.read(scanner.buffer, 0, state.tail.length, state.indexed - state.tail.length);
        if (gen !== this.#generation) return;
        // Rewritten under the same inode, not appended to: count again from the start.
        if (!tailMatches(state, scanner.buffer.slice(0, bytesRead))) this.#clear();
      }
      const t0 = performance.now();
      const from = this.#state.indexed;
      while (gen === this.#generation && this.#state.indexed < this.#size) {
        const s = this.#state;
        const want = Math.min(this.#chunk, this.#size - s.indexed);
        const { bytesRead } = await fh.read(scanner.buffer, 0, want, s.indexed);
        if (gen !== this.#generation) return;
        if (bytesRead === 0) throw new Error("the file shrank while it was indexed");
        scanChunk(s, scanner, bytesRead, this.#stride, (offset, line) => this.#push(offset, line));
        this.#rate = (s.indexed - from) / Math.max(1, performance.now() - t0);
        this.#wake();
      }
    } finally {
      await fh.close().catch(() => {});
    }
  }

  /** Builds up to the size known now in the index worker (see the module comment); on the main thread if none can run. */
  #buildInWorker(gen: number): Promise<void> {
    const t0 = performance.now();
    const from = this.#state.indexed;
    return new Promise<void>((resolve, reject) => {
      const cancel = submit({
        path: this.#path!,
        dev: this.#dev,
        ino: this.#ino,
        size: this.#size,
        stride: this.#stride,
        chunk: this.#chunk,
        state: this.#state,
      }, {
        report: (r) => {
          if (gen !== this.#generation) return;
          if (r.type === "restart") {
            this.#clear();
          } else if (r.type === "progress") {
            for (let i = 0; i < r.entries.length; i += 2) this.#push(r.entries[i]!, r.entries[i + 1]!);
            this.#state = r.state;
            this.#rate = (r.state.indexed - from) / Math.max(1, performance.now() - t0);
            this.#wake();
          } else if (r.type === "done") {
            resolve();
          } else {
            reject(new Error(r.message));
          }
        },
        // A worker that could not start here: the main thread does it.
        fail: (e, started) => started ? reject(e) : this.#build(gen).then(resolve, reject),
      });
      if (!cancel) {
        this.#build(gen).then(resolve, reject);
        return;
      }
      this.#builtIn = "worker";
      // A reset stops the job; this build's promise then settles as stale (its generation is gone).
      this.#cancel = () => {
        cancel();
        resolve();
      };
    });
  }
}
