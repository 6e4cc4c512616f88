/**
 * Where the per-address state lives (docs/security.md#workers-one-lock-out-for-the-host):
 * the lock-out and the per-address caps must be one for the host, however
 * many processes serve it. {@link AddressLimits} is what the server asks;
 *
 * - {@link LocalLimits}: a lone server keeps the state itself ({@link HostState});
 * - {@link RemoteLimits}: a worker of `--workers` asks its supervisor, which
 *   keeps one {@link HostState} for all workers ({@link HostState.handle}),
 *   over the link of src/worker.ts.
 *
 * A question to the supervisor normally takes well under a millisecond (a
 * line each way over a pipe). It is bounded by {@link LINK_TIMEOUT_MS}:
 * past it, a password check is refused with 503 (fail closed: a slow or
 * stuck supervisor must not let guesses through uncounted), and a slot is
 * counted by this worker alone (each worker still caps what it holds). A
 * worker whose supervisor is gone shuts down (src/worker.ts).
 * @module
 */
import { AddressSlots, LOCKOUT, Lockout, type LockoutPolicy, type Outcome } from "./lockout.ts";
import type { Peer, PeerEvents } from "./runtime/types.ts";
import type { SlotKind, SupervisorLink, ToSupervisor, ToWorker } from "./worker.ts";

/** The longest a worker waits for its supervisor's answer. */
export const LINK_TIMEOUT_MS = 1_000;

/** What a password check or a slot took: given back with {@link AddressLimits.settle} / {@link AddressLimits.release}. */
export interface Ticket {
  readonly ip: string;
  readonly id: number;
  readonly kind: SlotKind | "attempt";
  /** Given back already (a second release is a no-op). */
  done: boolean;
  /** Counted by this process alone (the supervisor did not answer in time). */
  local?: boolean;
}

/** May a password check start? */
export type AttemptAnswer =
  | { ok: true; ticket: Ticket }
  /**
   * 429 `locked` / `busy` (src/lockout.ts), or 503 `unavailable`: the
   * supervisor did not answer in time.
   */
  | { ok: false; status: 429 | 503; why: "locked" | "busy" | "unavailable"; retryAfterS: number };

/** How a password check ended, as the answer to {@link AddressLimits.settle}. */
export interface Settled {
  /** Hold the 401 back this long. */
  delayMs: number;
  /** This failure locked the address out until then (ms since the epoch); 0 otherwise. */
  lockedUntil: number;
}

/** The host's per-address state, as the server asks about it. */
export interface AddressLimits {
  /** How long `ip` is locked out (ms), as far as this process knows; answers at once. */
  lockedFor(ip: string): number;
  /** Lets a password check from `ip` start; it counts as a failure until settled. */
  attempt(ip: string): Promise<AttemptAnswer>;
  settle(ticket: Ticket, outcome: Outcome): Promise<Settled>;
  /** Takes a slot of `kind` for `ip`; null when the address holds its cap already. */
  reserve(kind: SlotKind, ip: string): Promise<Ticket | null>;
  /** Gives a slot back; safe to call twice. */
  release(ticket: Ticket): void;
}

/** Caps per kind: `--max-clients-per-ip` and `--max-requests-per-ip` (0 = none). */
export interface SlotLimits {
  ws: number;
  http: number;
}

/**
 * The state itself: one {@link Lockout} and one {@link AddressSlots} per
 * kind. A lone server uses it through {@link LocalLimits}; a supervisor
 * answers its workers from it ({@link handle}) and gives back what a worker
 * held when it exits ({@link dropWorker}).
 */
export class HostState {
  readonly lockout: Lockout;
  readonly slots: Record<SlotKind, AddressSlots>;
  /** Per worker: what its attempts and slots hold, by the id the worker gave. */
  readonly #held = new Map<number, Map<number, { kind: SlotKind | "attempt"; ip: string }>>();

  constructor(policy: LockoutPolicy, caps: SlotLimits, now: () => number = Date.now) {
    this.lockout = new Lockout(policy, now);
    this.slots = { ws: new AddressSlots(caps.ws), http: new AddressSlots(caps.http) };
  }

  /**
   * Answers one worker's message. Returns the answer for that worker (none
   * for `release`) and, when an address was just locked out, the notice for
   * every worker.
   * @param worker which worker asked (a number the caller keeps per process it started)
   */
  handle(worker: number, m: ToSupervisor): { answer?: ToWorker; notice?: ToWorker } {
    let held = this.#held.get(worker);
    if (!held) this.#held.set(worker, held = new Map());
    switch (m.op) {
      case "attempt": {
        const v = this.lockout.begin(m.ip);
        if (!v.ok) return { answer: { id: m.id, ok: false, why: v.why, retryAfterS: v.retryAfterS } };
        held.set(m.id, { kind: "attempt", ip: m.ip });
        return { answer: { id: m.id, ok: true } };
      }
      case "settle": {
        const h = held.get(m.id);
        if (!h || h.kind !== "attempt") return { answer: { id: m.id, delayMs: 0 } };
        held.delete(m.id);
        const ended = this.lockout.end(h.ip, m.outcome);
        return {
          answer: {
            id: m.id,
            delayMs: ended.delayMs,
            ...(ended.lockedUntil ? { lockedUntil: ended.lockedUntil } : {}),
          },
          ...(ended.lockedUntil ? { notice: { op: "locked", ip: h.ip, until: ended.lockedUntil } } : {}),
        };
      }
      case "reserve": {
        if (!this.slots[m.kind].reserve(m.ip)) return { answer: { id: m.id, ok: false, why: "limit", retryAfterS: 5 } };
        held.set(m.id, { kind: m.kind, ip: m.ip });
        return { answer: { id: m.id, ok: true } };
      }
      case "release": {
        const h = held.get(m.id);
        if (h && h.kind !== "attempt") {
          held.delete(m.id);
          this.slots[h.kind].release(h.ip);
        }
        return {};
      }
    }
  }

  /**
   * A worker exited: its slots are given back, and its password checks
   * still in flight count as failures (a worker that dies mid-check must not
   * be a way to guess uncounted).
   */
  dropWorker(worker: number): void {
    const held = this.#held.get(worker);
    this.#held.delete(worker);
    for (const h of held?.values() ?? []) {
      if (h.kind === "attempt") this.lockout.end(h.ip, "fail");
      else this.slots[h.kind].release(h.ip);
    }
  }
}

/** {@link AddressLimits} of a lone server: the state in this process. */
export class LocalLimits implements AddressLimits {
  readonly state: HostState;
  #next = 0;

  constructor(policy: LockoutPolicy = LOCKOUT, caps: SlotLimits = { ws: 0, http: 0 }, now: () => number = Date.now) {
    this.state = new HostState(policy, caps, now);
  }

  lockedFor(ip: string): number {
    return this.state.lockout.lockedFor(ip);
  }

  attempt(ip: string): Promise<AttemptAnswer> {
    const v = this.state.lockout.begin(ip);
    return Promise.resolve(
      v.ok
        ? { ok: true, ticket: { ip, id: ++this.#next, kind: "attempt", done: false } }
        : { ok: false, status: 429, why: v.why, retryAfterS: v.retryAfterS },
    );
  }

  settle(ticket: Ticket, outcome: Outcome): Promise<Settled> {
    if (ticket.done) return Promise.resolve({ delayMs: 0, lockedUntil: 0 });
    ticket.done = true;
    return Promise.resolve(this.state.lockout.end(ticket.ip, outcome));
  }

  reserve(kind: SlotKind, ip: string): Promise<Ticket | null> {
    return Promise.resolve(this.reserveNow(kind, ip));
  }

  /** {@link reserve} without the promise (the worker's fallback needs it at once). */
  reserveNow(kind: SlotKind, ip: string): Ticket | null {
    return this.state.slots[kind].reserve(ip) ? { ip, id: ++this.#next, kind, done: false } : null;
  }

  release(ticket: Ticket): void {
    if (ticket.done || ticket.kind === "attempt") return;
    ticket.done = true;
    this.state.slots[ticket.kind].release(ticket.ip);
  }
}

/**
 * {@link AddressLimits} of a worker: every question goes to the supervisor.
 * Lock-outs the supervisor announces are remembered here, so a locked-out
 * address is refused without asking.
 */
export class RemoteLimits implements AddressLimits {
  readonly #link: SupervisorLink;
  readonly #timeoutMs: number;
  /** What this worker counts alone when the supervisor does not answer in time. */
  readonly #fallback: LocalLimits;
  readonly #pending = new Map<number, (answer: ToWorker | null) => void>();
  readonly #locked = new Map<string, number>();
  #next = 0;

  constructor(link: SupervisorLink, caps: SlotLimits, timeoutMs = LINK_TIMEOUT_MS) {
    this.#link = link;
    this.#timeoutMs = timeoutMs;
    this.#fallback = new LocalLimits(LOCKOUT, caps);
    link.onMessage((m) => {
      if ("op" in m) {
        this.#locked.set(m.ip, m.until);
        if (this.#locked.size > 10_000) this.#locked.delete(this.#locked.keys().next().value!);
        return;
      }
      const resolve = this.#pending.get(m.id);
      this.#pending.delete(m.id);
      resolve?.(m);
    });
  }

  lockedFor(ip: string): number {
    const until = this.#locked.get(ip);
    if (until === undefined) return 0;
    const left = until - Date.now();
    if (left <= 0) this.#locked.delete(ip);
    return Math.max(0, left);
  }

  async attempt(ip: string): Promise<AttemptAnswer> {
    const id = ++this.#next;
    const a = await this.#ask({ op: "attempt", id, ip });
    if (a === null) {
      // Ends the attempt if the supervisor lets it in later: the pipe keeps the order.
      this.#link.send({ op: "settle", id, outcome: "cancel" });
      return { ok: false, status: 503, why: "unavailable", retryAfterS: 1 };
    }
    if ("ok" in a && a.ok) return { ok: true, ticket: { ip, id, kind: "attempt", done: false } };
    const why = "why" in a && a.why !== "limit" ? a.why : "busy";
    return { ok: false, status: 429, why, retryAfterS: "retryAfterS" in a ? a.retryAfterS : 1 };
  }

  async settle(ticket: Ticket, outcome: Outcome): Promise<Settled> {
    if (ticket.done) return { delayMs: 0, lockedUntil: 0 };
    ticket.done = true;
    const a = await this.#ask({ op: "settle", id: ticket.id, outcome });
    if (a === null || !("delayMs" in a)) return { delayMs: 0, lockedUntil: 0 };
    const lockedUntil = a.lockedUntil ?? 0;
    if (lockedUntil) this.#locked.set(ticket.ip, lockedUntil);
    return { delayMs: a.delayMs, lockedUntil };
  }

  async reserve(kind: SlotKind, ip: string): Promise<Ticket | null> {
    const id = ++this.#next;
    const a = await this.#ask({ op: "reserve", id, kind, ip });
    if (a === null) {
      this.#link.send({ op: "release", id });
      const t = this.#fallback.reserveNow(kind, ip);
      if (t) t.local = true;
      return t;
    }
    return "ok" in a && a.ok ? { ip, id, kind, done: false } : null;
  }

  release(ticket: Ticket): void {
    if (ticket.done) return;
    if (ticket.local) return this.#fallback.release(ticket);
    ticket.done = true;
    this.#link.send({ op: "release", id: ticket.id });
  }

  /** Sends a question and waits for its answer; null after the timeout. */
  #ask(m: ToSupervisor & { id: number }): Promise<ToWorker | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(m.id);
        resolve(null);
      }, this.#timeoutMs);
      this.#pending.set(m.id, (a) => {
        clearTimeout(timer);
        resolve(a);
      });
      try {
        this.#link.send(m);
      } catch {
        clearTimeout(timer);
        this.#pending.delete(m.id);
        resolve(null);
      }
    });
  }
}

/**
 * A connection's events with its slot of the host's per-address WebSocket
 * cap given back when it closes (Deno may report a close twice: the slot
 * goes back once). One object per connection, methods on the prototype.
 */
export class SlotEvents implements PeerEvents {
  constructor(readonly inner: PeerEvents, readonly limits: AddressLimits, readonly slot: Ticket) {}
  onOpen(peer: Peer): void {
    this.inner.onOpen(peer);
  }
  onMessage(bytes: number): void {
    this.inner.onMessage(bytes);
  }
  onPong(): void {
    this.inner.onPong();
  }
  onDrain(): void {
    this.inner.onDrain();
  }
  onClose(code: number, reason: string): void {
    this.inner.onClose(code, reason);
    this.limits.release(this.slot);
  }
}
