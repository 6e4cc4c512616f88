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
import { chooseProtocol, formatOf, parseLastMod, parseResumeSize } from "./messages.ts";
import { largePage } from "./page.ts";
import { PageCache } from "./page_cache.ts";
import { rawFile } from "./raw.ts";
import { sentBy, whenSent } from "./http_limits.ts";
import { type AddressLimits, SlotEvents } from "./limits.ts";
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
  /**
   * The per-address state (src/limits.ts): streamed bodies hold their
   * request's slot until sent; with `sharedSockets` (workers) the
   * per-address WebSocket cap is counted there too, for the whole host.
   */
  limits?: AddressLimits;
  sharedSockets?: boolean;
  /** Pages rendered once per version (src/page_cache.ts); one per app by default. */
  pages?: PageCache;
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

  // With an auth file the probes, open to anyone, say no more than ok / not ready: the reason
  // names the file and its size. It goes to the log instead, once per change.
  let lastReason = "";
  app.get("/readyz", async (c) => {
    const why = !deps.listening() ? "not listening yet" : hub.shuttingDown
      ? "shutting down"
      // With several files there is no one file's state to wait for.
      : !single
      ? null
      : await watcher.current().then((snap) => snap.ok ? null : snap.error);
    if (why === null) {
      lastReason = "";
      return c.text("ok\n");
    }
    if (options.authFile === null) return c.text(`not ready: ${why}\n`, 503);
    if (why !== lastReason) hub.log.warn("not ready", { reason: why });
    lastReason = why;
    return c.text("not ready\n", 503);
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

  const pages = deps.pages ?? new PageCache();
  hub.metrics.define(
    "filewatch_page_renders_total",
    "counter",
    "Pages rendered: once per version and route, however many ask.",
    () => [
      { labels: {}, value: pages.renders },
    ],
  );

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
    // Larger than the page holds (and so followed in tail mode): its last screen, the script reads the rest
    // (docs/page.md#the-whole-log-at-any-size).
    const large = largePage(snap, options, (route) => `${base}/${route}${suffix}`);
    // The client's content (the whole file, or in tail mode its window), rendered once per version and shared.
    // In tail mode the page keeps a few windows' worth as the log grows, then drops its oldest lines. Without
    // --tail a page that holds the file whole gets a window when the file grows past --max-file-size: it then
    // keeps at most that many characters, which a file it holds whole never reaches (a byte is at most one).
    const keepChars = large ? 0 : options.tail > 0 ? 4 * options.tail : options.maxFileSize;
    const route = { fileName, keepChars, socketPath, rawUrl, indexPath, ...large };
    const done = deps.limits ? whenSent(c, deps.limits) : undefined;
    const { body, length } = pages.body(snap, route, nonce, done);
    c.header("Content-Type", "text/html; charset=UTF-8");
    c.header("Content-Length", String(length));
    return c.body(body);
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
  const notListed = (c: Context) => {
    // A file of DIR refused when it was listed (more than one hard link) is named: 403, not "no such file".
    const why = catalog?.refusal(c.req.param("name") ?? "");
    return why
      ? c.text(`Forbidden: ${why}\n`, 403)
      : c.text(`Not Found: no file of that name (the names are in /files)\n`, 404);
  };
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
    const channel = hub.channel(entry.name, entry.path);
    return { name: entry.name, path: entry.path, root, allowHardlinks: options.allowHardlinks, channel };
  };
  // A body streams for as long as the client reads: its request holds its slot (--max-requests-per-ip) till then.
  const streamed = (c: Context, res: Response) => deps.limits ? sentBy(c, deps.limits, res) : res;
  app.route("/", scanRoutes({ runtime, fileOf: served, streamed }));
  // The file's bytes as a download (§13), streamed by rawFile; the name only ever a key into the list.
  app.get("/raw", async (c) => single ? streamed(c, await rawFile(c.req.raw, options.file)) : several(c, "/raw"));
  app.get("/raw/:name", async (c) => {
    const entry = await entryOf(c);
    if (!entry) return notListed(c);
    // With --dir, a listed file may have been swapped for a symlink out of DIR since the listing: checked at open.
    const root = catalog!.isDir ? catalog!.root ?? "" : undefined;
    return streamed(c, await rawFile(c.req.raw, entry.path, entry.name, root, options.allowHardlinks));
  });
  app.get("/ws", (c) => single ? upgrade(c, null) : several(c, "/ws"));
  app.get("/ws/:name", async (c) => {
    const ch = await named(c);
    return ch ? upgrade(c, ch) : notListed(c);
  });

  const ipLimit = (ip: string): Refused => ({
    status: 429,
    reason: "ip_limit",
    text: `Too Many Requests: ${options.maxClientsPerIp} connections from ${ip} already`,
    headers: { "Retry-After": "5" },
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
    // With --workers the per-address cap is the host's, counted by the supervisor; the hub counts this process.
    const slot = deps.sharedSockets && deps.limits && options.maxClientsPerIp > 0
      ? await deps.limits.reserve("ws", ip)
      : undefined;
    if (slot === null) return refuse(ipLimit(ip));
    const giveBack = () => slot && deps.limits!.release(slot);
    const no = hub.admit(ip);
    if (no) giveBack();
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
    if (no === "ip_limit") return refuse(ipLimit(ip));
    const protocol = chooseProtocol(c.req.header("sec-websocket-protocol"));
    const format = formatOf(protocol);
    const lastMod = parseLastMod(c.req.query("lastMod"));
    const size = parseResumeSize(c.req.query("size"));
    try {
      const events = channel ? hub.connect(format, ip, lastMod, size, channel) : hub.connect(format, ip, lastMod, size);
      return await runtime.upgrade(c, protocol, slot ? new SlotEvents(events, deps.limits!, slot) : events);
    } catch (e) {
      hub.release(ip);
      giveBack();
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
