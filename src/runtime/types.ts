/**
 * The one interface between the core and a runtime. The core (app, hub,
 * sessions, watcher) only ever talks to {@link Runtime} and {@link Peer};
 * `run()` in src/main.ts only to a {@link Launcher}. src/runtime/deno.ts and
 * src/runtime/bun.ts implement them; docs/runtimes.md says how they differ.
 * @module
 */
import type { Context, Hono } from "hono";
import type { Frame } from "../messages.ts";
import type { WorkerCommand } from "../worker.ts";

/** One connected client as the runtime holds it. */
export interface Peer {
  /** Sends a frame; false when the runtime had to buffer it (backpressure) or dropped it. */
  send(frame: Frame, compress: boolean): boolean;
  /** Bytes queued for this client and not yet written to its socket. */
  bufferedAmount(): number;
  /** Starts the close handshake. */
  close(code: number, reason: string): void;
  /** Drops the connection without a handshake (for a peer that no longer reads). */
  terminate(): void;
  /** Sends a ping; a no-op where the runtime pings by itself. */
  ping(): void;
  /** Joins/leaves a broadcast topic; no-ops where the runtime has no pub/sub. */
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
}

/** What the runtime tells the core about one connection. */
export interface PeerEvents {
  onOpen(peer: Peer): void;
  /** A whole message arrived; `bytes` is its size. */
  onMessage(bytes: number): void;
  onPong(): void;
  /** Buffered data was written out (backpressure eased). */
  onDrain(): void;
  /** May be called more than once by some runtimes; the core copes. */
  onClose(code: number, reason: string): void;
}

/** What a runtime can and cannot do, so the core never has to ask which one it is. */
export interface RuntimeCaps {
  /** The runtime pings idle clients and closes silent ones itself (Deno's idleTimeout). */
  readonly pingsItself: boolean;
  /** permessage-deflate is available. */
  readonly compression: boolean;
  /** {@link Runtime.publish} fans out natively. */
  readonly pubsub: boolean;
  /**
   * The HTTP server cuts off a client that sends its request headers slowly
   * (Bun, after about 10 s). Deno 2.9's never does (docs/runtimes.md): the
   * server then warns when it faces a network without a proxy in front.
   */
  readonly headerTimeout: boolean;
  /**
   * Without pub/sub: send until the frames sent add up to this many bytes,
   * then yield to the event loop before the next ones (0 = all at once).
   * Bounds the copies of frames waiting to be written at any one time, in
   * bytes: a broadcast of a small append goes out in one turn.
   */
  readonly sendBatchBytes: number;
}

/** A runtime adapter. */
export interface Runtime extends RuntimeCaps {
  readonly name: string;
  /**
   * Upgrades the request, answering the chosen subprotocol (or none).
   * Throws a {@link UpgradeRefused} for a handshake the runtime rejects.
   */
  upgrade(c: Context, protocol: string | null, events: PeerEvents): Promise<Response>;
  /** Sends a frame to every peer subscribed to `topic` (only when `pubsub`). */
  publish(topic: string, frame: Frame, compress: boolean): void;
  /** The client's IP address. */
  clientAddress(c: Context): string;
}

/** A handshake the runtime refused; the app answers `status` with the message. */
export class UpgradeRefused extends Error {
  override name = "UpgradeRefused";
  constructor(readonly status: 400 | 426, message: string) {
    super(message);
  }
}

/** What the runtime's HTTP server and its WebSocket adapter are made with (from the options). */
export interface ServeSettings {
  host: string;
  port: number;
  /** PEM certificate (chain) and key for https/wss, or null for http. */
  tls: { cert: string; key: string } | null;
  /** Share the port with other processes (SO_REUSEPORT): a worker under a supervisor. */
  reusePort: boolean;
  /** Deno's `idleTimeout` (ms). */
  pongWait: number;
  /** Bun's `maxPayloadLength` (bytes). */
  readLimit: number;
  /** Bun's `perMessageDeflate`. */
  compress: boolean;
}

/** A runtime's WebSocket adapter and, made together with it, its server (Bun's needs the adapter's handler). */
export interface Serving {
  runtime: Runtime;
  /**
   * Listens and serves `fetch`; calls `onListen` with the address bound.
   * Returns what stops listening (open connections stay).
   * @throws when it cannot listen (a port in use)
   */
  serve(fetch: Hono["fetch"], onListen: (host: string, port: number) => void): () => void;
}

/**
 * What an entrypoint hands to `run()` (src/main.ts): the few things the
 * runtimes do differently outside a connection. Everything else, from
 * the options to the signals, `run()` does the same on both.
 */
export interface Launcher {
  /** The runtime as messages name it: `Deno`, `Bun`. */
  readonly name: string;
  /** The user's arguments (after the runtime's own and the entrypoint). */
  readonly args: readonly string[];
  /** The WebSocket server has permessage-deflate (`--compress`). */
  readonly compression: boolean;
  /**
   * A thread may lower its own scheduling priority (node:os `setPriority`)
   * without a permission prompt: the search worker then gives way to the
   * viewers (src/search_pool.ts).
   */
  threadPriority(): boolean;
  /** Why this process cannot start `workers` worker processes, or null. */
  cannotSpawn(workers: number): string | null;
  /** The command that starts one worker: this runtime, this entrypoint, the same arguments. */
  workerCommand(): WorkerCommand;
  /** The adapter and its server for these settings; nothing listens before {@link Serving.serve}. */
  open(settings: ServeSettings): Serving;
}
