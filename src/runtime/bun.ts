/**
 * Bun adapter: Hono's `websocket` handler from `hono/bun`, extended with the
 * `pong` and `drain` callbacks Bun offers, and an upgrade that answers the
 * subprotocol we chose.
 *
 * Why not Hono's `upgradeWebSocket` as it is: it echoes the first offered
 * subprotocol and cannot choose, and browsers fail a handshake whose answer
 * names a protocol other than one they can use. Bun's `server.upgrade` takes
 * the response headers, so we upgrade with the same `data` shape Hono's
 * handler expects and name the protocol ourselves.
 *
 * Types are declared locally (only what is used) so the shared type check
 * runs without Bun's global types.
 * @module
 */
import { Buffer } from "node:buffer";
import type { Context } from "hono";
import { getBunServer, getConnInfo, websocket as honoWebsocket } from "hono/bun";
import type { WSEvents } from "hono/ws";
import type { Frame } from "../messages.ts";
import { type Peer, type PeerEvents, type Runtime, UpgradeRefused } from "./types.ts";

interface SocketData {
  /** What Hono's handler dispatches open/message/close to. */
  events: WSEvents<BunSocket>;
  url: URL;
  protocol: string;
  peer: PeerEvents;
}

/** The parts of Bun's ServerWebSocket used here. */
export interface BunSocket {
  data: SocketData;
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
  upgrade(req: Request, opts: { data: SocketData; headers?: HeadersInit }): boolean;
  publish(topic: string, data: Frame, compress?: boolean): number;
}

/** Settings for Bun's runtime and its `websocket` handler. */
export interface BunRuntimeOptions {
  readLimit: number;
  compress: boolean;
}

/**
 * Builds the Bun adapter and the `websocket` object to pass to `Bun.serve`.
 * Call `attach(server)` with the server `Bun.serve` returns.
 */
export function bunRuntime(opts: BunRuntimeOptions): {
  runtime: Runtime;
  websocket: Record<string, unknown>;
  attach(server: BunServer): void;
} {
  let server: BunServer | null = null;
  const runtime: Runtime = {
    name: "bun",
    pingsItself: false,
    compression: true,
    pubsub: true,
    sendBatch: 0,
    upgrade(c: Context, protocol: string | null, events: PeerEvents): Promise<Response> {
      const srv = getBunServer<BunServer>(c) ?? server;
      if (!srv) throw new Error("Bun server not attached");
      // The server that upgraded a socket is the one to publish to: a socket
      // can only join a topic after an upgrade, so publish always has it,
      // even if attach() was never called.
      server ??= srv;
      const data: SocketData = {
        url: new URL(c.req.url),
        protocol: protocol ?? "",
        peer: events,
        events: {
          onOpen: (_evt, ws) => events.onOpen(bunPeer(ws.raw as BunSocket)),
          onMessage: (evt) => {
            const d = evt.data;
            events.onMessage(typeof d === "string" ? Buffer.byteLength(d, "utf8") : (d as ArrayBuffer).byteLength);
          },
          onClose: (evt) => events.onClose(evt.code, evt.reason),
        },
      };
      // Without a header of ours Bun echoes the first offered protocol, even one
      // we do not speak; an empty value makes it answer none.
      const headers = { "Sec-WebSocket-Protocol": protocol ?? "" };
      if (!srv.upgrade(c.req.raw, { data, headers })) {
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
      return getConnInfo(c).remote.address ?? "unknown";
    },
  };
  const websocket = {
    ...honoWebsocket,
    pong(ws: BunSocket) {
      ws.data.peer.onPong();
    },
    drain(ws: BunSocket) {
      ws.data.peer.onDrain();
    },
    // Bun refuses a larger message before buffering it and closes with 1009.
    maxPayloadLength: opts.readLimit,
    perMessageDeflate: opts.compress,
    // The core pings and keeps the pong deadlines (DESIGN §4), not uWS.
    idleTimeout: 0,
    sendPings: false,
  };
  return { runtime, websocket, attach: (s) => void (server = s) };
}

function bunPeer(ws: BunSocket): Peer {
  return {
    send: (frame, compress) => ws.send(frame, compress) > 0,
    bufferedAmount: () => ws.getBufferedAmount(),
    close: (code, reason) => ws.close(code, reason),
    terminate: () => ws.terminate(),
    ping: () => void ws.ping(),
    subscribe: (t) => ws.subscribe(t),
    unsubscribe: (t) => ws.unsubscribe(t),
  };
}
