/**
 * HTTP Basic authentication from an htpasswd file of bcrypt hashes
 * (docs/security.md#authentication), as one Hono middleware for every route but the probes.
 *
 * - Credentials are parsed with Hono's Basic helper and checked with
 *   bcrypt (bcryptjs, pure JS, the same on both runtimes). Every check costs
 *   what the file's dearest hash costs, whoever the user is
 *   ({@link PasswordChecker}), so timing tells nothing about which user
 *   names exist.
 * - A bcrypt costs tens of milliseconds, and a page load makes several
 *   requests (page, socket, reconnects): verified credentials are remembered
 *   per user as an HMAC of the password under a per-process key, compared in
 *   constant time, for {@link CACHE_TTL_MS}. Only such a remembered right
 *   password skips the check.
 * - Every other request with credentials is an attempt: the lock-out
 *   (src/lockout.ts, kept by {@link AddressLimits}: this process, or the
 *   supervisor of `--workers`) lets it in or refuses it with 429 before
 *   anything is checked, and counts it as a failure until it is decided. So
 *   at most {@link LockoutPolicy.limit} passwords per address are checked per
 *   window, however many arrive at once; a success lifts no lock.
 * - At most {@link MAX_CONCURRENT} checks run at once and
 *   {@link MAX_QUEUED} wait; beyond that 503 with `Retry-After`, so a burst
 *   from many addresses cannot queue unbounded work.
 * @module
 */
import bcrypt from "bcryptjs";
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import { auth as parseBasic } from "hono/utils/basic-auth";
import type { AddressLimits, Ticket } from "./limits.ts";
import { LOCKOUT, type LockoutPolicy, type Outcome, scaledLockout } from "./lockout.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";

export { LOCKOUT, type LockoutPolicy, scaledLockout };

/** The realm browsers show in their prompt. */
export const REALM = "filewatch";
/** How long verified credentials are remembered. */
export const CACHE_TTL_MS = 5 * 60_000;
/** A longer Authorization header is refused before it is parsed (a password is at most 72 bytes to bcrypt). */
export const MAX_HEADER_BYTES = 4096;
/** Password checks running at once; more wait, so a burst of guesses cannot take every core. */
export const MAX_CONCURRENT = 2;
/**
 * Checks that may wait for a turn; more get 503. Each address has at most
 * {@link LockoutPolicy.limit} in flight, so this bounds what many addresses
 * together can queue: at cost 12 (~0.5 s in bcryptjs here) the last waits ~8 s.
 */
export const MAX_QUEUED = 32;

/** The users of an htpasswd file: name → bcrypt hash. */
export type Users = Map<string, string>;

/**
 * Parses an htpasswd file: `user:$2y$cost$…` lines (also `$2a$`, `$2b$`),
 * blank lines and `#` comments.
 * @throws {RangeError} naming the line, for anything else (another hash kind,
 *   a malformed line, a duplicate user, no users)
 */
export function parseHtpasswd(text: string): Users {
  const users: Users = new Map();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "" || line.startsWith("#")) continue;
    const colon = line.indexOf(":");
    const user = colon < 0 ? "" : line.slice(0, colon);
    const hash = colon < 0 ? "" : line.slice(colon + 1);
    const at = `line ${i + 1}`;
    if (user === "") throw new RangeError(`${at}: expected user:hash`);
    if (!/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash)) {
      const kind = hash.startsWith("$apr1$")
        ? "an MD5 ($apr1$) hash"
        : hash.startsWith("{SHA}")
        ? "a SHA-1 ({SHA}) hash"
        : /^\$[156]\$/.test(hash)
        ? "a crypt() hash"
        : "not a bcrypt hash";
      throw new RangeError(`${at}: user "${user}" has ${kind}; only bcrypt is accepted (make it with htpasswd -B)`);
    }
    const cost = costOf(hash);
    if (cost < 4 || cost > 31) throw new RangeError(`${at}: user "${user}" has a bcrypt cost of ${cost} (4 to 31)`);
    if (users.has(user)) throw new RangeError(`${at}: user "${user}" is listed twice`);
    users.set(user, hash);
  }
  if (users.size === 0) throw new RangeError("no users in it (expected user:$2y$… lines, as htpasswd -B writes)");
  return users;
}

/** A bcrypt hash's cost (`$2y$12$…` → 12). */
const costOf = (hash: string) => Number(hash.slice(4, 6));

const BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/**
 * A hash no password matches, at `cost`: a random salt and digest. bcrypt
 * spends the cost's work on any well-formed hash before comparing, so this
 * costs what a real one costs, without hashing anything at start-up.
 */
function decoyHash(cost: number): string {
  const bytes = randomBytes(53);
  const tail = Array.from(bytes, (b) => BCRYPT_ALPHABET[b & 63]).join("");
  return `$2b$${String(cost).padStart(2, "0")}$${tail}`;
}

/**
 * Checks passwords so that every check costs what the file's dearest hash
 * costs. bcrypt's work doubles with each step of cost, so a user at cost
 * `c` below the dearest `max` is checked against their hash and then against
 * decoys of cost c, c+1, … max−1 (2^c + 2^c + … + 2^(max−1) = 2^max); an
 * unknown user against one decoy of cost `max`. What is left apart is each
 * bcrypt's small fixed set-up, a fraction of a percent at the costs in use.
 */
export class PasswordChecker {
  readonly #users: Users;
  readonly #max: number;
  /** Decoys by cost, up to the dearest. */
  readonly #decoys = new Map<number, string>();

  constructor(users: Users) {
    this.#users = users;
    this.#max = Math.max(...[...users.values()].map(costOf));
    for (let c = Math.min(...[...users.values()].map(costOf)); c <= this.#max; c++) this.#decoys.set(c, decoyHash(c));
  }

  /** The dearest cost in the file, which every check pays. */
  get cost(): number {
    return this.#max;
  }

  /** Whether `password` is `user`'s, at the cost of the dearest hash whoever asks. */
  async check(user: string, password: string): Promise<boolean> {
    const hash = this.#users.get(user);
    if (hash === undefined) {
      await bcrypt.compare(password, this.#decoys.get(this.#max)!);
      return false;
    }
    const ok = await bcrypt.compare(password, hash);
    for (let c = costOf(hash); c < this.#max; c++) await bcrypt.compare(password, this.#decoys.get(c)!);
    return ok;
  }
}

/** What {@link authenticate} needs. */
export interface AuthOptions {
  users: Users;
  /** Paths (as the app sees them) open without credentials: the probes. */
  open: readonly string[];
  /** The client's address (after the trusted-proxy rules). */
  clientAddress: (c: Context) => string;
  /** Where the lock-out is kept: this process, or the supervisor of `--workers` (src/limits.ts). */
  limits: AddressLimits;
  metrics: Metrics;
  log: Logger;
  now?: () => number;
}

/** Declares the auth metrics on `metrics` (call once). */
export function defineAuthMetrics(metrics: Metrics): void {
  metrics.define(
    "filewatch_auth_failures_total",
    "counter",
    "Requests refused for wrong or malformed credentials, by reason.",
    undefined,
    [{ reason: "bad_credentials" }, { reason: "malformed" }],
  );
  metrics.define("filewatch_auth_lockouts_total", "counter", "Client addresses locked out after repeated failures.");
  metrics.define(
    "filewatch_auth_locked_total",
    "counter",
    "Requests refused with 429: from a locked-out address, or over its attempts in flight.",
  );
  metrics.define(
    "filewatch_auth_unavailable_total",
    "counter",
    "Requests refused with 503 before their password was checked: the queue of checks was full, or the supervisor did not answer.",
  );
}

/**
 * The authentication middleware. Put it in front of every route; it lets
 * `open` paths through untouched.
 *
 * @example
 * ```ts
 * const limits = new LocalLimits();
 * app.use("*", authenticate({ users: parseHtpasswd(text), open: ["/healthz", "/readyz"], clientAddress, limits, metrics, log }));
 * ```
 */
export function authenticate(opts: AuthOptions): MiddlewareHandler {
  const now = opts.now ?? Date.now;
  const { users, metrics, log, limits } = opts;
  const open = new Set(opts.open);
  const checker = new PasswordChecker(users);
  const key = randomBytes(32);
  const mac = (password: string) => createHmac("sha256", key).update(password).digest();
  const verified = new Map<string, { mac: Buffer; until: number }>();
  let running = 0;
  const queue: Array<() => void> = [];

  /** Runs a check when a turn is free; null when too many are waiting already. */
  const checkInTurn = async (user: string, password: string): Promise<boolean | null> => {
    if (running >= MAX_CONCURRENT) {
      if (queue.length >= MAX_QUEUED) return null;
      await new Promise<void>((r) => queue.push(r));
    }
    running++;
    try {
      return await checker.check(user, password);
    } finally {
      running--;
      queue.shift()?.();
    }
  };

  const remembered = (user: string, password: string): boolean => {
    const hit = users.has(user) ? verified.get(user) : undefined;
    return !!hit && hit.until > now() && timingSafeEqual(hit.mac, mac(password));
  };

  const unauthorized = (c: Context) => c.text("Unauthorized\n", 401, { "WWW-Authenticate": `Basic realm="${REALM}"` });
  const tooMany = (c: Context, ip: string, s: number, busy: boolean) => {
    metrics.inc("filewatch_auth_locked_total");
    const why = busy ? `too many login attempts from ${ip} at once` : `too many failed logins from ${ip}`;
    return c.text(`Too Many Requests: ${why}; try again in ${s}s\n`, 429, { "Retry-After": String(s) });
  };
  const unavailable = (c: Context, s: number) => {
    metrics.inc("filewatch_auth_unavailable_total");
    return c.text(`Service Unavailable: too many logins being checked; try again in ${s}s\n`, 503, {
      "Retry-After": String(s),
    });
  };

  /** Ends an attempt; for a failure counts it, logs a lock-out, and holds the answer back as the lock-out says. */
  const settle = async (ip: string, ticket: Ticket, outcome: Outcome, reason?: "bad_credentials" | "malformed") => {
    const { delayMs, lockedUntil } = await limits.settle(ticket, outcome);
    if (outcome !== "fail") return;
    metrics.inc("filewatch_auth_failures_total", { reason: reason ?? "bad_credentials" });
    if (lockedUntil) {
      metrics.inc("filewatch_auth_lockouts_total");
      log.warn("too many failed logins: address locked out", {
        ip,
        seconds: Math.ceil((lockedUntil - now()) / 1000),
      });
    }
    await delay(delayMs);
  };

  return async (c, next) => {
    if (open.has(c.req.path)) return await next();
    const ip = opts.clientAddress(c);
    const locked = limits.lockedFor(ip);
    if (locked > 0) return tooMany(c, ip, Math.ceil(locked / 1000), false);
    const header = c.req.header("authorization");
    // No credentials at all is how every browser starts: asked for, not counted.
    if (header === undefined) return unauthorized(c);
    const creds = header.length > MAX_HEADER_BYTES ? undefined : parseBasic(c.req.raw);
    if (creds && creds.password !== "" && remembered(creds.username, creds.password)) return await next();

    const gate = await limits.attempt(ip);
    if (!gate.ok) {
      return gate.status === 429 ? tooMany(c, ip, gate.retryAfterS, gate.why === "busy") : unavailable(c, 1);
    }
    const { ticket } = gate;
    if (header.length > MAX_HEADER_BYTES) {
      await settle(ip, ticket, "fail", "malformed");
      return c.text(`Bad Request: Authorization header longer than ${MAX_HEADER_BYTES} bytes\n`, 400);
    }
    if (!creds || creds.password === "") {
      // A header that is there but is not `Basic base64(user:password)` is a failure too.
      const wellFormed = /^ *basic +[A-Za-z0-9._~+/-]+=* *$/i.test(header);
      await settle(ip, ticket, "fail", wellFormed ? "bad_credentials" : "malformed");
      return unauthorized(c);
    }
    let ok: boolean | null;
    try {
      ok = await checkInTurn(creds.username, creds.password);
    } catch (e) {
      await limits.settle(ticket, "cancel");
      throw e;
    }
    if (ok === null) {
      await limits.settle(ticket, "cancel");
      return unavailable(c, Math.max(1, Math.ceil(MAX_QUEUED / MAX_CONCURRENT / 4)));
    }
    if (!ok) {
      await settle(ip, ticket, "fail", "bad_credentials");
      return unauthorized(c);
    }
    await settle(ip, ticket, "ok");
    verified.set(creds.username, { mac: mac(creds.password), until: now() + CACHE_TTL_MS });
    await next();
  };
}

const delay = (ms: number) => ms > 0 ? new Promise<void>((r) => setTimeout(r, ms)) : Promise.resolve();
