/**
 * The hub: every session, the fan-out of new versions, liveness (pings, pong
 * deadlines, write deadlines), limits and shutdown. Sessions belong to a
 * {@link Channel}, one per watched file (DESIGN §10): its watcher runs while
 * the file has viewers; admission, liveness, metrics and shutdown are shared.
 * Runtime differences arrive only through {@link Runtime}'s capabilities.
 * @module
 */
import type { Options } from "./config.ts";
import type { Logger } from "./log.ts";
import { type Format, frameFor, frameSize } from "./messages.ts";
import { Metrics } from "./metrics.ts";
import type { Peer, PeerEvents, Runtime } from "./runtime/types.ts";
import { CLOSE, type CloseReason, Session } from "./session.ts";
import type { Snapshot } from "./version.ts";
import type { FileWatcher } from "./watcher.ts";

/** What a session needs to reach a snapshot: the whole content, the bytes after an offset, or nothing. */
type Need = "content" | number | null;

/** Why an upgrade was refused before it happened. */
export type Refusal = "origin" | "limit" | "ip_limit" | "bad_request" | "shutting_down";
const REFUSALS: readonly Refusal[] = ["origin", "limit", "ip_limit", "bad_request", "shutting_down"];

/**
 * How often liveness is swept. A ping goes out at most one sweep after it is
 * due, so the sweep runs at least twice between pingPeriod and pongWait:
 * the pong then has half that gap to come back before the deadline.
 * Capped at 1 s, which costs nothing measurable at 10k clients.
 */
export function sweepInterval(o: Pick<Options, "pongWait" | "pingPeriod" | "writeWait">): number {
  const gap = Math.floor((o.pongWait - o.pingPeriod) / 2);
  return Math.max(10, Math.min(1_000, gap, Math.floor(o.writeWait / 4)));
}

/**
 * A lagging client (its last frame not yet written out) is looked at again
 * after this long, then after twice that, up to {@link DRAIN_POLL_MAX_MS},
 * until its backlog is gone: Deno has no drain event, and waiting for the
 * next sweep (up to 1 s) stalled a viewer of a busy log for a second
 * whenever two appends went out within one write (tests/e2e/appends.test.ts,
 * "a busy writer", under a CPU hog).
 */
export const DRAIN_POLL_MIN_MS = 4;
export const DRAIN_POLL_MAX_MS = 128;

/** How long a shutdown waits for clients to acknowledge 1001 before exiting anyway. */
export const SHUTDOWN_GRACE_MS = 5_000;

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
  /** Set while the hub is subscribed to the watcher (the file has viewers). */
  unsubscribe: (() => void) | null = null;
  /** Counts broadcasts, so a batched one can tell that a newer one has begun. */
  generation = 0;
  linger: ReturnType<typeof setTimeout> | undefined;
  constructor(readonly name: string, readonly watcher: FileWatcher, id: number) {
    // The first file keeps the one-file server's topic names.
    this.topics = id === 0 ? { plain: "fw.plain", v1: "fw.v1" } : { plain: `fw.plain.${id}`, v1: `fw.v1.${id}` };
  }
}

/** Every session, of every file. */
export class Hub {
  readonly sessions = new Set<Session>();
  readonly metrics = new Metrics();
  #perIp = new Map<string, number>();
  /** Admitted but not yet closed (includes upgrades in flight). */
  #admitted = 0;
  #sweep: ReturnType<typeof setInterval> | undefined;
  /** Sessions skipped because their writes were backed up, until they drain. */
  #lagging = new Set<Session>();
  #drainPoll: ReturnType<typeof setTimeout> | undefined;
  #drainDelay = DRAIN_POLL_MIN_MS;
  #shuttingDown = false;
  #closedWaiters = new Set<() => void>();
  /** The one-file server's file (channel 0), or null with several files. */
  readonly #main: Channel | null;
  /** Channels by file name. */
  readonly #channels = new Map<string, Channel>();
  #nextId = 1;
  /** Counts of watchers that have been dropped, so counters never go back. */
  #retired = { versions: 0, appends: 0, readErrors: 0 };

  /**
   * @param watcher the file of a one-file server (kept for the hub's life), or
   *   null when files are opened by name with {@link channel}
   * @param watcherFor makes the watcher of a file opened by name
   */
  constructor(
    readonly options: Options,
    watcher: FileWatcher | null,
    readonly runtime: Runtime,
    readonly log: Logger,
    readonly watcherFor: ((path: string) => FileWatcher) | null = null,
    mainName = "",
  ) {
    this.#main = watcher ? new Channel(mainName, watcher, 0) : null;
    if (this.#main) this.#channels.set(mainName, this.#main);
    const sum = (k: "versions" | "appends" | "readErrors") => () => {
      let n = this.#retired[k];
      for (const ch of this.#channels.values()) n += ch.watcher.stats[k];
      return [{ labels: {}, value: n }];
    };
    const m = this.metrics;
    m.define(
      "filewatch_clients",
      "gauge",
      "Connected WebSocket clients.",
      () => [{ labels: {}, value: this.sessions.size }],
    );
    m.define("filewatch_upgrades_total", "counter", "WebSocket upgrades accepted.");
    m.define(
      "filewatch_admitted_clients",
      "gauge",
      "Places taken under --max-clients: connected clients, upgrades in flight, and dropped ones not yet gone.",
      () => [{ labels: {}, value: this.#admitted }],
    );
    m.define(
      "filewatch_upgrades_refused_total",
      "counter",
      "WebSocket upgrades refused, by reason.",
      undefined,
      REFUSALS.map((reason) => ({ reason })),
    );
    m.define("filewatch_messages_sent_total", "counter", "Messages sent to clients.");
    m.define("filewatch_bytes_sent_total", "counter", "Payload bytes sent to clients.");
    m.define(
      "filewatch_versions_total",
      "counter",
      "New versions of the file seen after the first.",
      sum("versions"),
    );
    m.define(
      "filewatch_appends_total",
      "counter",
      "New versions that were the previous one plus appended bytes (sent as appends).",
      sum("appends"),
    );
    m.define(
      "filewatch_read_errors_total",
      "counter",
      "Times the file could not be read (each distinct error once).",
      sum("readErrors"),
    );
    m.define(
      "filewatch_closes_total",
      "counter",
      "Connections closed, by reason.",
      undefined,
      Object.keys(CLOSE_FOR).map((reason) => ({ reason })),
    );
    m.define(
      "filewatch_watch_mode",
      "gauge",
      "How changes are noticed (1 = current mode; with several files, how many watchers are in it).",
      () =>
        (["events", "polling", "idle"] as const).map((mode) => {
          let n = 0;
          for (const ch of this.#channels.values()) if (ch.watcher.mode === mode) n++;
          return { labels: { mode }, value: n };
        }),
    );
    m.define("filewatch_watchers", "gauge", "File watchers running (files with at least one viewer).", () => {
      let n = 0;
      for (const ch of this.#channels.values()) if (ch.watcher.subscribers > 0) n++;
      return [{ labels: {}, value: n }];
    });
    m.define("filewatch_lagging_clients", "gauge", "Clients whose writes are backed up.", () => {
      let n = 0;
      for (const s of this.sessions) if (s.stuckSince) n++;
      return [{ labels: {}, value: n }];
    });
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** The one-file server's watcher (null with several files). */
  get watcher(): FileWatcher {
    return this.#main?.watcher as FileWatcher;
  }

  /**
   * The channel of the file named `name` at `path`, made (with its watcher,
   * idle until a viewer comes) when there is none. A channel nobody joins
   * is dropped {@link CHANNEL_LINGER_MS} later.
   */
  channel(name: string, path: string): Channel {
    let ch = this.#channels.get(name);
    if (ch && ch !== this.#main && ch.watcher.options.file !== path) {
      // The name now stands for another path (cannot happen with a fixed list or one directory): start afresh.
      this.#drop(ch);
      ch = undefined;
    }
    if (!ch) {
      if (!this.watcherFor) throw new Error(`Cannot watch ${name}: this hub watches one file`);
      ch = new Channel(name, this.watcherFor(path), this.#nextId++);
      this.#channels.set(name, ch);
    }
    if (ch.sessions.size === 0) this.#linger(ch);
    return ch;
  }

  /** How many channels exist (watching or lingering). */
  get channels(): number {
    return this.#channels.size;
  }

  #linger(ch: Channel): void {
    if (ch === this.#main) return;
    // Newest last: a channel lingering again moves to the end.
    this.#channels.delete(ch.name);
    this.#channels.set(ch.name, ch);
    let idle = 0;
    for (const c of this.#channels.values()) if (c.sessions.size === 0 && c !== this.#main) idle++;
    for (const c of this.#channels.values()) {
      if (idle <= IDLE_CHANNELS_KEPT) break;
      if (c.sessions.size === 0 && c !== this.#main && c !== ch) {
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
    const st = ch.watcher.stats;
    this.#retired.versions += st.versions;
    this.#retired.appends += st.appends;
    this.#retired.readErrors += st.readErrors;
    this.#channels.delete(ch.name);
  }

  /** Counts a refusal (the app answers it). */
  refuse(reason: Refusal): void {
    this.metrics.inc("filewatch_upgrades_refused_total", { reason });
  }

  /**
   * Reserves a place for a new client from `ip`, or says why not.
   * A reservation is released by {@link release} when the upgrade fails, or when the session closes.
   */
  admit(ip: string): Refusal | null {
    if (this.#shuttingDown) return "shutting_down";
    if (this.#admitted >= this.options.maxClients) return "limit";
    const n = this.#perIp.get(ip) ?? 0;
    if (this.options.maxClientsPerIp > 0 && n >= this.options.maxClientsPerIp) return "ip_limit";
    this.#admitted++;
    this.#perIp.set(ip, n + 1);
    return null;
  }

  /** Gives back a place taken by {@link admit}. */
  release(ip: string): void {
    this.#admitted--;
    const n = (this.#perIp.get(ip) ?? 1) - 1;
    if (n <= 0) this.#perIp.delete(ip);
    else this.#perIp.set(ip, n);
  }

  /** The runtime events of one admitted connection. */
  connect(
    format: Format,
    ip: string,
    lastMod: string | null,
    size: number | null = null,
    channel: Channel | null = this.#main,
  ): PeerEvents {
    if (!channel) throw new Error("Cannot connect: this hub has several files; name one");
    const s = new Session(format, ip, lastMod, Date.now(), size);
    s.channel = channel;
    const guard = <A extends unknown[]>(what: string, fn: (...a: A) => void) => (...a: A) =>
      this.#guarded(s, what, () => fn(...a));
    return {
      onOpen: guard("open", (peer: Peer) => this.#open(s, peer)),
      onMessage: guard("message", (bytes: number) => this.#message(s, bytes)),
      onPong: guard("pong", () => this.#alive(s)),
      onDrain: guard("drain", () => this.#drain(s)),
      onClose: guard("close", (code: number, reason: string) => this.#closed(s, code, reason)),
    };
  }

  /**
   * Runs one session's part of some work. A throw there (a bug, a frame the
   * runtime cannot make) closes that session with 1011 and is logged; the
   * other sessions and the process carry on.
   */
  #guarded(s: Session, what: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.log.error("session failed", { ip: s.ip, in: what, error: String((e as Error)?.stack ?? e) });
      if (s.peer && what !== "close") this.close(s, "error");
    }
  }

  #open(s: Session, peer: Peer): void {
    s.peer = peer;
    if (this.#shuttingDown) {
      this.close(s, "shutdown");
      return;
    }
    // A channel dropped while this upgrade was in flight: take the file's current one.
    if (this.#channels.get(s.channel!.name) !== s.channel) {
      s.channel = this.channel(s.channel!.name, s.channel!.watcher.options.file);
    }
    const ch = s.channel!;
    this.sessions.add(s);
    ch.sessions.add(s);
    clearTimeout(ch.linger);
    ch.linger = undefined;
    this.metrics.inc("filewatch_upgrades_total");
    this.#alive(s);
    if (!ch.unsubscribe) ch.unsubscribe = ch.watcher.subscribe((snap) => this.broadcast(snap, ch));
    if (!this.#sweep) this.#sweep = setInterval(() => this.sweep(Date.now()), sweepInterval(this.options));
    this.log.info("client connected", { ip: s.ip, protocol: s.format, clients: this.sessions.size, ...fileOf(ch) });
    const snap = ch.watcher.snapshot;
    if (snap?.ok && s.lastMod !== null && ch.watcher.lineage.sizeOf(s.lastMod, s.resumeSize) === undefined) {
      // A version this process does not hold: often one another worker or
      // replica saw first (the client is ahead of us). Look at the file
      // before answering, or the client would be sent an older version than
      // it holds. A newer version reaches it through the broadcast.
      void ch.watcher.check().then(() => {
        const now = ch.watcher.snapshot;
        if (now && s.peer && !s.closeReason && s.seq === 0) this.#guarded(s, "open", () => this.#catchUp(s, now));
      });
      return;
    }
    if (snap) this.#catchUp(s, snap);
    // else: the first check is under way; its broadcast reaches this session.
  }

  #alive(s: Session): void {
    const now = Date.now();
    s.deadline = now + this.options.pongWait;
    if (!s.nextPing) s.nextPing = now + this.options.pingPeriod;
  }

  #message(s: Session, bytes: number): void {
    if (bytes > this.options.readLimit) {
      // Reached only where the runtime cannot refuse a message before buffering it.
      this.close(s, "read_limit");
      return;
    }
    // Clients have nothing to say; any frame still proves the peer alive.
    this.#alive(s);
  }

  #drain(s: Session): void {
    if (s.closeReason || !s.peer) {
      this.#lagging.delete(s);
      return;
    }
    if (s.peer.bufferedAmount() > 0) return;
    this.#lagging.delete(s);
    s.stuckSince = 0;
    const snap = s.channel!.watcher.snapshot;
    if (snap) this.#catchUp(s, snap);
  }

  /**
   * Sends the newest snapshot to one session if it has not got it (on connect,
   * or after its backlog drained: a lagging client skips to the newest).
   */
  #catchUp(s: Session, snap: Snapshot): void {
    if (s.seq === 0) this.#resume(s, snap);
    if (s.seq < snap.seq) {
      if (!this.#send(s, snap)) return;
    }
    if (this.runtime.pubsub && !s.inTopic) {
      s.peer!.subscribe(s.channel!.topics[s.format]);
      s.inTopic = true;
    }
  }

  /**
   * Where a new client stands, from its `?lastMod=` (and `?size=`): a version
   * of the current lineage it can be brought forward from, or nothing known.
   * Without a size only the current version counts (an older client that
   * knows no appends then gets the content, as before).
   */
  #resume(s: Session, snap: Snapshot): void {
    const size = s.channel!.watcher.lineage.sizeOf(s.lastMod, s.resumeSize);
    if (!snap.ok || size === undefined || size > snap.size) return;
    if (s.resumeSize === null ? size !== snap.size : s.resumeSize !== size) return;
    s.lineage = snap.lineage;
    s.size = size;
    s.token = s.lastMod;
  }

  /** What session `s` needs to hold `snap`. */
  #need(s: Session, snap: Snapshot): Need {
    if (!snap.ok) return "content";
    if (s.lineage === snap.lineage && s.size === snap.size) return null;
    // gorilla's plain clients get the whole file each time, but in tail mode.
    if (s.format === "plain" && !this.options.tail) return "content";
    if (s.lineage === snap.lineage && s.size < snap.size && snap.since(s.size)) return s.size;
    return "content";
  }

  /** Records that `s` now holds `snap`. */
  #holds(s: Session, snap: Snapshot): void {
    s.seq = snap.seq;
    if (snap.ok) {
      s.lineage = snap.lineage;
      s.size = snap.size;
      s.token = snap.lastMod;
    } else {
      s.lineage = -1;
      s.size = 0;
      s.token = null;
    }
  }

  /** Sends to one session what it needs of `snap`; false when it is now backed up. */
  #send(s: Session, snap: Snapshot): boolean {
    const need = this.#need(s, snap);
    const prev = s.token ?? "";
    this.#holds(s, snap);
    if (need === null) return true;
    const from = need === "content" ? undefined : need;
    const ok = s.peer!.send(frameFor(snap, s.format, from, prev), this.options.compress);
    this.#count(snap, s.format, 1, from, prev);
    if (!ok) this.#lag(s, Date.now());
    return ok;
  }

  #count(snap: Snapshot, format: Format, n: number, from?: number, prev?: string): void {
    if (n === 0) return;
    this.metrics.inc("filewatch_messages_sent_total", {}, n);
    this.metrics.inc("filewatch_bytes_sent_total", {}, frameSize(snap, format, from, prev) * n);
  }

  #lag(s: Session, now: number): void {
    if (!s.stuckSince) s.stuckSince = now;
    this.#lagging.add(s);
    if (this.#drainPoll === undefined) {
      this.#drainDelay = DRAIN_POLL_MIN_MS;
      this.#drainPoll = setTimeout(() => this.#pollDrains(), this.#drainDelay);
    }
    if (s.inTopic) {
      s.peer!.unsubscribe(s.channel!.topics[s.format]);
      s.inTopic = false;
    }
  }

  /**
   * Looks at every lagging session: one whose backlog is written out gets the
   * newest version now. Runs again, each time twice as late, while any lag.
   */
  #pollDrains(): void {
    this.#drainPoll = undefined;
    for (const s of this.#lagging) this.#guarded(s, "drain", () => this.#drain(s));
    if (this.#lagging.size === 0 || this.#shuttingDown) return;
    this.#drainDelay = Math.min(this.#drainDelay * 2, DRAIN_POLL_MAX_MS);
    this.#drainPoll = setTimeout(() => this.#pollDrains(), this.#drainDelay);
  }

  /**
   * Fans a new snapshot out. Clients whose writes are backed up are skipped
   * (they get the newest when they drain); the rest get it through the
   * runtime's pub/sub where it has one, else one send each.
   */
  broadcast(snap: Snapshot, ch: Channel = this.#main!): void {
    const now = Date.now();
    const viaTopic: Record<Format, number> = { plain: 0, v1: 0 };
    // Sessions in a topic have had every version so far, so all hold the one
    // this snapshot follows: one frame serves them all.
    const viaTopicFrom: Partial<Record<Format, { need: Need; prev: string }>> = {};
    const batch = this.runtime.sendBatch;
    const direct: Session[] = [];
    const generation = ++ch.generation;
    const late: Session[] = [];
    for (const s of ch.sessions) {
      if (!s.peer || s.closeReason || s.seq >= snap.seq) continue;
      if (s.seq === 0) {
        // Connected before the first check finished, or waiting on the check
        // its unknown version asked for: caught up after the topic's frame
        // is out, since catching up joins the topic, and the frame was made
        // for sessions that held the version before this one.
        late.push(s);
        continue;
      }
      if (s.stuckSince || s.peer.bufferedAmount() > 0) {
        this.#lag(s, now);
        continue;
      }
      if (s.inTopic) {
        viaTopicFrom[s.format] ??= { need: this.#need(s, snap), prev: s.token ?? "" };
        this.#holds(s, snap);
        viaTopic[s.format]++;
      } else if (batch > 0) {
        direct.push(s);
      } else {
        this.#guarded(s, "broadcast", () => this.#send(s, snap));
      }
    }
    if (direct.length > 0) void this.#sendInBatches(ch, direct, snap, generation, batch);
    for (const format of ["plain", "v1"] as const) {
      const via = viaTopicFrom[format];
      if (!via || via.need === null) continue;
      const { need, prev } = via;
      const from = need === "content" ? undefined : need;
      try {
        this.runtime.publish(ch.topics[format], frameFor(snap, format, from, prev), this.options.compress);
        this.#count(snap, format, viaTopic[format], from, prev);
      } catch (e) {
        // The frame could not be made or published: every session that was to get it gets 1011.
        for (const s of ch.sessions) {
          if (s.inTopic && s.format === format) {
            this.#guarded(s, "publish", () => {
              throw e;
            });
          }
        }
      }
    }
    for (const s of late) this.#guarded(s, "broadcast", () => this.#catchUp(s, snap));
    if (snap.ok) {
      // A growing log would log a line per append: /metrics counts those instead.
      if (snap.appendOf) return;
      this.log.info(snap.seq === 1 ? "file read" : "file changed", {
        lastMod: snap.lastMod,
        size: snap.size,
        clients: ch.sessions.size,
        ...fileOf(ch),
      });
    } else this.log.warn("file error", { error: snap.error, clients: ch.sessions.size, ...fileOf(ch) });
  }

  /**
   * Sends one by one, `batch` sockets at a time with a macrotask between
   * batches, so the runtime writes out (and frees) each batch's copies of the
   * frame before more are made. A newer broadcast takes over the rest: they
   * get the newest version, not this one.
   */
  async #sendInBatches(
    ch: Channel,
    targets: Session[],
    snap: Snapshot,
    generation: number,
    batch: number,
  ): Promise<void> {
    for (let i = 0; i < targets.length; i += batch) {
      if (i > 0) {
        await new Promise((r) => setTimeout(r, 0));
        if (generation !== ch.generation) return;
      }
      const end = Math.min(i + batch, targets.length);
      for (let j = i; j < end; j++) {
        const s = targets[j]!;
        if (!s.closeReason && s.peer && s.seq < snap.seq) this.#guarded(s, "broadcast", () => this.#send(s, snap));
      }
    }
  }

  /** Liveness and backpressure, for every session; run by a timer. */
  sweep(now: number): void {
    for (const s of this.sessions) {
      if (s.closeReason || !s.peer) continue;
      this.#guarded(s, "sweep", () => this.#sweepOne(s, s.peer!, now, s.channel!.watcher.snapshot));
    }
  }

  #sweepOne(s: Session, peer: Peer, now: number, snap: Snapshot | null): void {
    const o = this.options;
    if (!this.runtime.pingsItself) {
      if (now >= s.deadline) {
        this.close(s, "pong_timeout");
        return;
      }
      if (now >= s.nextPing) {
        peer.ping();
        s.nextPing = now + o.pingPeriod;
      }
    }
    if (s.stuckSince) {
      if (peer.bufferedAmount() === 0) {
        this.#drain(s);
      } else if (now - s.stuckSince >= o.writeWait) {
        this.close(s, "slow_consumer");
      }
    } else if (snap && s.seq < snap.seq && peer.bufferedAmount() > 0) {
      this.#lag(s, now);
    }
  }

  /** Closes a session for a reason of ours. Safe to call twice. */
  close(s: Session, reason: CloseReason): void {
    if (s.closeReason) return;
    s.closeReason = reason;
    const peer = s.peer;
    let code: number = CLOSE_FOR[reason][0];
    if (peer) {
      try {
        if (reason === "slow_consumer" || reason === "pong_timeout") {
          // Dropped without a close handshake, as gorilla's writer does: a peer
          // that no longer reads would never take the close frame, and one that
          // vanished (half-open TCP) never answers it. Bun also ignores a
          // terminate() that follows close(), keeping the socket for seconds.
          peer.terminate();
          code = CLOSE.abnormal;
        } else {
          peer.close(code, CLOSE_FOR[reason][1]);
        }
      } catch { /* already closing */ }
    }
    // The place stays taken until the runtime reports the connection gone
    // (#closed): a socket the runtime cannot drop at once still counts
    // against --max-clients and --max-clients-per-ip.
    this.#forget(s, code, false);
  }

  #closed(s: Session, code: number, reason: string): void {
    if (!s.closeReason) {
      // The runtime's own idle timeout (Deno) or size limit (Bun) lands here.
      s.closeReason = /ping/i.test(reason)
        ? "pong_timeout"
        : /too big/i.test(reason) || code === CLOSE.tooBig
        ? "read_limit"
        : "client";
    }
    this.#forget(s, code, true);
  }

  /** Bookkeeping once per session, however many close paths fire. */
  #forget(s: Session, code: number, connectionGone: boolean): void {
    this.#lagging.delete(s);
    if (connectionGone && s.holdsSlot) {
      s.holdsSlot = false;
      this.release(s.ip);
    }
    // Not open (the upgrade failed before open) or already forgotten.
    if (!this.sessions.delete(s)) return;
    const ch = s.channel!;
    ch.sessions.delete(s);
    if (s.inTopic) {
      try {
        s.peer?.unsubscribe(ch.topics[s.format]);
      } catch { /* socket already gone */ }
      s.inTopic = false;
    }
    this.metrics.inc("filewatch_closes_total", { reason: s.closeReason! });
    this.log.info("client closed", {
      ip: s.ip,
      reason: s.closeReason!,
      code,
      seconds: Math.round((Date.now() - s.openedAt) / 100) / 10,
      clients: this.sessions.size,
      ...fileOf(ch),
    });
    if (ch.sessions.size === 0) {
      // The file's last viewer left: its watcher stops now; the channel lingers a little.
      ch.unsubscribe?.();
      ch.unsubscribe = null;
      this.#linger(ch);
    }
    if (this.sessions.size === 0) {
      clearInterval(this.#sweep);
      this.#sweep = undefined;
      for (const w of this.#closedWaiters) w();
    }
  }

  /**
   * Graceful shutdown: refuse new clients, send 1001 to every client, and wait
   * (at most `graceMs`) for their closes. Resolves true when all closed in time.
   */
  async shutdown(graceMs = SHUTDOWN_GRACE_MS): Promise<boolean> {
    this.#shuttingDown = true;
    const all = [...this.sessions];
    const done = this.sessions.size === 0 ? Promise.resolve(true) : new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), graceMs);
      this.#closedWaiters.add(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    for (const s of all) {
      if (s.closeReason) continue;
      s.closeReason = "shutdown";
      try {
        s.peer?.close(CLOSE.goingAway, "server shutting down");
      } catch { /* already closing */ }
    }
    const ok = await done;
    clearInterval(this.#sweep);
    clearTimeout(this.#drainPoll);
    this.#drainPoll = undefined;
    for (const ch of this.#channels.values()) {
      clearTimeout(ch.linger);
      ch.unsubscribe?.();
      ch.unsubscribe = null;
      ch.watcher.close();
    }
    return ok;
  }
}

/** Log fields naming a channel's file (none for the one-file server, whose logs stay as they were). */
const fileOf = (ch: Channel): { file?: string } => (ch.name && ch.topics.plain !== "fw.plain" ? { file: ch.name } : {});

const CLOSE_FOR: Record<CloseReason, [number, string]> = {
  client: [CLOSE.normal, ""],
  pong_timeout: [CLOSE.policy, "pong timeout"],
  slow_consumer: [CLOSE.policy, "slow consumer"],
  read_limit: [CLOSE.tooBig, "message too big"],
  shutdown: [CLOSE.goingAway, "server shutting down"],
  error: [CLOSE.internal, "internal error"],
};
