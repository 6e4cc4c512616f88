/**
 * Trusted reverse proxies (docs/security.md#trusted-proxies): CIDR parsing and matching for IPv4
 * and IPv6, and what a request's `X-Forwarded-*` headers may be believed
 * for. From a peer inside `--trust-proxy`, `X-Forwarded-For` gives the client
 * address (the per-IP cap, the logs) and `X-Forwarded-Host`/`-Proto` the
 * origin the browser saw (the same-origin check); from anyone else they are
 * ignored, so a client cannot name its own address.
 *
 * Written here rather than taken from npm: `proxy-addr` and `ipaddr.js` are
 * Node-first CommonJS packages, and what is needed is ~100 lines.
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import type { Runtime } from "./runtime/types.ts";

/** One parsed `--trust-proxy` entry. */
export interface Cidr {
  /** 4 or 6. */
  family: 4 | 6;
  /** The network address, as a 32- or 128-bit number. */
  bits: bigint;
  prefix: number;
  /** As given (for logs and errors). */
  text: string;
}

/** An address as a number with its family; null when `text` is not an IP address. */
export function parseIp(text: string): { family: 4 | 6; bits: bigint } | null {
  let t = text.trim();
  if (t.startsWith("[") && t.endsWith("]")) t = t.slice(1, -1);
  const zone = t.indexOf("%");
  if (zone >= 0) t = t.slice(0, zone);
  const v4 = parseIpv4(t);
  if (v4 !== null) return { family: 4, bits: v4 };
  const v6 = parseIpv6(t);
  if (v6 === null) return null;
  // An IPv4-mapped IPv6 address (::ffff:a.b.c.d, as a dual-stack socket reports an IPv4 peer) is that IPv4 address.
  if (v6 >> 32n === 0xffffn) return { family: 4, bits: v6 & 0xffffffffn };
  return { family: 6, bits: v6 };
}

function parseIpv4(t: string): bigint | null {
  const parts = t.split(".");
  if (parts.length !== 4) return null;
  let n = 0n;
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return null;
    n = (n << 8n) | BigInt(p);
  }
  return n;
}

function parseIpv6(t: string): bigint | null {
  if (!/^[0-9a-fA-F:.]+$/.test(t) || t.length > 45) return null;
  const halves = t.split("::");
  if (halves.length > 2) return null;
  const groups = (s: string): number[] | null => {
    if (s === "") return [];
    const out: number[] = [];
    const parts = s.split(":");
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i === parts.length - 1 && p.includes(".")) {
        const v4 = parseIpv4(p);
        if (v4 === null) return null;
        out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) out.push(parseInt(p, 16));
      else return null;
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return null;
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return null;
  let n = 0n;
  for (const g of [...head, ...new Array<number>(fill).fill(0), ...tail]) n = (n << 16n) | BigInt(g);
  return n;
}

/**
 * Parses one CIDR (`10.0.0.0/8`, `fd00::/8`) or a bare address (a /32 or /128).
 * @throws {RangeError} when it is neither
 */
export function parseCidr(text: string): Cidr {
  const t = text.trim();
  const slash = t.indexOf("/");
  const ip = parseIp(slash < 0 ? t : t.slice(0, slash));
  if (!ip) throw new RangeError("expected an IP address or a CIDR like 10.0.0.0/8 or fd00::/8");
  const width = ip.family === 4 ? 32 : 128;
  const p = slash < 0 ? String(width) : t.slice(slash + 1);
  if (!/^\d{1,3}$/.test(p) || Number(p) > width) {
    throw new RangeError(`expected a prefix length from 0 to ${width} after "/"`);
  }
  const prefix = Number(p);
  const mask = prefix === 0 ? 0n : ((1n << BigInt(prefix)) - 1n) << BigInt(width - prefix);
  return { family: ip.family, bits: ip.bits & mask, prefix, text: t };
}

/**
 * Parses `--trust-proxy`'s comma-separated list.
 * @throws {RangeError} naming the bad entry
 */
export function parseCidrList(text: string): Cidr[] {
  const out: Cidr[] = [];
  for (const entry of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    try {
      out.push(parseCidr(entry));
    } catch (e) {
      throw new RangeError(`"${entry}": ${(e as Error).message}`);
    }
  }
  if (out.length === 0) throw new RangeError("expected at least one address or CIDR");
  return out;
}

/** Whether `address` is inside any of `cidrs`. */
export function isTrusted(address: string, cidrs: readonly Cidr[]): boolean {
  const ip = parseIp(address);
  if (!ip) return false;
  return cidrs.some((c) => {
    if (c.family !== ip.family) return false;
    const width = c.family === 4 ? 32 : 128;
    return (ip.bits >> BigInt(width - c.prefix)) === (c.bits >> BigInt(width - c.prefix));
  });
}

/** One `X-Forwarded-For` entry without a port (`1.2.3.4:5678`, `[::1]:80`), or null when it is not an address. */
function forwardedAddress(entry: string): string | null {
  let e = entry.trim();
  const bracket = /^\[([^\]]+)\](?::\d+)?$/.exec(e);
  if (bracket) e = bracket[1]!;
  else if (/^[\d.]+:\d+$/.test(e)) e = e.slice(0, e.lastIndexOf(":"));
  const ip = parseIp(e);
  if (!ip) return null;
  return e.toLowerCase();
}

/** Who a request comes from, after the trusted-proxy rules. */
export interface Client {
  /** The client's address: the peer's, or the one a trusted proxy forwarded. */
  ip: string;
  /** The Host the browser used (`X-Forwarded-Host` from a trusted proxy, else `Host`). */
  host: string | undefined;
  /** `http` or `https` when a trusted proxy said so (`X-Forwarded-Proto`); undefined otherwise. */
  proto: string | undefined;
}

/** The last value of a comma-separated header: the one the nearest proxy added. */
const lastOf = (v: string | undefined) => v?.split(",").map((s) => s.trim()).filter(Boolean).at(-1);

/**
 * Applies the rules to one request: `peer` is the TCP peer's address,
 * `header` reads a request header. The client is the right-most address in
 * `X-Forwarded-For` that is not itself a trusted proxy (addresses to its left
 * were written by the client and prove nothing).
 *
 * @example
 * ```ts
 * const trusted = parseCidrList("127.0.0.1/32");
 * clientOf("127.0.0.1", (n) => ({ "x-forwarded-for": "6.6.6.6, 203.0.113.9" })[n], trusted).ip; // "203.0.113.9"
 * clientOf("198.51.100.7", (n) => ({ "x-forwarded-for": "6.6.6.6" })[n], trusted).ip; // "198.51.100.7"
 * ```
 */
export function clientOf(
  peer: string,
  header: (name: string) => string | undefined,
  trusted: readonly Cidr[],
): Client {
  const direct: Client = { ip: peer, host: header("host"), proto: undefined };
  if (trusted.length === 0 || !isTrusted(peer, trusted)) return direct;
  let ip = peer;
  const chain = (header("x-forwarded-for") ?? "").split(",");
  for (let i = chain.length - 1; i >= 0; i--) {
    const addr = forwardedAddress(chain[i]!);
    if (addr === null) break; // garbage: keep the last address a trusted hop vouched for
    ip = addr;
    if (!isTrusted(addr, trusted)) break;
  }
  const fwdHost = lastOf(header("x-forwarded-host"));
  const fwdProto = lastOf(header("x-forwarded-proto"))?.toLowerCase();
  return {
    ip,
    host: fwdHost && /^[\w.\-:\[\]]+$/.test(fwdHost) ? fwdHost : direct.host,
    proto: fwdProto === "http" || fwdProto === "https" ? fwdProto : undefined,
  };
}

/** The context variable {@link trustProxy} sets. */
export type ProxyEnv = { Variables: { client: Client } };

/**
 * Middleware that works out the request's {@link Client} once and keeps it
 * in `c.var.client`; {@link withTrustedProxies} and {@link requestClient}
 * read it, so every route added later gets the same answer.
 */
export function trustProxy(runtime: Runtime, trusted: readonly Cidr[]): MiddlewareHandler {
  return async (c, next) => {
    c.set("client" as never, clientOf(runtime.clientAddress(c), (n) => c.req.header(n), trusted) as never);
    await next();
  };
}

/** The request's client as {@link trustProxy} found it; the direct peer and Host when it did not run. */
export function requestClient(c: Context, runtime: Pick<Runtime, "clientAddress">): Client {
  return (c.get("client" as never) as Client | undefined) ??
    { ip: runtime.clientAddress(c), host: c.req.header("host"), proto: undefined };
}

/** `runtime` whose `clientAddress` is the forwarded client's address when a trusted proxy sent the request. */
export function withTrustedProxies(runtime: Runtime): Runtime {
  return Object.assign(Object.create(runtime) as Runtime, {
    clientAddress: (c: Context) => requestClient(c, runtime).ip,
  });
}
