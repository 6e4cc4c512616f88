/**
 * The fan-out: what each session of a file is sent, and when. A new snapshot
 * goes to every session through the runtime's pub/sub where it has one, in
 * batches where the runtime asks, else one send each; a session whose writes
 * are backed up is skipped and caught up with the newest version once they
 * drain; a new session resumes from the version it says it holds
 * (docs/protocol.md#resume). Each frame is encoded once (src/messages.ts).
 * @module
 */
import type { Channel } from "./channels.ts";
import type { Options } from "./config.ts";
import { type Need, needOf } from "./lineage.ts";
import type { Logger } from "./log.ts";
import { type Format, FORMATS, frameFor, frameSize } from "./messages.ts";
import type { Metrics } from "./metrics.ts";
import type { Runtime } from "./runtime/types.ts";
import type { Session } from "./session.ts";
import type { Snapshot } from "./version.ts";

/**
 * A lagging client (its last frame not yet written out) is looked at again
 * after this long, then after twice that, up to {@link DRAIN_POLL_MAX_MS},
 * until its backlog is gone: Deno has no drain event, and the next liveness
 * sweep can be a second away (docs/operations.md#slow-clients).
 */
export const DRAIN_POLL_MIN_MS = 4;
export const DRAIN_POLL_MAX_MS = 128;

/** What the fan-out works with. */
export interface FanOutDeps {
  runtime: Runtime;
  options: Pick<Options, "compress" | "tail">;
  /** Counts messages and bytes sent. */
  metrics: Metrics;
  log: Logger;
  /** Runs one session's part of some work; a throw there closes that session alone (the hub's). */
  guard: (s: Session, what: string, fn: () => void) => void;
}

/** Sends the files' versions to their sessions. */
export class FanOut {
  readonly #runtime: Runtime;
  readonly #options: FanOutDeps["options"];
  readonly #metrics: Metrics;
  readonly #log: Logger;
  readonly #guard: FanOutDeps["guard"];
  /** Sessions skipped because their writes were backed up, until they drain, with their channels. */
  #lagging = new Map<Session, Channel>();
  #drainPoll: ReturnType<typeof setTimeout> | undefined;
  #drainDelay = DRAIN_POLL_MIN_MS;
  #stopped = false;

  constructor(deps: FanOutDeps) {
    this.#runtime = deps.runtime;
    this.#options = deps.options;
    this.#metrics = deps.metrics;
    this.#log = deps.log;
    this.#guard = deps.guard;
  }

  /**
   * Fans a new snapshot of `ch`'s file out. Clients whose writes are backed
   * up are skipped (they get the newest when they drain); the rest get it
   * through the runtime's pub/sub where it has one, else one send each.
   */
  broadcast(snap: Snapshot, ch: Channel): void {
    const now = Date.now();
    const viaTopic: Record<Format, number> = { plain: 0, v1: 0, bin: 0 };
    // Sessions in a topic have had every version so far, so all hold the one
    // this snapshot follows: one frame serves them all.
    const viaTopicFrom: Partial<Record<Format, { need: Need; prevToken: string }>> = {};
    const batch = this.#runtime.sendBatchBytes;
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
        this.lag(s, ch, now);
        continue;
      }
      if (s.inTopic) {
        viaTopicFrom[s.format] ??= { need: this.#need(s, snap), prevToken: s.token ?? "" };
        this.#holds(s, snap);
        viaTopic[s.format]++;
      } else if (batch > 0) {
        direct.push(s);
      } else {
        this.#guard(s, "broadcast", () => this.#send(s, ch, snap));
      }
    }
    if (direct.length > 0) void this.#sendInBatches(ch, direct, snap, generation, batch);
    for (const format of FORMATS) {
      const via = viaTopicFrom[format];
      if (!via || via.need === null) continue;
      const { need, prevToken } = via;
      const from = need === "content" ? undefined : need;
      try {
        this.#runtime.publish(ch.topics[format], frameFor(snap, format, from, prevToken), this.#options.compress);
        this.#count(snap, format, viaTopic[format], from, prevToken);
      } catch (e) {
        // The frame could not be made or published: every session that was to get it gets 1011.
        for (const s of ch.sessions) {
          if (s.inTopic && s.format === format) {
            this.#guard(s, "publish", () => {
              throw e;
            });
          }
        }
      }
    }
    for (const s of late) this.#guard(s, "broadcast", () => this.#catchUp(s, ch, snap));
    if (snap.ok) {
      // A growing log would log a line per append: /metrics counts those instead.
      if (snap.appendOf) return;
      this.#log.info(snap.seq === 1 ? "file read" : "file changed", {
        lastMod: snap.lastMod,
        size: snap.size,
        clients: ch.sessions.size,
        ...ch.logFields,
      });
    } else this.#log.warn("file error", { error: snap.error, clients: ch.sessions.size, ...ch.logFields });
  }

  /**
   * Brings a session that just opened to its file's newest version, or to
   * nothing when it holds that already. A version this process cannot place
   * is often one another worker or replica saw first (the client is ahead
   * of us): the file is looked at before answering, or the client would be
   * sent an older version than it holds. A newer version reaches it through
   * the broadcast. Before the first read, the first broadcast reaches it.
   */
  open(s: Session, ch: Channel): void {
    const lineage = ch.lineage;
    const snap = lineage.snapshot;
    if (snap?.ok && s.resumeToken !== null && lineage.sizeOf(s.resumeToken, s.resumeSize) === undefined) {
      void ch.watcher.check().then(() => {
        const now = lineage.snapshot;
        if (now && s.peer && !s.closeReason && s.seq === 0) this.#guard(s, "open", () => this.#catchUp(s, ch, now));
      });
      return;
    }
    if (snap) this.#catchUp(s, ch, snap);
  }

  /** A session's writes are backed up: it is skipped (and out of its topic) until they drain. */
  lag(s: Session, ch: Channel, now: number): void {
    if (!s.stuckSince) s.stuckSince = now;
    this.#lagging.set(s, ch);
    if (this.#drainPoll === undefined && !this.#stopped) {
      this.#drainDelay = DRAIN_POLL_MIN_MS;
      this.#drainPoll = setTimeout(() => this.#pollDrains(), this.#drainDelay);
    }
    if (s.inTopic) {
      s.peer!.unsubscribe(ch.topics[s.format]);
      s.inTopic = false;
    }
  }

  /** A session whose backlog is written out gets the newest version now; one still backed up waits. */
  drain(s: Session, ch: Channel): void {
    if (s.closeReason || !s.peer) {
      this.#lagging.delete(s);
      return;
    }
    if (s.peer.bufferedAmount() > 0) return;
    this.#lagging.delete(s);
    s.stuckSince = 0;
    const snap = ch.lineage.snapshot;
    if (snap) this.#catchUp(s, ch, snap);
  }

  /** The session is gone. */
  forget(s: Session): void {
    this.#lagging.delete(s);
  }

  /** No more drain polls: every session is being closed (shutdown). */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#drainPoll);
    this.#drainPoll = undefined;
  }

  /**
   * Looks at every lagging session: one whose backlog is written out gets the
   * newest version now. Runs again, each time twice as late, while any lag.
   */
  #pollDrains(): void {
    this.#drainPoll = undefined;
    for (const [s, ch] of this.#lagging) this.#guard(s, "drain", () => this.drain(s, ch));
    if (this.#lagging.size === 0 || this.#stopped) return;
    this.#drainDelay = Math.min(this.#drainDelay * 2, DRAIN_POLL_MAX_MS);
    this.#drainPoll = setTimeout(() => this.#pollDrains(), this.#drainDelay);
  }

  /**
   * Sends one by one, with a macrotask whenever the frames sent add up to
   * `batchBytes`, so the runtime writes out (and frees) each batch's copies
   * before more are made. A newer broadcast takes over the rest: they get the
   * newest version, not this one.
   */
  async #sendInBatches(
    ch: Channel,
    targets: Session[],
    snap: Snapshot,
    generation: number,
    batchBytes: number,
  ): Promise<void> {
    let bytes = 0;
    for (const s of targets) {
      if (bytes >= batchBytes) {
        await new Promise((r) => setTimeout(r, 0));
        if (generation !== ch.generation) return;
        bytes = 0;
      }
      if (!s.closeReason && s.peer && s.seq < snap.seq) {
        this.#guard(s, "broadcast", () => void (bytes += Math.max(0, this.#send(s, ch, snap))));
      }
    }
  }

  /**
   * Sends the newest snapshot to one session if it has not got it (on connect,
   * or after its backlog drained: a lagging client skips to the newest).
   */
  #catchUp(s: Session, ch: Channel, snap: Snapshot): void {
    if (s.seq === 0) this.#resume(s, ch, snap);
    if (s.seq < snap.seq) {
      if (this.#send(s, ch, snap) < 0) return;
    }
    if (this.#runtime.pubsub && !s.inTopic) {
      s.peer!.subscribe(ch.topics[s.format]);
      s.inTopic = true;
    }
  }

  /**
   * Where a new client stands, from its `?lastMod=` (and `?size=`): a version
   * of the current lineage it can be brought forward from, or nothing known.
   * Without a size only the current version counts (an older client that
   * knows no appends then gets the content, as before).
   */
  #resume(s: Session, ch: Channel, snap: Snapshot): void {
    const size = ch.lineage.sizeOf(s.resumeToken, s.resumeSize);
    if (!snap.ok || size === undefined || size > snap.size) return;
    if (s.resumeSize === null ? size !== snap.size : s.resumeSize !== size) return;
    s.lineage = snap.lineage;
    s.size = size;
    s.token = s.resumeToken;
  }

  /** What session `s` needs to hold `snap`. */
  #need(s: Session, snap: Snapshot): Need {
    const need = needOf(s, snap);
    // gorilla's plain clients get the whole file each time, but of a file followed in tail mode.
    return typeof need === "number" && s.format === "plain" && snap.ok && snap.tail === 0 ? "content" : need;
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

  /**
   * Sends to one session what it needs of `snap`: the bytes of the frame
   * sent (0: it needed nothing), or -1 when it is now backed up.
   */
  #send(s: Session, ch: Channel, snap: Snapshot): number {
    const need = this.#need(s, snap);
    const prevToken = s.token ?? "";
    this.#holds(s, snap);
    if (need === null) return 0;
    const from = need === "content" ? undefined : need;
    const ok = s.peer!.send(frameFor(snap, s.format, from, prevToken), this.#options.compress);
    const bytes = this.#count(snap, s.format, 1, from, prevToken);
    if (!ok) this.lag(s, ch, Date.now());
    return ok ? bytes : -1;
  }

  /** Counts `n` sends of one frame; returns the frame's size. */
  #count(snap: Snapshot, format: Format, n: number, from?: number, prevToken?: string): number {
    const bytes = frameSize(snap, format, from, prevToken);
    if (n === 0) return bytes;
    this.#metrics.inc("filewatch_messages_sent_total", {}, n);
    this.#metrics.inc("filewatch_bytes_sent_total", {}, bytes * n);
    return bytes;
  }
}
