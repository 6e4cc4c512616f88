/**
 * The Hono app: routes, the upgrade checks (gorilla's Upgrader: origin,
 * subprotocols, limits) and the page. Knows no runtime: everything
 * runtime-specific comes in through {@link Runtime}.
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { NONCE, secureHeaders } from "hono/secure-headers";
import { basename } from "node:path";
import type { Options } from "./config.ts";
import type { Hub, Refusal } from "./hub.ts";
import { chooseProtocol, parseLastMod, parseSize } from "./messages.ts";
import { type PageView, renderPage } from "./page.ts";
import { rawFile } from "./raw.ts";
import { type Runtime, UpgradeRefused } from "./runtime/types.ts";

/** What the app needs besides options: the runtime adapter and the hub. */
export interface AppDeps {
  runtime: Runtime;
  hub: Hub;
  /** True once the server listens (for /readyz). */
  listening: () => boolean;
}

/** A refused upgrade: status, counted reason and the one-line text the client gets. */
interface Refused {
  status: 400 | 403 | 426 | 429 | 503;
  reason: Refusal;
  text: string;
  headers?: Record<string, string>;
}

/**
 * gorilla's `CheckOrigin`: no Origin (not a browser) is allowed; otherwise the
 * Origin's host must equal Host, or the Origin must be in the allowlist.
 */
export function checkOrigin(origin: string | undefined, host: string | undefined, allowed: string[]): boolean {
  if (origin === undefined) return true;
  if (allowed.includes("*")) return true;
  let u: URL;
  try {
    u = new URL(origin);
  } catch {
    return false;
  }
  if (allowed.includes(u.origin)) return true;
  return host !== undefined && u.host.toLowerCase() === host.toLowerCase() && u.origin !== "null";
}

const KEY_RE = /^[A-Za-z0-9+/]{22}==$/;

/** Checks what the runtimes would reject anyway, so the client gets a reason instead of a bare error. */
export function checkHandshake(h: (name: string) => string | undefined): Refused | null {
  const upgrade = h("upgrade");
  if (!upgrade || !upgrade.split(",").some((t) => t.trim().toLowerCase() === "websocket")) {
    return {
      status: 426,
      reason: "bad_request",
      text: "Upgrade Required: this endpoint speaks WebSocket only",
      headers: { Upgrade: "websocket", Connection: "Upgrade" },
    };
  }
  if (!(h("connection") ?? "").split(",").some((t) => t.trim().toLowerCase() === "upgrade")) {
    return {
      status: 400,
      reason: "bad_request",
      text: "Bad WebSocket handshake: Connection header must include Upgrade",
    };
  }
  if (h("sec-websocket-version")?.trim() !== "13") {
    return {
      status: 426,
      reason: "bad_request",
      text: "Unsupported WebSocket version: only 13 is spoken",
      headers: { "Sec-WebSocket-Version": "13" },
    };
  }
  if (!KEY_RE.test(h("sec-websocket-key")?.trim() ?? "")) {
    return {
      status: 400,
      reason: "bad_request",
      text: "Bad WebSocket handshake: Sec-WebSocket-Key must be 16 bytes in base64",
    };
  }
  return null;
}

/**
 * Builds the app.
 *
 * @example
 * ```ts
 * const app = createApp(options, { runtime, hub, listening: () => true });
 * Deno.serve(app.fetch);
 * ```
 */
export function createApp(options: Options, deps: AppDeps): Hono {
  const { runtime, hub } = deps;
  const watcher = hub.watcher;
  const app = new Hono();
  const fileName = basename(options.file);

  app.get("/healthz", (c) => c.text("ok\n"));

  app.get("/readyz", async (c) => {
    if (!deps.listening()) return c.text("not ready: not listening yet\n", 503);
    if (hub.shuttingDown) return c.text("not ready: shutting down\n", 503);
    const snap = await watcher.current();
    return snap.ok ? c.text("ok\n") : c.text(`not ready: ${snap.error}\n`, 503);
  });

  app.get(
    "/metrics",
    (c) => c.body(hub.metrics.render(), 200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" }),
  );

  app.get(
    "/",
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'none'"],
        scriptSrc: [NONCE],
        styleSrc: [NONCE],
        // The page's script opens a WebSocket to this same host only: CSP 3's
        // 'self' matches ws: and wss: on the page's own host and port (a bare
        // ws:/wss: would allow sockets to any host).
        connectSrc: ["'self'"],
        imgSrc: ["'self'", "data:"],
        baseUri: ["'none'"],
        formAction: ["'none'"],
        frameAncestors: ["'none'"],
      },
      crossOriginEmbedderPolicy: false,
    }),
    async (c) => {
      const snap = await watcher.current();
      const nonce = (c.get("secureHeadersNonce" as never) as string | undefined) ?? "";
      c.header("Cache-Control", "no-store");
      // The client's content: the whole file, or in tail mode its window.
      const view: PageView = snap.ok
        ? {
          ok: true,
          lastMod: snap.lastMod,
          offset: snap.offset,
          size: snap.size,
          text: snap.text ?? new TextDecoder("utf-8").decode(snap.bytes),
          lossy: snap.text === null,
        }
        : { ok: false, error: snap.error };
      // In tail mode the page keeps a few windows' worth as the log grows, then drops its oldest lines.
      return c.html(renderPage({ fileName, view, keep: 4 * options.tail, nonce }));
    },
  );

  app.get("/ws", (c) => upgrade(c));

  // The file's bytes as a download (§13); /raw/{name} reuses rawFile per file.
  app.get("/raw", (c) => rawFile(c.req.raw, options.file));

  async function upgrade(c: Context): Promise<Response> {
    const refuse = (r: Refused) => {
      hub.refuse(r.reason);
      return c.text(r.text + "\n", r.status, r.headers);
    };
    const bad = checkHandshake((n) => c.req.header(n));
    if (bad) return refuse(bad);
    if (!checkOrigin(c.req.header("origin"), c.req.header("host"), options.origins)) {
      return refuse({
        status: 403,
        reason: "origin",
        text: `Forbidden: Origin "${c.req.header("origin")}" is not allowed (use --origin to allow it)`,
      });
    }
    const ip = runtime.clientAddress(c);
    const no = hub.admit(ip);
    if (no === "shutting_down") {
      return refuse({ status: 503, reason: no, text: "Service Unavailable: server shutting down" });
    }
    if (no === "limit") {
      return refuse({
        status: 503,
        reason: no,
        text: `Service Unavailable: client limit reached (${options.maxClients})`,
        headers: { "Retry-After": "5" },
      });
    }
    if (no === "ip_limit") {
      return refuse({
        status: 429,
        reason: no,
        text: `Too Many Requests: ${options.maxClientsPerIp} connections from ${ip} already`,
        headers: { "Retry-After": "5" },
      });
    }
    const protocol = chooseProtocol(c.req.header("sec-websocket-protocol"));
    const lastMod = parseLastMod(c.req.query("lastMod"));
    const size = parseSize(c.req.query("size"));
    try {
      return await runtime.upgrade(c, protocol, hub.connect(protocol ? "v1" : "plain", ip, lastMod, size));
    } catch (e) {
      hub.release(ip);
      if (e instanceof UpgradeRefused) {
        return refuse({ status: e.status as 400, reason: "bad_request", text: e.message });
      }
      throw e;
    }
  }

  // Known paths with another method: 405 with Allow; anything else: 404.
  app.all("*", (c) => {
    const known = ["/", "/ws", "/raw", "/healthz", "/readyz", "/metrics"];
    if (known.includes(c.req.path)) {
      return c.text(`Method Not Allowed: ${c.req.method} ${c.req.path}\n`, 405, { Allow: "GET, HEAD" });
    }
    return c.text(`Not Found: ${c.req.path}\n`, 404);
  });

  app.onError((err, c) => {
    hub.log.error("request failed", { path: c.req.path, error: String(err?.message ?? err) });
    return c.text("Internal Server Error\n", 500);
  });

  return app;
}
