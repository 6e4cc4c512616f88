/**
 * The files being watched: one {@link Channel} per file, made when a page or
 * a client first names it (docs/protocol.md#several-files), its watcher
 * running while the file has viewers, kept a little after the last one
 * leaves (a reload resumes from what it holds), then dropped.
 * @module
 */
import type { Lineage } from "./lineage.ts";
import type { Format } from "./messages.ts";
import type { LogFile } from "./scan/log_file.ts";
import type { Session } from "./session.ts";
import type { Snapshot } from "./version.ts";
import type { FileWatcher } from "./watcher.ts";

/**
 * How long a file's channel (its watcher and what it holds of the file) is
 * kept after its last viewer left or its page was shown: a reload or a
 * reconnect within it resumes from what is held. The watcher itself stops
 * polling as soon as the last viewer leaves.
 */
export const CHANNEL_LINGER_MS = 10_000;
/**
 * At most this many channels without viewers are kept lingering: page views
 * of many files in a row (each reads its file, up to --max-file-size) must
 * not hold them all in memory; the oldest goes first.
 */
export const IDLE_CHANNELS_KEPT = 16;

/** One watched file: its watcher, its sessions and its broadcast topics. */
export class Channel {
  readonly sessions = new Set<Session>();
  /** Topics for the runtime's pub/sub: one pair per file. */
  readonly topics: Record<Format, string>;
  /** Fields naming the file in log lines (none for the one-file server, whose logs stay as they were). */
  readonly logFields: { file?: string };
  /** Set while the channel is subscribed to the watcher (the file has viewers). */
  unsubscribe: (() => void) | null = null;
  /** Counts broadcasts, so a batched one can tell that a newer one has begun. */
  generation = 0;
  linger: ReturnType<typeof setTimeout> | undefined;
  #log: LogFile | null = null;
  /** The lineage of the last version the channel saw (-1: none yet). */
  #lineage = -1;

  constructor(readonly name: string, readonly watcher: FileWatcher, id: number) {
    // The first file keeps the one-file server's topic names.
    const suffix = id === 0 ? "" : `.${id}`;
    this.topics = { plain: `fw.plain${suffix}`, v1: `fw.v1${suffix}`, bin: `fw.bin${suffix}` };
    this.logFields = name && id !== 0 ? { file: name } : {};
  }

  /** The file's versions: what its sessions are sent, and where a resuming one stands. */
  get lineage(): Lineage {
    return this.watcher.lineage;
  }

  /**
   * The file's line index and the `/lines` and `/time` answers over it
   * (src/scan/log_file.ts): made by `make` on first need (the routes give it
   * the opener they read with, src/scan_routes.ts), kept as long as the channel.
   */
  logFile(make: () => LogFile): LogFile {
    return this.#log ??= make();
  }

  /**
   * A version the watcher published (while the file has viewers): an append
   * extends the line index, a new lineage (rotation, truncation, rewrite)
   * drops it. Requests also tell the index what they opened, which covers
   * the time nobody views the file.
   */
  observe(snap: Snapshot): void {
    if (!snap.ok) return;
    const log = this.#log;
    const index = log?.index;
    if (index && this.#lineage !== -1 && snap.lineage !== this.#lineage) index.reset();
    else if (index && snap.appendOf && index.dev !== -1) {
      log!.observe({ dev: index.dev, ino: index.ino, size: snap.size });
    }
    this.#lineage = snap.lineage;
  }

  /** Stops what the channel started beside its watcher (the index's build); safe to call twice. */
  dispose(): void {
    this.#log?.dispose();
    this.#log = null;
  }
}

/** What a watcher counts that must not go back when its channel is dropped. */
type Counted = "versions" | "appends" | "readErrors";

/** The registry of channels, by file name. */
export class Channels {
  /** The one-file server's file (channel 0), or null with several files. */
  readonly main: Channel | null;
  readonly #byName = new Map<string, Channel>();
  readonly #watcherFor: ((path: string) => FileWatcher) | null;
  readonly #onSnapshot: (snap: Snapshot, ch: Channel) => void;
  #nextId = 1;
  /** Counts of watchers that have been dropped, so counters never go back. */
  #retired: Record<Counted, number> = { versions: 0, appends: 0, readErrors: 0 };

  /**
   * @param main the file of a one-file server (kept for the registry's life), or null
   * @param mainName its name
   * @param watcherFor makes the watcher of a file opened by name (null: only `main`)
   * @param onSnapshot gets every new snapshot of a file with viewers
   */
  constructor(
    main: FileWatcher | null,
    mainName: string,
    watcherFor: ((path: string) => FileWatcher) | null,
    onSnapshot: (snap: Snapshot, ch: Channel) => void,
  ) {
    this.#watcherFor = watcherFor;
    this.#onSnapshot = onSnapshot;
    this.main = main ? new Channel(mainName, main, 0) : null;
    if (this.main) this.#byName.set(mainName, this.main);
  }

  /** How many channels exist (watching or lingering). */
  get size(): number {
    return this.#byName.size;
  }

  /** Every channel. */
  values(): IterableIterator<Channel> {
    return this.#byName.values();
  }

  /**
   * The channel of the file named `name` at `path`, made (with its watcher,
   * idle until a viewer comes) when there is none. A channel nobody joins
   * is dropped {@link CHANNEL_LINGER_MS} later.
   */
  open(name: string, path: string): Channel {
    let ch = this.#byName.get(name);
    if (ch && ch !== this.main && ch.watcher.options.file !== path) {
      // The name now stands for another path (cannot happen with a fixed list or one directory): start afresh.
      this.#drop(ch);
      ch = undefined;
    }
    if (!ch) {
      if (!this.#watcherFor) throw new Error(`Cannot watch ${name}: this hub watches one file`);
      ch = new Channel(name, this.#watcherFor(path), this.#nextId++);
      this.#byName.set(name, ch);
    }
    if (ch.sessions.size === 0) this.#linger(ch);
    return ch;
  }

  /** `ch` itself, or the file's channel now when `ch` was dropped (while an upgrade was in flight). */
  current(ch: Channel): Channel {
    return this.#byName.get(ch.name) === ch ? ch : this.open(ch.name, ch.watcher.options.file);
  }

  /** A session joins `ch`: the channel stops lingering and its watcher runs. */
  join(ch: Channel, s: Session): void {
    ch.sessions.add(s);
    clearTimeout(ch.linger);
    ch.linger = undefined;
    ch.unsubscribe ??= ch.watcher.subscribe((snap) => {
      ch.observe(snap);
      this.#onSnapshot(snap, ch);
    });
  }

  /** A session leaves `ch`: after the last one its watcher stops now and the channel lingers a little. */
  leave(ch: Channel, s: Session): void {
    ch.sessions.delete(s);
    if (ch.sessions.size > 0) return;
    ch.unsubscribe?.();
    ch.unsubscribe = null;
    this.#linger(ch);
  }

  /** A watcher counter summed over every file, dropped ones included. */
  total(counter: Counted): number {
    let n = this.#retired[counter];
    for (const ch of this.#byName.values()) n += ch.watcher.stats[counter];
    return n;
  }

  /** Stops every watcher for good (shutdown). */
  close(): void {
    for (const ch of this.#byName.values()) {
      clearTimeout(ch.linger);
      ch.unsubscribe?.();
      ch.unsubscribe = null;
      ch.watcher.close();
      ch.dispose();
    }
  }

  #linger(ch: Channel): void {
    if (ch === this.main) return;
    // Newest last: a channel lingering again moves to the end.
    this.#byName.delete(ch.name);
    this.#byName.set(ch.name, ch);
    let idle = 0;
    for (const c of this.#byName.values()) if (c.sessions.size === 0 && c !== this.main) idle++;
    for (const c of this.#byName.values()) {
      if (idle <= IDLE_CHANNELS_KEPT) break;
      if (c.sessions.size === 0 && c !== this.main && c !== ch) {
        this.#drop(c);
        idle--;
      }
    }
    clearTimeout(ch.linger);
    ch.linger = setTimeout(() => {
      ch.linger = undefined;
      if (ch.sessions.size === 0) this.#drop(ch);
    }, CHANNEL_LINGER_MS);
  }

  #drop(ch: Channel): void {
    clearTimeout(ch.linger);
    ch.unsubscribe?.();
    ch.unsubscribe = null;
    ch.watcher.close();
    ch.dispose();
    for (const k of ["versions", "appends", "readErrors"] as const) this.#retired[k] += ch.watcher.stats[k];
    this.#byName.delete(ch.name);
  }
}
