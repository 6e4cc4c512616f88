/**
 * The per-address state behind authentication and the per-address caps
 * (docs/security.md#authentication), with no HTTP in it, so that one process
 * can keep it for a whole host: the server itself, or the supervisor of
 * `--workers` (src/limits.ts carries the questions to it).
 *
 * - {@link Lockout}: how many passwords an address may have checked. An
 *   attempt counts from the moment it is let in until it is decided
 *   ({@link Lockout.begin} … {@link Lockout.end}), so parallel requests
 *   cannot get more checks than sequential ones; a success never lifts a lock
 *   and never erases failures.
 * - {@link AddressSlots}: how many things (WebSocket connections, HTTP
 *   requests in progress) one address holds at once.
 * @module
 */

/** When repeated failures slow an address down and then lock it out. */
export interface LockoutPolicy {
  /** Attempts (failed, or in flight) within `window` that an address may have; the failure that reaches it locks. */
  limit: number;
  window: number;
  /** How long a locked-out address gets 429. */
  lockout: number;
  /** Failures after which each 401 is delayed… */
  slowAfter: number;
  /** …by this much per further failure, */
  slowStep: number;
  /** …at most this much. */
  slowMax: number;
}

/** The documented defaults (docs/security.md#authentication): locked after 10 failures within a minute, for a minute. */
export const LOCKOUT: LockoutPolicy = {
  limit: 10,
  window: 60_000,
  lockout: 60_000,
  slowAfter: 3,
  slowStep: 250,
  slowMax: 2_000,
};

/** {@link LOCKOUT} with every duration scaled to a `lockout` of `ms` (for tests that cannot wait a minute). */
export function scaledLockout(ms: number): LockoutPolicy {
  const k = ms / LOCKOUT.lockout;
  return {
    ...LOCKOUT,
    window: ms,
    lockout: ms,
    slowStep: Math.round(LOCKOUT.slowStep * k),
    slowMax: Math.round(LOCKOUT.slowMax * k),
  };
}

/** Addresses whose attempts are remembered; the least recently failed are forgotten first. */
export const MAX_TRACKED = 10_000;

/** Whether a password check may start, and if not, why and for how long. */
export type AttemptVerdict =
  | { ok: true }
  /** `locked`: the address is locked out; `busy`: its attempts in flight and failures already reach the limit. */
  | { ok: false; why: "locked" | "busy"; retryAfterS: number };

/** How an attempt ended: a right password, a wrong one (or a malformed header), or not checked at all. */
export type Outcome = "ok" | "fail" | "cancel";

/** What {@link Lockout.end} reports. */
export interface Ended {
  /** Hold the 401 back this long (the slow-down). */
  delayMs: number;
  /** This failure locked the address out, until this time (ms on the lock-out's clock); else 0. */
  lockedUntil: number;
}

interface Entry {
  /** Times of failures within the window, oldest first. */
  failures: number[];
  inFlight: number;
  lockedUntil: number;
}

/**
 * The lock-out: at most {@link LockoutPolicy.limit} passwords per address are
 * checked within a window, counting those being checked now.
 *
 * @example
 * ```ts
 * const l = new Lockout(LOCKOUT);
 * if (l.begin(ip).ok) {
 *   const ok = await bcrypt.compare(password, hash);
 *   const { delayMs } = l.end(ip, ok ? "ok" : "fail");
 * }
 * ```
 */
export class Lockout {
  readonly policy: LockoutPolicy;
  readonly #now: () => number;
  readonly #max: number;
  /** In order of the last failure (re-inserted on each), so the first is the one to forget. */
  readonly #entries = new Map<string, Entry>();

  constructor(policy: LockoutPolicy = LOCKOUT, now: () => number = Date.now, maxTracked = MAX_TRACKED) {
    this.policy = policy;
    this.#now = now;
    this.#max = maxTracked;
  }

  /** How long `ip` stays locked out, in ms (0 when it is not). */
  lockedFor(ip: string): number {
    const e = this.#entries.get(ip);
    return e ? Math.max(0, e.lockedUntil - this.#now()) : 0;
  }

  /**
   * Lets one password check from `ip` start, or says why not. A check let in
   * counts as a failure until {@link end} says otherwise.
   */
  begin(ip: string): AttemptVerdict {
    const t = this.#now();
    const e = this.#entries.get(ip) ?? { failures: [], inFlight: 0, lockedUntil: 0 };
    if (e.lockedUntil > t) return { ok: false, why: "locked", retryAfterS: Math.ceil((e.lockedUntil - t) / 1000) };
    e.failures = e.failures.filter((x) => x > t - this.policy.window);
    if (e.failures.length + e.inFlight >= this.policy.limit) {
      // Free again when the oldest failure leaves the window, or when a check in flight succeeds.
      const first = e.failures[0];
      const s = first === undefined ? 1 : Math.ceil((first + this.policy.window - t) / 1000);
      return { ok: false, why: "busy", retryAfterS: Math.max(1, s) };
    }
    e.inFlight++;
    if (!this.#entries.has(ip)) this.#track(ip, e);
    return { ok: true };
  }

  /**
   * Ends a check {@link begin} let in. A failure is recorded (and may lock
   * the address out); a success only ends the attempt: it lifts no lock and
   * erases no failure, since the address may be shared (a NAT, a proxy
   * without --trust-proxy) and one person's right password must not reset
   * another's guesses. `cancel` (never checked) ends it without a trace.
   */
  end(ip: string, outcome: Outcome): Ended {
    const e = this.#entries.get(ip);
    if (!e) return { delayMs: 0, lockedUntil: 0 };
    e.inFlight = Math.max(0, e.inFlight - 1);
    if (outcome !== "fail") return { delayMs: 0, lockedUntil: 0 };
    const t = this.#now();
    e.failures = e.failures.filter((x) => x > t - this.policy.window);
    e.failures.push(t);
    this.#entries.delete(ip);
    this.#track(ip, e);
    if (e.failures.length >= this.policy.limit && e.lockedUntil <= t) {
      e.lockedUntil = t + this.policy.lockout;
      e.failures = [];
      return { delayMs: 0, lockedUntil: e.lockedUntil };
    }
    const over = e.failures.length - this.policy.slowAfter;
    return { delayMs: over > 0 ? Math.min(this.policy.slowMax, over * this.policy.slowStep) : 0, lockedUntil: 0 };
  }

  /** Addresses remembered (for tests and metrics). */
  get size(): number {
    return this.#entries.size;
  }

  #track(ip: string, e: Entry): void {
    this.#entries.set(ip, e);
    if (this.#entries.size <= this.#max) return;
    // Forget the least recently failed address that has nothing in flight: an attempt let in is always ended.
    for (const [key, old] of this.#entries) {
      if (old.inFlight === 0 && key !== ip) {
        this.#entries.delete(key);
        return;
      }
    }
  }
}

/**
 * Counts what each address holds (connections, requests in progress) against
 * a cap; `limit` 0 = no cap (nothing is counted).
 */
export class AddressSlots {
  readonly #held = new Map<string, number>();
  constructor(readonly limit: number) {}

  /** Takes a slot for `ip`; false when it already holds `limit`. */
  reserve(ip: string): boolean {
    if (this.limit <= 0) return true;
    const n = this.#held.get(ip) ?? 0;
    if (n >= this.limit) return false;
    this.#held.set(ip, n + 1);
    return true;
  }

  /** Gives back a slot {@link reserve} took. */
  release(ip: string): void {
    if (this.limit <= 0) return;
    const n = (this.#held.get(ip) ?? 1) - 1;
    if (n <= 0) this.#held.delete(ip);
    else this.#held.set(ip, n);
  }

  /** Slots `ip` holds. */
  held(ip: string): number {
    return this.#held.get(ip) ?? 0;
  }
}
