/**
 * A runtime faked in memory (Hono's adapter tests stub Deno.upgradeWebSocket
 * the same way): peers record what they are sent, and the test drives
 * open/pong/drain/close.
 * @module
 */
import type { Context } from "hono";
import type { Frame } from "../../src/messages.ts";
import type { Peer, PeerEvents, Runtime } from "../../src/runtime/types.ts";

export class FakePeer implements Peer {
  sent: Frame[] = [];
  pings = 0;
  buffered = 0;
  closed: [number, string] | null = null;
  terminated = false;
  topics = new Set<string>();
  /** When true, sends report backpressure and add to `buffered`. */
  stuck = false;
  send(frame: Frame): boolean {
    this.sent.push(frame);
    if (this.stuck) this.buffered += typeof frame === "string" ? frame.length : frame.length;
    return !this.stuck;
  }
  bufferedAmount() {
    return this.buffered;
  }
  close(code: number, reason: string) {
    this.closed ??= [code, reason];
  }
  terminate() {
    this.terminated = true;
  }
  ping() {
    this.pings++;
  }
  subscribe(t: string) {
    this.topics.add(t);
  }
  unsubscribe(t: string) {
    this.topics.delete(t);
  }
}

export interface FakeConn {
  peer: FakePeer;
  events: PeerEvents;
  protocol: string | null;
}

export function fakeRuntime(caps: Partial<Pick<Runtime, "pingsItself" | "pubsub" | "sendBatchBytes">> = {}) {
  const conns: FakeConn[] = [];
  const published: Array<[string, Frame]> = [];
  const runtime: Runtime = {
    name: "fake",
    pingsItself: caps.pingsItself ?? false,
    compression: false,
    pubsub: caps.pubsub ?? false,
    headerTimeout: true,
    sendBatchBytes: caps.sendBatchBytes ?? 0,
    upgrade(_c: Context, protocol: string | null, events: PeerEvents) {
      const conn = { peer: new FakePeer(), events, protocol };
      conns.push(conn);
      events.onOpen(conn.peer);
      return Promise.resolve(new Response(null, { status: 200, headers: { "x-fake-upgrade": protocol ?? "" } }));
    },
    publish(topic, frame) {
      published.push([topic, frame]);
      for (const c of conns) if (c.peer.topics.has(topic)) c.peer.sent.push(frame);
    },
    clientAddress: (c) => c.req.header("x-test-ip") ?? "127.0.0.1",
  };
  return { runtime, conns, published };
}
