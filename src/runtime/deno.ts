/**
 * Deno adapter: Hono's `upgradeWebSocket` from `hono/deno`, translated into
 * the core's {@link Peer}/{@link PeerEvents}.
 *
 * Deno's server WebSocket has no `ping()` and never shows pongs to JS; its
 * `idleTimeout` pings at half the timeout and closes with 1001 when nothing
 * comes back, so here the runtime keeps clients alive, not the core.
 * @module
 */
import { Buffer } from "node:buffer";
import type { Context } from "hono";
import { getConnInfo, upgradeWebSocket } from "hono/deno";
import type { Frame } from "../messages.ts";
import { type Peer, type PeerEvents, type Runtime, UpgradeRefused } from "./types.ts";

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
  return {
    name: "deno",
    pingsItself: true,
    compression: false,
    pubsub: false,
    // Deno copies a string frame into a new buffer per socket and keeps it
    // until that socket's write completes: at 5,000 clients × 64 KiB that
    // was 140 KiB per client (BENCHMARKS.md). Batches let each batch's copies
    // be written and freed before the next are made.
    sendBatch: 256,
    async upgrade(c: Context, protocol: string | null, events: PeerEvents): Promise<Response> {
      // Hono's Deno helper only upgrades when the Upgrade header is exactly
      // "websocket", but the token is case-insensitive (RFC 6455 §4.2.1, and
      // the app has already checked it that way): hand the helper a view of
      // the request with the header normalised. Deno itself reads the raw
      // request, which is passed on untouched.
      const view = {
        req: {
          raw: c.req.raw,
          header: (name: string) => name.toLowerCase() === "upgrade" ? "websocket" : c.req.header(name),
        },
      } as unknown as Context;
      try {
        return await upgradeWebSocket(view, {
          onOpen(_evt, ws) {
            const socket = ws.raw as WebSocket;
            // Text frames arrive as strings; binary ones as ArrayBuffers, not Blobs.
            socket.binaryType = "arraybuffer";
            events.onOpen(denoPeer(socket));
          },
          onMessage(evt) {
            const d = evt.data;
            events.onMessage(typeof d === "string" ? Buffer.byteLength(d, "utf8") : (d as ArrayBuffer).byteLength);
          },
          onClose(evt) {
            events.onClose(evt.code, evt.reason);
          },
        }, {
          // Hono passes the first offered protocol unless told; undefined answers none.
          protocol: protocol ?? undefined,
          idleTimeout: opts.pongWait / 1000,
        });
      } catch (e) {
        // Deno throws (Hono would answer 500) for handshakes it rejects, e.g. a
        // Sec-WebSocket-Protocol of "a,b" without the space it splits on.
        throw new UpgradeRefused(400, `Bad WebSocket handshake: ${(e as Error).message}`);
      }
    },
    publish(): void {
      throw new Error("Deno has no pub/sub; the hub sends one by one");
    },
    clientAddress(c: Context): string {
      return getConnInfo(c).remote.address ?? "unknown";
    },
  };
}

function denoPeer(socket: WebSocket): Peer {
  return {
    send(frame: Frame): boolean {
      if (socket.readyState !== WebSocket.OPEN) return false;
      socket.send(frame);
      return true;
    },
    bufferedAmount: () => socket.bufferedAmount,
    close(code, reason) {
      socket.close(code, reason);
    },
    terminate() {
      // Deno cannot drop a WebSocket without the close handshake: the close
      // frame is queued, and the runtime's idleTimeout reaps a peer that
      // never completes it.
      if (socket.readyState === WebSocket.OPEN) socket.close(1008, "slow consumer");
    },
    ping() {},
    subscribe() {},
    unsubscribe() {},
  };
}
