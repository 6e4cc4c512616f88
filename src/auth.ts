/**
 * HTTP Basic authentication from an htpasswd file of bcrypt hashes
 * (docs/security.md#authentication), as one Hono middleware for every route but the probes.
 *
 * - Credentials are checked by Hono's `basicAuth` with a `verifyUser` of our
 *   own: bcrypt (bcryptjs, pure JS, the same on both runtimes) against the
 *   file's hash, or against a dummy hash of the same cost for an unknown
 *   user, so both cost the same.
 * - A bcrypt costs tens of milliseconds, and a page load makes several
 *   requests (page, socket, reconnects): verified credentials are remembered
 *   per user as an HMAC of the password under a per-process key, compared in
 *   constant time, for {@link CACHE_TTL_MS}.
 * - Failures are counted per client address: after {@link LockoutPolicy.slowAfter}
 *   the 401 is delayed, after {@link LockoutPolicy.limit} within the window
 *   the address gets 429 with `Retry-After` for the lock-out time, whatever it sends.
 * @module
 */
import bcrypt from "bcryptjs";
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { basicAuth } from "hono/basic-auth";
import { HTTPException } from "hono/http-exception";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";

/** The realm browsers show in their prompt. */
export const REALM = "filewatch";
/** How long verified credentials are remembered. */
export const CACHE_TTL_MS = 5 * 60_000;
/** A longer Authorization header is refused before it is parsed (a password is at most 72 bytes to bcrypt). */
export const MAX_HEADER_BYTES = 4096;
/** bcrypts running at once; more wait, so a burst of guesses cannot take every core. */
const MAX_CONCURRENT = 2;
/** Addresses whose failures are remembered; the oldest are forgotten first. */
const MAX_TRACKED = 10_000;

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
    const cost = Number(hash.slice(4, 6));
    if (cost < 4 || cost > 31) throw new RangeError(`${at}: user "${user}" has a bcrypt cost of ${cost} (4 to 31)`);
    if (users.has(user)) throw new RangeError(`${at}: user "${user}" is listed twice`);
    users.set(user, hash);
  }
  if (users.size === 0) throw new RangeError("no users in it (expected user:$2y$… lines, as htpasswd -B writes)");
  return users;
}

/** When repeated failures slow an address down and then lock it out. */
export interface LockoutPolicy {
  /** Failures within `window` that lock the address out. */
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

/** What {@link authenticate} needs. */
export interface AuthOptions {
  users: Users;
  /** Paths (as the app sees them) open without credentials: the probes. */
  open: readonly string[];
  /** The client's address (after the trusted-proxy rules). */
  clientAddress: (c: Parameters<MiddlewareHandler>[0]) => string;
  metrics: Metrics;
  log: Logger;
  policy?: LockoutPolicy;
  now?: () => number;
}

interface Failures {
  /** Times of recent failures, oldest first. */
  times: number[];
  lockedUntil: number;
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
  metrics.define("filewatch_auth_locked_total", "counter", "Requests refused with 429 from a locked-out address.");
}

/**
 * The authentication middleware. Put it in front of every route; it lets
 * `open` paths through untouched.
 *
 * @example
 * ```ts
 * app.use("*", authenticate({ users: parseHtpasswd(text), open: ["/healthz", "/readyz"], clientAddress, metrics, log }));
 * ```
 */
export function authenticate(opts: AuthOptions): MiddlewareHandler {
  const policy = opts.policy ?? LOCKOUT;
  const now = opts.now ?? Date.now;
  const { users, metrics, log } = opts;
  const open = new Set(opts.open);
  // An unknown user is checked against this, at the cost of the file's dearest hash.
  const cost = Math.max(...[...users.values()].map((h) => Number(h.slice(4, 6))));
  const dummy = bcrypt.hashSync(randomBytes(12).toString("hex"), cost);
  const key = randomBytes(32);
  const mac = (password: string) => createHmac("sha256", key).update(password).digest();
  const verified = new Map<string, { mac: Buffer; until: number }>();
  const failures = new Map<string, Failures>();
  let running = 0;
  const queue: Array<() => void> = [];

  const bcryptCompare = async (password: string, hash: string): Promise<boolean> => {
    if (running >= MAX_CONCURRENT) await new Promise<void>((r) => queue.push(r));
    running++;
    try {
      return await bcrypt.compare(password, hash);
    } finally {
      running--;
      queue.shift()?.();
    }
  };

  const verify = async (user: string, password: string): Promise<boolean> => {
    if (password === "") return false;
    const hash = users.get(user);
    const m = mac(password);
    const hit = hash !== undefined ? verified.get(user) : undefined;
    if (hit && hit.until > now() && timingSafeEqual(hit.mac, m)) return true;
    const ok = await bcryptCompare(password, hash ?? dummy);
    if (ok && hash !== undefined) {
      verified.set(user, { mac: m, until: now() + CACHE_TTL_MS });
      return true;
    }
    return false;
  };

  const basic = basicAuth({ realm: REALM, verifyUser: (u, p) => verify(u, p), invalidUserMessage: "Unauthorized\n" });

  const lockedFor = (ip: string): number => {
    const f = failures.get(ip);
    return f ? f.lockedUntil - now() : 0;
  };

  /** Records a failure; returns how long to hold the 401 back. */
  const fail = (ip: string, reason: "bad_credentials" | "malformed"): number => {
    metrics.inc("filewatch_auth_failures_total", { reason });
    const t = now();
    let f = failures.get(ip);
    if (f) failures.delete(ip); // re-inserted below: the map stays in order of last failure
    else f = { times: [], lockedUntil: 0 };
    f.times = f.times.filter((x) => x > t - policy.window);
    f.times.push(t);
    failures.set(ip, f);
    if (failures.size > MAX_TRACKED) failures.delete(failures.keys().next().value!);
    if (f.times.length >= policy.limit && f.lockedUntil <= t) {
      f.lockedUntil = t + policy.lockout;
      f.times = [];
      metrics.inc("filewatch_auth_lockouts_total");
      log.warn("too many failed logins: address locked out", { ip, seconds: Math.ceil(policy.lockout / 1000) });
      return 0;
    }
    const over = f.times.length - policy.slowAfter;
    return over > 0 ? Math.min(policy.slowMax, over * policy.slowStep) : 0;
  };

  return async (c, next) => {
    if (open.has(c.req.path)) return await next();
    const ip = opts.clientAddress(c);
    const locked = lockedFor(ip);
    if (locked > 0) {
      metrics.inc("filewatch_auth_locked_total");
      const s = Math.ceil(locked / 1000);
      return c.text(`Too Many Requests: too many failed logins from ${ip}; try again in ${s}s\n`, 429, {
        "Retry-After": String(s),
      });
    }
    const header = c.req.header("authorization");
    if (header !== undefined && header.length > MAX_HEADER_BYTES) {
      await delay(fail(ip, "malformed"));
      return c.text(`Bad Request: Authorization header longer than ${MAX_HEADER_BYTES} bytes\n`, 400);
    }
    let passed = false;
    try {
      await basic(c, async () => {
        passed = true;
        failures.delete(ip);
        await next();
      });
    } catch (e) {
      if (passed || !(e instanceof HTTPException) || e.status !== 401) throw e;
      if (header !== undefined) {
        // A header that is there but is not `Basic base64(user:password)` is a failure too.
        const wellFormed = /^ *basic +[A-Za-z0-9._~+/-]+=* *$/i.test(header!);
        await delay(fail(ip, wellFormed ? "bad_credentials" : "malformed"));
      }
      return e.getResponse();
    }
  };
}

const delay = (ms: number) => ms > 0 ? new Promise<void>((r) => setTimeout(r, ms)) : Promise.resolve();
