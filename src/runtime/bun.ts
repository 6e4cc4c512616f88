/**
 * Bun adapter: `server.upgrade` and a `websocket` handler of our own
 * (open/message/close/pong/drain), translated into the core's
 * {@link Peer}/{@link PeerEvents}. Hono stays the app; its `hono/bun`
 * WebSocket helper is not used (deprecated, gone in Hono v5): it echoes the
 * first offered subprotocol and cannot choose, has no pong or drain, and
 * builds a URL, an event and a context object per connection and per event.
 *
 * Each socket's `data` is the connection's PeerEvents itself, so the handler
 * below is shared by every connection and a connection costs Bun's socket,
 * one {@link BunPeer} and what the core keeps.
 *
 * {@link bunLauncher} is what src/bun.ts hands to `run()`: `Bun.argv`,
 * `Bun.serve`, and Bun started again per worker.
 *
 * Types are declared locally (only what is used) so the shared type check
 * runs without Bun's global types; src/bun.ts passes the `Bun` global in.
 * @module
 */
import { Buffer } from "node:buffer";
import process from "node:process";
import type { Context, Hono } from "hono";
import type { Frame } from "../messages.ts";
import {
  type Launcher,
  type Peer,
  type PeerEvents,
  type Runtime,
  type ServeSettings,
  type Serving,
  UpgradeRefused,
} from "./types.ts";

/** The parts of Bun's ServerWebSocket used here. */
export interface BunSocket {
  /** What was passed as `data` to `server.upgrade`: the connection's events. */
  data: PeerEvents;
  /** -1: queued under backpressure; 0: dropped; n > 0: bytes sent. */
  send(data: Frame, compress?: boolean): number;
  ping(): number;
  getBufferedAmount(): number;
  close(code?: number, reason?: string): void;
  terminate(): void;
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
}

/** The parts of Bun's Server used here. */
export interface BunServer {
  upgrade(req: Request, opts: { data: PeerEvents; headers?: HeadersInit }): boolean;
  publish(topic: string, data: Frame, compress?: boolean): number;
  requestIP?(req: Request): { address: string } | null;
}

/** The `websocket` option of `Bun.serve`, as this adapter fills it in. */
export interface BunWebSocketHandler {
  open(ws: BunSocket): void;
  message(ws: BunSocket, message: string | Uint8Array): void;
  close(ws: BunSocket, code: number, reason: string): void;
  pong(ws: BunSocket, data: Uint8Array): void;
  drain(ws: BunSocket): void;
  maxPayloadLength: number;
  perMessageDeflate: boolean;
  idleTimeout: number;
  sendPings: boolean;
}

/** Settings for Bun's runtime and its `websocket` handler. */
export interface BunRuntimeOptions {
  readLimit: number;
  compress: boolean;
}

/**
 * Builds the Bun adapter and the `websocket` object to pass to `Bun.serve`.
 * Call `attach(server)` with the server `Bun.serve` returns.
 *
 * ```ts
 * const { runtime, websocket, attach } = bunRuntime(options);
 * const server = Bun.serve({ fetch: app.fetch, websocket });
 * attach(server);
 * ```
 */
export function bunRuntime(opts: BunRuntimeOptions): {
  runtime: Runtime;
  websocket: BunWebSocketHandler;
  attach(server: BunServer): void;
} {
  let server: BunServer | null = null;
  const runtime: Runtime = {
    name: "bun",
    pingsItself: false,
    compression: true,
    pubsub: true,
    headerTimeout: true,
    sendBatchBytes: 0,
    upgrade(c: Context, protocol: string | null, events: PeerEvents): Promise<Response> {
      const srv = serverOf(c) ?? server;
      if (!srv) throw new Error("Bun server not attached");
      // The server that upgraded a socket is the one to publish to: a socket
      // can only join a topic after an upgrade, so publish always has it,
      // even if attach() was never called.
      server ??= srv;
      // Without a header of ours Bun echoes the first offered protocol, even one
      // we do not speak; an empty value makes it answer none.
      const headers = { "Sec-WebSocket-Protocol": protocol ?? "" };
      if (!srv.upgrade(c.req.raw, { data: events, headers })) {
        return Promise.reject(new UpgradeRefused(400, "Bad WebSocket handshake: Bun refused the upgrade"));
      }
      // Bun has answered the handshake itself; this response is ignored.
      return Promise.resolve(new Response(null));
    },
    publish(topic, frame, compress) {
      if (!server) throw new Error("Cannot publish: no Bun server has upgraded a socket yet (call attach(server))");
      server.publish(topic, frame, compress);
    },
    clientAddress(c: Context): string {
      // Read here rather than through hono/bun's getConnInfo, which is
      // deprecated with the rest of hono/bun.
      return (serverOf(c) ?? server)?.requestIP?.(c.req.raw)?.address ?? "unknown";
    },
  };
  const websocket: BunWebSocketHandler = {
    open(ws) {
      ws.data.onOpen(new BunPeer(ws));
    },
    message(ws, message) {
      // Bun hands text frames over as strings and binary ones as Buffers.
      ws.data.onMessage(typeof message === "string" ? Buffer.byteLength(message, "utf8") : message.byteLength);
    },
    close(ws, code, reason) {
      ws.data.onClose(code, reason);
    },
    pong(ws) {
      ws.data.onPong();
    },
    drain(ws) {
      ws.data.onDrain();
    },
    // Bun refuses a larger message before buffering it and closes with 1009.
    maxPayloadLength: opts.readLimit,
    perMessageDeflate: opts.compress,
    // The core pings and keeps the pong deadlines (docs/runtimes.md), not uWS.
    idleTimeout: 0,
    sendPings: false,
  };
  return { runtime, websocket, attach: (s) => void (server = s) };
}

/** Bun's `fetch(req, server)` hands the server to Hono, which makes it the context's env. */
function serverOf(c: Context): BunServer | null {
  const env = c.env as Partial<BunServer> | undefined;
  return typeof env?.upgrade === "function" ? env as BunServer : null;
}

/** A {@link Peer} over Bun's ServerWebSocket: one small object per connection, methods on the prototype. */
class BunPeer implements Peer {
  constructor(private readonly ws: BunSocket) {}
  send(frame: Frame, compress: boolean): boolean {
    return this.ws.send(frame, compress) > 0;
  }
  bufferedAmount(): number {
    return this.ws.getBufferedAmount();
  }
  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }
  terminate(): void {
    this.ws.terminate();
  }
  ping(): void {
    this.ws.ping();
  }
  subscribe(topic: string): void {
    this.ws.subscribe(topic);
  }
  unsubscribe(topic: string): void {
    this.ws.unsubscribe(topic);
  }
}

/** The parts of the `Bun` global the launcher uses. */
export interface BunGlobal {
  /** The runtime's binary, the entrypoint, then the user's arguments. */
  readonly argv: string[];
  serve(options: {
    hostname: string;
    port: number;
    reusePort: boolean;
    tls?: { cert: string; key: string };
    fetch: Hono["fetch"];
    websocket: BunWebSocketHandler;
  }): BunServer & { hostname?: string; port?: number; stop(closeActiveConnections?: boolean): void };
}

/** Where a `bun build --compile` executable keeps its modules (`import.meta.path` there: `/$bunfs/root/…`). */
const EMBEDDED = "/$bunfs/";

/**
 * Bun for `run()` (src/main.ts).
 * @param bun the `Bun` global
 * @param entry the entrypoint's path, which each worker runs again
 */
export function bunLauncher(bun: BunGlobal, entry: string): Launcher {
  const args = bun.argv.slice(2);
  return {
    name: "Bun",
    args,
    compression: true,
    threadPriority: () => true,
    cannotSpawn: () => null,
    // Built into one executable (`bun build --compile`, scripts/build.mjs), the entrypoint lives in Bun's
    // embedded file system and the executable is the command itself: it takes the user's arguments only.
    workerCommand: () =>
      entry.startsWith(EMBEDDED)
        ? { cmd: process.execPath, args: [...args] }
        : { cmd: process.execPath, args: ["run", entry, ...args] },
    open(settings: ServeSettings): Serving {
      const { runtime, websocket, attach } = bunRuntime(settings);
      return {
        runtime,
        serve(fetch, onListen) {
          const http = bun.serve({
            ...(settings.tls ? { tls: { cert: settings.tls.cert, key: settings.tls.key } } : {}),
            hostname: settings.host,
            port: settings.port,
            reusePort: settings.reusePort,
            fetch,
            websocket,
          });
          attach(http);
          // Bun.serve has bound the port when it returns.
          onListen(http.hostname ?? settings.host, http.port ?? settings.port);
          return () => void http.stop(false);
        },
      };
    },
  };
}
