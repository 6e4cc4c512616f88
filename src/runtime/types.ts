/**
 * The one interface between the core and a runtime. The core (app, hub,
 * sessions, watcher) only ever talks to these; src/runtime/deno.ts and
 * src/runtime/bun.ts implement them.
 * @module
 */
import type { Context } from "hono";
import type { Frame } from "../messages.ts";

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
   * Without pub/sub: send to this many clients, then yield to the event loop
   * before the next ones (0 = all at once). Bounds the copies of a frame that
   * are waiting to be written at any one time.
   */
  readonly sendBatch: number;
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
