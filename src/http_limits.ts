/**
 * `--max-requests-per-ip` (docs/security.md#http-bounded): how many HTTP
 * requests one address may have in progress at once, the probes never
 * counted. A request is in progress from its arrival until its response has
 * been sent: for a streamed body (the page, `/raw`) until the body is read
 * to its end or the client goes, so a client that asks and never reads
 * holds its slot. The count is kept where the lock-out is
 * (src/limits.ts): with `--workers`, one for the host.
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import type { AddressLimits, Ticket } from "./limits.ts";

/** How long a refused client is told to wait. */
const RETRY_AFTER_S = 1;

/** The context variable holding the request's slot. */
const SLOT = "httpSlot";

interface Slot {
  ticket: Ticket;
  /** A handler took the slot over: its body gives it back when sent. */
  taken: boolean;
}

/** What {@link capRequests} needs. */
export interface CapOptions {
  limits: AddressLimits;
  /** `--max-requests-per-ip`; 0 = no cap (nothing is counted). */
  max: number;
  /** The client's address (after the trusted-proxy rules). */
  clientAddress: (c: Context) => string;
  /** Paths never counted: the probes. */
  open: readonly string[];
  /** Counts a refusal (a metric). */
  onRefused?: () => void;
}

/**
 * Middleware that refuses with 429 and `Retry-After` a request from an
 * address that has `max` in progress already. A handler whose response body
 * is streamed gives the slot to the body with {@link whenSent}; any other
 * request gives it back when its handler returns.
 */
export function capRequests(opts: CapOptions): MiddlewareHandler {
  const open = new Set(opts.open);
  return async (c, next) => {
    if (opts.max <= 0 || open.has(c.req.path)) return await next();
    const ip = opts.clientAddress(c);
    const ticket = await opts.limits.reserve("http", ip);
    if (!ticket) {
      opts.onRefused?.();
      return c.text(`Too Many Requests: ${opts.max} requests from ${ip} in progress already\n`, 429, {
        "Retry-After": String(RETRY_AFTER_S),
      });
    }
    const slot: Slot = { ticket, taken: false };
    c.set(SLOT as never, slot as never);
    try {
      await next();
    } finally {
      // Hono turns a handler's throw into the error response: the body never streams then.
      if (!slot.taken || c.error) opts.limits.release(ticket);
    }
  };
}

/**
 * For a handler that streams its response: the function its body calls once
 * it has been sent (or cancelled), which gives the request's slot back. A
 * no-op when the request holds none (no cap, a probe, a HEAD whose body is
 * never read: the slot then goes back when the handler returns).
 */
export function whenSent(c: Context, limits: AddressLimits): () => void {
  const slot = c.get(SLOT as never) as Slot | undefined;
  if (!slot || c.req.method === "HEAD") return () => {};
  slot.taken = true;
  return () => limits.release(slot.ticket);
}

/**
 * `res` with its body given the request's slot ({@link whenSent}): the slot
 * goes back when the body has been read to its end, fails, or is cancelled.
 */
export function sentBy(c: Context, limits: AddressLimits, res: Response): Response {
  if (res.body === null || c.req.method === "HEAD") return res;
  const done = whenSent(c, limits);
  const reader = res.body.getReader();
  let finished = false;
  const finish = () => {
    if (!finished) {
      finished = true;
      done();
    }
  };
  const body = new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      try {
        const { done: end, value } = await reader.read();
        if (end) {
          ctrl.close();
          finish();
        } else ctrl.enqueue(value);
      } catch (e) {
        finish();
        ctrl.error(e);
      }
    },
    async cancel(reason) {
      finish();
      await reader.cancel(reason).catch(() => {});
    },
  }, { highWaterMark: 0 });
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}
