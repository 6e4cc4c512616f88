/**
 * The Host allowlist (docs/security.md#host-names-dns-rebinding): a request
 * is answered only when the name it was sent to is one this server goes by.
 *
 * DNS rebinding is how a web page reads a server that only listens on
 * loopback: the attacker's name (`attacker.example`) first resolves to the
 * attacker, serves a page, then resolves to 127.0.0.1; the page's requests
 * now reach filewatch, and the browser, which thinks it is still talking to
 * `attacker.example`, lets the page read the answers (same origin). The one
 * thing such a request cannot hide is its `Host`: it names the attacker's
 * DNS name. So a request is answered when its host is:
 *
 * - an IP address (`127.0.0.1`, `[::1]`, `10.0.0.7`, any form the URL parser
 *   reads as one): a browser only sends an IP literal when the page's own URL
 *   has it, so no rebinding can produce one. This is also what container and
 *   Kubernetes probes send (`Host: <pod IP>:<port>`);
 * - `localhost`, or the name `--host` binds to;
 * - a name given with `--allowed-host` (`*` = every name).
 *
 * Names are compared as the browser sends them: lower case, IDN in punycode
 * (what `new URL()` makes of `bücher.example`), a trailing dot dropped. The
 * port is ignored: a rebinding page must use the server's own port anyway,
 * and behind port mappings (`docker -p 80:8080`, a proxy) the port the
 * browser used is not the one the server listens on.
 *
 * The host is read from `Host`, from the request target when a client sends
 * one in absolute form (`GET http://evil.example/ HTTP/1.1`: Deno then puts
 * that authority in `Request.url` and keeps `Host`; Bun builds the URL from
 * `Host`), and, from a `--trust-proxy` peer, from `X-Forwarded-Host`: each
 * one present must be allowed.
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { type Cidr, isTrusted } from "./proxy.ts";
import type { Runtime } from "./runtime/types.ts";

/** `--allowed-host *`: every name is answered. */
export const ANY_HOST = "*";

/** Names always answered, besides IP literals and `--host`. */
const ALWAYS = ["localhost"];

/**
 * The host name in `text` as browsers send it, or null when it is not a
 * host: lower case, punycode, IPv4 in dotted form, IPv6 in brackets, no
 * trailing dot, no port.
 *
 * @example
 * ```ts
 * normalizeHostName("Bücher.Example."); // "xn--bcher-kva.example"
 * normalizeHostName("[::1]");           // "[::1]"
 * normalizeHostName("2130706433");      // "127.0.0.1"
 * normalizeHostName("a b");             // null
 * ```
 */
export function normalizeHostName(text: string): string | null {
  // A host, not a URL: no userinfo, path, query, fragment, port or white space may ride along.
  if (text === "" || /[\s\/?#@\\:%]/.test(text.replace(/^\[[0-9A-Fa-f:.]+\]$/, ""))) return null;
  let hostname: string;
  try {
    hostname = new URL(`http://${text}/`).hostname;
  } catch {
    return null;
  }
  if (hostname === "") return null;
  // "localhost." and "localhost" are one name to DNS; a browser sends what its URL says.
  return hostname.endsWith(".") && hostname.length > 1 ? hostname.slice(0, -1) : hostname;
}

/**
 * A `Host` (or `X-Forwarded-Host`) header's host without its port, as
 * {@link normalizeHostName} gives it; null when the header is not
 * `host[:port]`.
 */
export function hostOfHeader(value: string): string | null {
  const v = value.trim();
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(v);
  if (!m || (m[2] !== undefined && m[2] !== "" && Number(m[2]) > 65535)) return null;
  return normalizeHostName(m[1]!);
}

/** Whether a normalized host is an IP literal (the URL parser already turned every IPv4 form into a dotted quad). */
export function isIpLiteral(host: string): boolean {
  return host.startsWith("[") || /^\d{1,3}(\.\d{1,3}){3}$/.test(host);
}

/**
 * Parses `--allowed-host`'s comma-separated names (`logs.example.com,
 * bücher.example`, or `*`), normalized as a browser sends them.
 * @throws {RangeError} naming the entry that is not a host name
 */
export function parseHostList(text: string): string[] {
  const out: string[] = [];
  for (const entry of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    if (entry === ANY_HOST) {
      out.push(ANY_HOST);
      continue;
    }
    const name = normalizeHostName(entry.replace(/^\[(.*)\]$/, (_, ip: string) => `[${ip}]`));
    if (name === null) {
      throw new RangeError(`"${entry}": expected a host name like logs.example.com (no scheme, port or path), or *`);
    }
    out.push(name);
  }
  if (out.length === 0) throw new RangeError("expected at least one host name, or *");
  return out;
}

/** Which hosts a server answers: built once from the options. */
export class HostAllowlist {
  readonly #names: Set<string>;
  readonly any: boolean;

  /**
   * @param allowed `--allowed-host`, already normalized ({@link parseHostList})
   * @param bind `--host`: a name given there is one the server goes by
   */
  constructor(allowed: readonly string[], bind: string) {
    this.any = allowed.includes(ANY_HOST);
    this.#names = new Set([...ALWAYS, ...allowed]);
    const own = normalizeHostName(bind.includes(":") ? `[${bind}]` : bind);
    if (own !== null) this.#names.add(own);
  }

  /** Whether a normalized host is answered. */
  allows(host: string): boolean {
    return this.any || isIpLiteral(host) || this.#names.has(host);
  }

  /**
   * The first host of a request that is not answered, or null when all are.
   * @param hosts the raw values: `Host`, the request target's authority, `X-Forwarded-Host` (undefined = absent)
   * @returns the offending value as sent (for the reason), with what it names
   */
  refused(hosts: ReadonlyArray<{ what: string; value: string | undefined }>): { what: string; value: string } | null {
    if (this.any) return null;
    for (const { what, value } of hosts) {
      if (value === undefined) continue;
      const host = hostOfHeader(value);
      if (host === null || !this.allows(host)) return { what, value };
    }
    return null;
  }
}

/**
 * The authority of the request's URL when the client sent the target in
 * absolute form and the runtime kept it (Deno): `undefined` when the URL's
 * host is the `Host` header's (Bun, and every origin-form request), so only
 * a target that names another host is checked again.
 */
function targetAuthority(c: Context): string | undefined {
  const url = c.req.url;
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(url);
  if (!m) return undefined;
  const authority = m[1]!;
  const host = c.req.header("host");
  // Deno makes the URL from Host when there is one and the target is a path: the same text, nothing new.
  return host !== undefined && authority.toLowerCase() === host.trim().toLowerCase() ? undefined : authority;
}

/** How long a refused host may be when it is quoted back in the reason. */
const QUOTE_MAX = 100;

/**
 * Middleware answering 421 Misdirected Request, with a one-line reason
 * naming `--allowed-host`, to a request for a host this server does not go
 * by, on every route (the probes too: they are sent to an IP or to
 * `localhost`) and the WebSocket handshake. Run it before anything else.
 *
 * @param onRefused counts the refusal (a metric)
 */
export function checkHost(
  allow: HostAllowlist,
  runtime: Pick<Runtime, "clientAddress">,
  trusted: readonly Cidr[],
  onRefused: () => void = () => {},
): MiddlewareHandler {
  return async (c, next) => {
    if (!allow.any) {
      const hosts = [
        { what: "Host", value: c.req.header("host") },
        { what: "request target", value: targetAuthority(c) },
      ];
      const fwd = c.req.header("x-forwarded-host");
      if (fwd !== undefined && trusted.length > 0 && isTrusted(runtime.clientAddress(c), trusted)) {
        // The value the nearest proxy wrote, as the same-origin check reads it (src/proxy.ts).
        hosts.push({
          what: "X-Forwarded-Host",
          value: fwd.split(",").map((s) => s.trim()).filter(Boolean).at(-1) ?? "",
        });
      }
      const bad = allow.refused(hosts);
      if (bad) {
        onRefused();
        const shown = bad.value.length > QUOTE_MAX ? bad.value.slice(0, QUOTE_MAX) + "…" : bad.value;
        const name = hostOfHeader(bad.value);
        const hint = name === null ? "it is not a host name" : `use --allowed-host ${name} to answer it`;
        return c.text(
          `Misdirected Request: ${bad.what} ${JSON.stringify(shown)} is not a name this server answers (${hint})\n`,
          421,
        );
      }
    }
    await next();
  };
}
