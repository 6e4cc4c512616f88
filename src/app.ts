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
import type { Catalog } from "./catalog.ts";
import type { Channel } from "./channels.ts";
import type { Hub } from "./hub.ts";
import { renderIndex } from "./index_page.ts";
import { chooseProtocol, parseLastMod, parseResumeSize } from "./messages.ts";
import { largePage, type PageView, renderPage } from "./page.ts";
import { rawFile } from "./raw.ts";
import { type Runtime, UpgradeRefused } from "./runtime/types.ts";
import { requestClient } from "./proxy.ts";
import { fileLister, scanRoutes, type ServedFile } from "./scan_routes.ts";
import type { Refusal } from "./session.ts";
import type { FileWatcher } from "./watcher.ts";

/** What the app needs besides options: the runtime adapter and the hub. */
export interface AppDeps {
  runtime: Runtime;
  hub: Hub;
  /**
   * The list of files (docs/configuration.md#several-files). Without one, or with one file given as
   * the only FILE, `/` and `/ws` are that file's, as they always were.
   */
  catalog?: Catalog;
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
 * `proto` (from a trusted proxy's X-Forwarded-Proto) must then match the Origin's scheme too.
 */
export function checkOrigin(
  origin: string | undefined,
  host: string | undefined,
  allowed: string[],
  proto?: string,
): boolean {
  if (origin === undefined) return true;
  if (allowed.includes("*")) return true;
  let u: URL;
  try {
    u = new URL(origin);
  } catch {
    return false;
  }
  if (allowed.includes(u.origin)) return true;
  if (proto !== undefined && u.protocol !== `${proto}:`) return false;
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
  const { runtime, hub, catalog } = deps;
  const watcher = hub.watcher;
  const app = new Hono();
  const fileName = basename(options.file);
  /** One file (its page at `/`, its socket at `/ws`), or several (an index at `/`). */
  const single = !catalog || (!catalog.isDir && catalog.options.files.length === 1);

  app.get("/healthz", (c) => c.text("ok\n"));

  app.get("/readyz", async (c) => {
    if (!deps.listening()) return c.text("not ready: not listening yet\n", 503);
    if (hub.shuttingDown) return c.text("not ready: shutting down\n", 503);
    // With several files there is no one file's state to wait for.
    if (!single) return c.text("ok\n");
    const snap = await watcher.current();
    return snap.ok ? c.text("ok\n") : c.text(`not ready: ${snap.error}\n`, 503);
  });

  app.get(
    "/metrics",
    (c) => c.body(hub.metrics.render(), 200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" }),
  );

  const pageHeaders = secureHeaders({
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
  });

  /**
   * A file's page. Its URLs are the routes under --base-path, followed by
   * `suffix` (`""` for the one file, `/{name}` for one of several): its
   * script connects to `/ws{suffix}` and reads a large file through
   * `/lines{suffix}`.
   */
  async function page(
    c: Context,
    watcher: FileWatcher,
    fileName: string,
    suffix: string,
    indexPath?: string,
  ): Promise<Response> {
    const socketPath = `${base}/ws${suffix}`;
    const rawUrl = `${base}/raw${suffix}`;
    const snap = await watcher.current();
    const nonce = (c.get("secureHeadersNonce" as never) as string | undefined) ?? "";
    c.header("Cache-Control", "no-store");
    // Larger than the page holds: its last screen, the script reads the rest (docs/page.md#the-whole-log-at-any-size).
    const large = await largePage(snap, watcher.options.file, options, (route) => `${base}/${route}${suffix}`);
    if (large) return c.html(renderPage({ fileName, keepChars: 0, nonce, socketPath, rawUrl, indexPath, ...large }));
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
    return c.html(renderPage({ fileName, view, keepChars: 4 * options.tail, nonce, socketPath, rawUrl, indexPath }));
  }

  // ---- several files (docs/protocol.md#several-files) ----------------------
  // Paths the pages are given live under --base-path (src/mount.ts strips it before routing).
  const base = options.basePath;
  // A name from a request is only ever a key into the catalog's own list.
  const entryOf = (c: Context) => {
    const name = c.req.param("name");
    return name === undefined || !catalog ? undefined : catalog.lookup(name);
  };
  const named = async (c: Context): Promise<Channel | null> => {
    const entry = await entryOf(c);
    return entry ? hub.channel(entry.name, entry.path) : null;
  };
  const notListed = (c: Context) => c.text(`Not Found: no file of that name (the names are in /files)\n`, 404);
  /** The answer to a one-file route (`/ws`, `/raw`) when there are several: which route takes a name. */
  const several = (c: Context, route: string) =>
    c.text(`Not Found: this server watches several files; use ${route}/{name} (the names are in /files)\n`, 404);

  app.get("/", pageHeaders, async (c) => {
    if (single) return await page(c, watcher, fileName, "");
    const nonce = (c.get("secureHeadersNonce" as never) as string | undefined) ?? "";
    c.header("Cache-Control", "no-store");
    return c.html(
      renderIndex({
        files: await catalog!.list(),
        nonce,
        poll: options.poll,
        filesPath: `${base}/files`,
        pagePath: `${base}/f/`,
      }),
    );
  });
  app.get("/f/:name", pageHeaders, async (c) => {
    const ch = await named(c);
    if (!ch) return notListed(c);
    return await page(c, ch.watcher, ch.name, `/${encodeURIComponent(ch.name)}`, single ? undefined : `${base}/`);
  });
  const listFiles = catalog ? fileLister(catalog) : () => Promise.resolve([]);
  app.get("/files", async (c) => {
    c.header("Cache-Control", "no-store");
    return c.json(await listFiles());
  });
  // Any part of a file (/lines, /time, /search; src/scan_routes.ts), on the names /raw takes. Before /raw: it answers /raw?file=.
  const served = async (c: Context, route: string): Promise<ServedFile | Response> => {
    if (c.req.param("name") === undefined) {
      return single ? { name: fileName, path: options.file, channel: hub.main! } : several(c, route);
    }
    const entry = await entryOf(c);
    if (!entry) return notListed(c);
    const root = catalog!.isDir ? catalog!.root ?? "" : undefined;
    return { name: entry.name, path: entry.path, root, channel: hub.channel(entry.name, entry.path) };
  };
  app.route("/", scanRoutes({ runtime, fileOf: served }));
  // The file's bytes as a download (§13), streamed by rawFile; the name only ever a key into the list.
  app.get("/raw", (c) => single ? rawFile(c.req.raw, options.file) : several(c, "/raw"));
  app.get("/raw/:name", async (c) => {
    const entry = await entryOf(c);
    if (!entry) return notListed(c);
    // With --dir, a listed file may have been swapped for a symlink out of DIR since the listing: checked at open.
    return rawFile(c.req.raw, entry.path, entry.name, catalog!.isDir ? catalog!.root ?? "" : undefined);
  });
  app.get("/ws", (c) => single ? upgrade(c, null) : several(c, "/ws"));
  app.get("/ws/:name", async (c) => {
    const ch = await named(c);
    return ch ? upgrade(c, ch) : notListed(c);
  });

  async function upgrade(c: Context, channel: Channel | null): Promise<Response> {
    const refuse = (r: Refused) => {
      hub.refuse(r.reason);
      return c.text(r.text + "\n", r.status, r.headers);
    };
    const bad = checkHandshake((n) => c.req.header(n));
    if (bad) return refuse(bad);
    // Host and scheme as the browser saw them: a trusted proxy's X-Forwarded-Host/-Proto (src/proxy.ts).
    const seen = requestClient(c, runtime);
    if (!checkOrigin(c.req.header("origin"), seen.host, options.origins, seen.proto)) {
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
    const size = parseResumeSize(c.req.query("size"));
    try {
      const events = channel
        ? hub.connect(protocol ? "v1" : "plain", ip, lastMod, size, channel)
        : hub.connect(protocol ? "v1" : "plain", ip, lastMod, size);
      return await runtime.upgrade(c, protocol, events);
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
    const known = ["/", "/ws", "/raw", "/lines", "/time", "/search", "/healthz", "/readyz", "/metrics", "/files"];
    if (known.includes(c.req.path) || /^\/(f|ws|raw|lines|time|search)\/[^/]+$/.test(c.req.path)) {
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
