/**
 * The Bun adapter with Bun faked (as Hono's adapter tests stub the runtime):
 * what it hands `server.upgrade`, and where `publish` goes.
 * @module
 */
import { assertEquals, assertThrows } from "../assert.ts";
import type { Context } from "hono";
import type { BunServer } from "../../src/runtime/bun.ts";
import type { PeerEvents } from "../../src/runtime/types.ts";

// hono/bun reads the global `Bun` when it loads: stand in for it, then load the adapter.
(globalThis as { Bun?: unknown }).Bun ??= {};
const { bunRuntime } = await import("../../src/runtime/bun.ts");

function fakeServer() {
  const published: Array<[string, unknown]> = [];
  const upgrades: Array<{ headers?: HeadersInit }> = [];
  const server: BunServer = {
    upgrade(_req, opts) {
      upgrades.push(opts);
      return true;
    },
    publish(topic, data) {
      published.push([topic, data]);
      return 1;
    },
  };
  return { server, published, upgrades };
}

const noEvents: PeerEvents = { onOpen() {}, onMessage() {}, onPong() {}, onDrain() {}, onClose() {} };

function context(server: BunServer): Context {
  const req = new Request("http://127.0.0.1/ws");
  return { env: server, req: { url: req.url, raw: req, header: () => undefined } } as unknown as Context;
}

Deno.test("Bun adapter: publish reaches the server that upgraded the sockets, even without attach()", async () => {
  const { runtime } = bunRuntime({ readLimit: 512, compress: false });
  const { server, published, upgrades } = fakeServer();
  assertThrows(() => runtime.publish("fw.v1", "x", false), "nothing upgraded yet: say so, never drop silently");
  await runtime.upgrade(context(server), "filewatch.v1", noEvents);
  assertEquals(upgrades[0]!.headers, { "Sec-WebSocket-Protocol": "filewatch.v1" });
  runtime.publish("fw.v1", "frame", false);
  assertEquals(published, [["fw.v1", "frame"]]);
});

Deno.test("Bun adapter: the upgrade answers no subprotocol when none was chosen", async () => {
  const { runtime } = bunRuntime({ readLimit: 512, compress: false });
  const { server, upgrades } = fakeServer();
  await runtime.upgrade(context(server), null, noEvents);
  assertEquals(upgrades[0]!.headers, { "Sec-WebSocket-Protocol": "" });
});
