/**
 * The hub: every session's life, from admission to close. It admits
 * clients (per server and per address), opens sessions on their file's
 * channel (src/channels.ts), keeps them alive (pings, pong deadlines, write
 * deadlines), closes them, and shuts down. What each session is sent is the
 * fan-out's (src/fanout.ts); the series it exports are in src/hub_metrics.ts.
 * Runtime differences arrive only through {@link Runtime}'s capabilities.
 * @module
 */
import { type Channel, Channels } from "./channels.ts";
import type { Options } from "./config.ts";
import { FanOut } from "./fanout.ts";
import { hubMetrics } from "./hub_metrics.ts";
import type { Logger } from "./log.ts";
import type { Format } from "./messages.ts";
import type { Metrics } from "./metrics.ts";
import type { Peer, PeerEvents, Runtime } from "./runtime/types.ts";
import { CLOSE, CLOSE_FOR, type CloseReason, type Refusal, Session } from "./session.ts";
import type { Snapshot } from "./version.ts";
import type { FileWatcher } from "./watcher.ts";

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

/** How long a shutdown waits for clients to acknowledge 1001 before exiting anyway. */
export const SHUTDOWN_GRACE_MS = 5_000;

/** Every session, of every file. */
export class Hub {
  /** Every open session, with the channel of its file. */
  readonly sessions = new Map<Session, Channel>();
  readonly metrics: Metrics;
  #perIp = new Map<string, number>();
  /** Admitted but not yet closed (includes upgrades in flight). */
  #admitted = 0;
  #sweep: ReturnType<typeof setInterval> | undefined;
  #shuttingDown = false;
  #closedWaiters = new Set<() => void>();
  readonly #channels: Channels;
  readonly #fanout: FanOut;

  /**
   * @param watcher the file of a one-file server (kept for the hub's life), or
   *   null when files are opened by name with {@link channel}
   * @param watcherFor makes the watcher of a file opened by name
   * @param mainName the one-file server's file name
   */
  constructor(
    readonly options: Options,
    watcher: FileWatcher | null,
    readonly runtime: Runtime,
    readonly log: Logger,
    watcherFor: ((path: string) => FileWatcher) | null = null,
    mainName = "",
  ) {
    this.#channels = new Channels(watcher, mainName, watcherFor, (snap, ch) => this.broadcast(snap, ch));
    this.metrics = hubMetrics({
      clients: () => this.sessions.size,
      admitted: () => this.#admitted,
      lagging: () => {
        let n = 0;
        for (const s of this.sessions.keys()) if (s.stuckSince) n++;
        return n;
      },
      channels: this.#channels,
    });
    this.#fanout = new FanOut({
      runtime,
      options,
      metrics: this.metrics,
      log,
      guard: (s, what, fn) => this.#guarded(s, what, fn),
    });
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** The one-file server's watcher (null with several files). */
  get watcher(): FileWatcher {
    return this.#channels.main?.watcher as FileWatcher;
  }

  /** The one-file server's channel (null with several files). */
  get main(): Channel | null {
    return this.#channels.main;
  }

  /**
   * The channel of the file named `name` at `path`, made (with its watcher,
   * idle until a viewer comes) when there is none; see {@link Channels.open}.
   */
  channel(name: string, path: string): Channel {
    return this.#channels.open(name, path);
  }

  /** How many channels exist (watching or lingering). */
  get channels(): number {
    return this.#channels.size;
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

  /**
   * The runtime events of one admitted connection.
   * @param token the version the client says it holds (`?lastMod=`), null = none
   * @param size that version's size (`?size=`), null = not given
   */
  connect(
    format: Format,
    ip: string,
    token: string | null,
    size: number | null = null,
    channel: Channel | null = this.#channels.main,
  ): PeerEvents {
    if (!channel) throw new Error("Cannot connect: this hub has several files; name one");
    return new Hub.#Events(this, new Session(format, ip, token, Date.now(), size), channel);
  }

  /**
   * One connection's events: one small object per connection whose methods
   * live on the prototype, where a closure per event (and one per handler
   * inside it) cost about 0.9 KB of heap per connection (BENCHMARKS.md). In
   * the hub's body so that it reaches the hub's private handlers.
   */
  static readonly #Events = class SessionEvents implements PeerEvents {
    constructor(readonly hub: Hub, readonly s: Session, readonly channel: Channel) {}
    onOpen(peer: Peer): void {
      this.hub.#guarded(this.s, "open", () => this.hub.#open(this.s, this.channel, peer));
    }
    onMessage(bytes: number): void {
      this.hub.#guarded(this.s, "message", () => this.hub.#message(this.s, bytes));
    }
    onPong(): void {
      this.hub.#guarded(this.s, "pong", () => this.hub.#alive(this.s));
    }
    onDrain(): void {
      this.hub.#guarded(this.s, "drain", () => {
        const ch = this.hub.sessions.get(this.s);
        if (ch) this.hub.#fanout.drain(this.s, ch);
      });
    }
    onClose(code: number, reason: string): void {
      this.hub.#guarded(this.s, "close", () => this.hub.#closed(this.s, code, reason));
    }
  };

  /** Fans a new snapshot of a file out to its sessions (the one-file server's file by default). */
  broadcast(snap: Snapshot, ch: Channel = this.#channels.main!): void {
    this.#fanout.broadcast(snap, ch);
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

  #open(s: Session, channel: Channel, peer: Peer): void {
    s.peer = peer;
    if (this.#shuttingDown) {
      this.close(s, "shutdown");
      return;
    }
    const ch = this.#channels.current(channel);
    this.sessions.set(s, ch);
    this.#channels.join(ch, s);
    this.metrics.inc("filewatch_upgrades_total");
    this.#alive(s);
    if (!this.#sweep) this.#sweep = setInterval(() => this.sweep(Date.now()), sweepInterval(this.options));
    this.log.info("client connected", { ip: s.ip, protocol: s.format, clients: this.sessions.size, ...ch.logFields });
    this.#fanout.open(s, ch);
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

  /** Liveness and backpressure, for every session; run by a timer. */
  sweep(now: number): void {
    for (const [s, ch] of this.sessions) {
      if (s.closeReason || !s.peer) continue;
      this.#guarded(s, "sweep", () => this.#sweepOne(s, ch, s.peer!, now));
    }
  }

  #sweepOne(s: Session, ch: Channel, peer: Peer, now: number): void {
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
        this.#fanout.drain(s, ch);
      } else if (now - s.stuckSince >= o.writeWait) {
        this.close(s, "slow_consumer");
      }
    } else {
      const snap = ch.lineage.snapshot;
      if (snap && s.seq < snap.seq && peer.bufferedAmount() > 0) this.#fanout.lag(s, ch, now);
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
    this.#fanout.forget(s);
    if (connectionGone && s.holdsSlot) {
      s.holdsSlot = false;
      this.release(s.ip);
    }
    const ch = this.sessions.get(s);
    // Not open (the upgrade failed before open) or already forgotten.
    if (!ch) return;
    this.sessions.delete(s);
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
      ...ch.logFields,
    });
    this.#channels.leave(ch, s);
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
    this.#fanout.stop();
    const all = [...this.sessions.keys()];
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
    this.#channels.close();
    return ok;
  }
}
