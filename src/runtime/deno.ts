/**
 * Deno adapter: `Deno.upgradeWebSocket`, translated into the core's
 * {@link Peer}/{@link PeerEvents}; and {@link denoLauncher}, what src/deno.ts
 * hands to `run()`: `Deno.args`, `Deno.serve`, and Deno started again per
 * worker. Hono stays the app; its `hono/deno`
 * WebSocket helper is not used (deprecated, gone in Hono v5), and without it
 * no closure keeps each connection's Hono Context alive for the life of the
 * socket (4 KiB per connection at 10k clients, BENCHMARKS.md).
 *
 * Deno's server WebSocket has no `ping()` and never shows pongs to JS; its
 * `idleTimeout` pings at half the timeout and closes with 1001 when nothing
 * comes back, so here the runtime keeps clients alive, not the core.
 * @module
 */
import { Buffer } from "node:buffer";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Context } from "hono";
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

/** Builds the Deno runtime adapter. `pongWait` (ms) becomes Deno's `idleTimeout`. */
export function denoRuntime(opts: { pongWait: number }): Runtime {
  // Unless DENO_USE_WRITEV is set (read once, when the first server
  // WebSocket is made), each Deno WebSocket keeps a write buffer as large as
  // the largest frame it ever sent, for as long as it lives: 64 KiB per client
  // for a 64 KiB file. With it, header and payload go out with writev and no
  // such buffer is kept. The variable is undocumented, so a Deno upgrade could
  // drop it; BENCHMARKS.md's 64 KiB rows would show that. A user's own
  // setting wins.
  if (Deno.env.get("DENO_USE_WRITEV") === undefined) Deno.env.set("DENO_USE_WRITEV", "1");
  const idleTimeout = opts.pongWait / 1000;
  return {
    name: "deno",
    pingsItself: true,
    compression: false,
    pubsub: false,
    headerTimeout: false,
    // Deno copies a frame into a new buffer per socket and keeps it until
    // that socket's write completes: at 5,000 clients × 64 KiB that was 140
    // KiB per client (BENCHMARKS.md). Batches let each batch's copies be
    // written and freed before the next are made: 16 MiB is 256 copies of a
    // 64 KiB file, or every one of 5,000 viewers' copies of a log line, sent
    // in one turn (yielding every 256 sockets let the next append overtake
    // the broadcast, and its last viewers waited: BENCHMARKS.md).
    sendBatchBytes: 16 * 1024 * 1024,
    upgrade(c: Context, protocol: string | null, events: PeerEvents): Promise<Response> {
      let upgraded: { socket: WebSocket; response: Response };
      try {
        // Deno reads the Upgrade token case-insensitively itself (the app has
        // checked it the same way). It answers `protocol` as the chosen
        // subprotocol, or none when it is undefined; unlike Hono's helper it
        // never echoes the first offered one, which a browser would reject
        // when it cannot speak it.
        upgraded = Deno.upgradeWebSocket(c.req.raw, { protocol: protocol ?? undefined, idleTimeout });
      } catch (e) {
        // Deno throws for handshakes it rejects, e.g. a Sec-WebSocket-Protocol
        // of "a,b" without the space it splits on: the client's mistake, a 400.
        return Promise.reject(new UpgradeRefused(400, `Bad WebSocket handshake: ${(e as Error).message}`));
      }
      const { socket, response } = upgraded;
      // Text frames arrive as strings; binary ones as ArrayBuffers, not Blobs.
      socket.binaryType = "arraybuffer";
      const peer = new DenoPeer(socket, events);
      socket.addEventListener("open", peer);
      socket.addEventListener("message", peer);
      // Deno can dispatch close twice (an error, then the close); the core copes.
      socket.addEventListener("close", peer);
      return Promise.resolve(response);
    },
    publish(): void {
      throw new Error("Deno has no pub/sub; the hub sends one by one");
    },
    clientAddress(c: Context): string {
      // Hono passes Deno.serve's second handler argument as the context's env.
      // Read here rather than through hono/deno's getConnInfo, which is
      // deprecated with the rest of hono/deno.
      const addr = (c.env as Partial<Deno.ServeHandlerInfo> | undefined)?.remoteAddr;
      return addr && "hostname" in addr ? addr.hostname : "unknown";
    },
  };
}

/**
 * One connection: the {@link Peer} the core sends through, and the listener
 * of the socket's events. One object per connection whose methods live on the
 * prototype, rather than a closure per event.
 */
class DenoPeer implements Peer, EventListenerObject {
  constructor(private readonly socket: WebSocket, private readonly events: PeerEvents) {}

  handleEvent(evt: Event): void {
    if (evt.type === "message") {
      const d = (evt as MessageEvent).data;
      this.events.onMessage(typeof d === "string" ? Buffer.byteLength(d, "utf8") : (d as ArrayBuffer).byteLength);
    } else if (evt.type === "open") {
      this.events.onOpen(this);
    } else if (evt.type === "close") {
      const { code, reason } = evt as CloseEvent;
      this.events.onClose(code, reason);
    }
  }

  send(frame: Frame): boolean {
    if (this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(frame);
    return true;
  }
  bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }
  close(code: number, reason: string): void {
    this.socket.close(code, reason);
  }
  terminate(): void {
    // Deno cannot drop a WebSocket without the close handshake: the close
    // frame is queued, and the runtime's idleTimeout reaps a peer that
    // never completes it.
    if (this.socket.readyState === WebSocket.OPEN) this.socket.close(1008, "slow consumer");
  }
  ping(): void {}
  subscribe(): void {}
  unsubscribe(): void {}
}

/** The parts of the `Deno` namespace the launcher uses (a test passes a fake). */
export type DenoProcess = Pick<typeof Deno, "args" | "execPath" | "permissions" | "serve">;

/**
 * Deno for `run()` (src/main.ts).
 * @param entry the entrypoint's path, which each worker runs again
 */
export function denoLauncher(entry: string, deno: DenoProcess = Deno): Launcher {
  return {
    name: "Deno",
    args: deno.args,
    compression: false,
    // Granted only with --allow-sys (=setPriority); asked otherwise, it could prompt on a terminal.
    threadPriority: () => deno.permissions.querySync({ name: "sys", kind: "setPriority" }).state === "granted",
    cannotSpawn(workers) {
      const exe = deno.execPath();
      if (deno.permissions.querySync({ name: "run", command: exe }).state === "granted") return null;
      return `Cannot use --workers ${workers} on Deno without --allow-run: the supervisor starts Deno once per worker (add --allow-run=${exe})`;
    },
    workerCommand() {
      // The workers get the permissions the server needs, not the supervisor's --allow-run;
      // Deno.serve's reusePort is still behind --unstable-net (Deno 2.9).
      const perms = ["--allow-net", "--allow-read", "--allow-env", "--unstable-net"];
      // The supervisor has loaded (and Deno cached) everything a worker imports, and shown Deno's
      // diagnostics once: --quiet. --no-lock: deno.lock also records the tests' npm packages, which Deno
      // would fetch first (scripts/start.sh). The config beside src/ by path, since Deno looks for one
      // where the user stands, which is not the package's directory for the installed command (bin/).
      const config = join(dirname(entry), "..", "deno.json");
      const flags = ["--quiet", "--no-lock", ...(existsSync(config) ? [`--config=${config}`] : [])];
      return { cmd: deno.execPath(), args: ["run", ...flags, ...perms, entry, ...deno.args] };
    },
    open(settings: ServeSettings): Serving {
      return {
        runtime: denoRuntime(settings),
        serve(fetch, onListen) {
          const http = deno.serve({
            ...(settings.tls ? { cert: settings.tls.cert, key: settings.tls.key } : {}),
            hostname: settings.host,
            port: settings.port,
            reusePort: settings.reusePort,
            onListen: ({ hostname, port }) => onListen(hostname, port),
          }, fetch);
          return () => void http.shutdown();
        },
      };
    },
  };
}
