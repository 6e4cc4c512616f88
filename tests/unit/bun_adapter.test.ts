/**
 * The Bun adapter with Bun faked (as Hono's adapter tests stub the runtime):
 * what it hands `server.upgrade`, where `publish` goes, and how its
 * `websocket` handler maps Bun's callbacks to the core's PeerEvents. And
 * Bun's launcher with the `Bun` global faked: what it serves with, and how
 * it starts workers.
 * @module
 */
import { assert, assertEquals, assertRejects, assertThrows } from "../helpers/assert.ts";
import type { Context } from "hono";
import process from "node:process";
import { type BunGlobal, bunLauncher, bunRuntime, type BunServer, type BunSocket } from "../../src/runtime/bun.ts";
import { type Peer, type PeerEvents, UpgradeRefused } from "../../src/runtime/types.ts";

function fakeServer(accept = true) {
  const published: Array<[string, unknown, boolean | undefined]> = [];
  const upgrades: Array<{ req: Request; data: PeerEvents; headers?: HeadersInit }> = [];
  const server: BunServer = {
    upgrade(req, opts) {
      upgrades.push({ req, ...opts });
      return accept;
    },
    publish(topic, data, compress) {
      published.push([topic, data, compress]);
      return 1;
    },
    requestIP: () => ({ address: "10.9.8.7" }),
  };
  return { server, published, upgrades };
}

const noEvents: PeerEvents = { onOpen() {}, onMessage() {}, onPong() {}, onDrain() {}, onClose() {} };

function context(server: BunServer | undefined): Context {
  const req = new Request("http://127.0.0.1/ws");
  return { env: server, req: { url: req.url, raw: req, header: () => undefined } } as unknown as Context;
}

/** PeerEvents that record every call. */
function recorder() {
  const calls: Array<[string, ...unknown[]]> = [];
  let peer: Peer | null = null;
  const events: PeerEvents = {
    onOpen: (p) => {
      peer = p;
      calls.push(["open"]);
    },
    onMessage: (bytes) => calls.push(["message", bytes]),
    onPong: () => calls.push(["pong"]),
    onDrain: () => calls.push(["drain"]),
    onClose: (code, reason) => calls.push(["close", code, reason]),
  };
  return { events, calls, peer: () => peer };
}

/** A ServerWebSocket as far as the adapter uses one; `sendResult` is what Bun's send returns. */
function fakeSocket(data: PeerEvents) {
  const did: Array<[string, ...unknown[]]> = [];
  const ws = {
    data,
    sendResult: 5,
    buffered: 0,
    send(frame, compress) {
      did.push(["send", frame, compress]);
      return this.sendResult;
    },
    ping() {
      did.push(["ping"]);
      return 2;
    },
    getBufferedAmount() {
      return this.buffered;
    },
    close(code, reason) {
      did.push(["close", code, reason]);
    },
    terminate() {
      did.push(["terminate"]);
    },
    subscribe(t) {
      did.push(["subscribe", t]);
    },
    unsubscribe(t) {
      did.push(["unsubscribe", t]);
    },
  } satisfies BunSocket & { sendResult: number; buffered: number };
  return { ws, did };
}

Deno.test("Bun adapter: publish reaches the server that upgraded the sockets, even without attach()", async () => {
  const { runtime } = bunRuntime({ readLimit: 512, compress: false });
  const { server, published, upgrades } = fakeServer();
  assertThrows(() => runtime.publish("fw.v1", "x", false), "nothing upgraded yet: say so, never drop silently");
  await runtime.upgrade(context(server), "filewatch.v1", noEvents);
  assertEquals(upgrades[0]!.headers, { "Sec-WebSocket-Protocol": "filewatch.v1" });
  runtime.publish("fw.v1", "frame", true);
  assertEquals(published, [["fw.v1", "frame", true]]);
});

Deno.test("Bun adapter: publish goes to the attached server before any upgrade", () => {
  const { runtime, attach } = bunRuntime({ readLimit: 512, compress: false });
  const { server, published } = fakeServer();
  attach(server);
  runtime.publish("fw.plain", "frame", false);
  assertEquals(published, [["fw.plain", "frame", false]]);
});

Deno.test("Bun adapter: the upgrade answers no subprotocol when none was chosen", async () => {
  const { runtime } = bunRuntime({ readLimit: 512, compress: false });
  const { server, upgrades } = fakeServer();
  await runtime.upgrade(context(server), null, noEvents);
  assertEquals(upgrades[0]!.headers, { "Sec-WebSocket-Protocol": "" });
});

Deno.test("Bun adapter: the socket's data is the connection's PeerEvents itself, on the raw request", async () => {
  const { runtime } = bunRuntime({ readLimit: 512, compress: false });
  const { server, upgrades } = fakeServer();
  const c = context(server);
  const events = recorder().events;
  await runtime.upgrade(c, "filewatch.v1", events);
  assert(upgrades[0]!.data === events, "no wrapper object per connection");
  assert(upgrades[0]!.req === c.req.raw);
});

Deno.test("Bun adapter: an upgrade Bun refuses is an UpgradeRefused 400", async () => {
  const { runtime } = bunRuntime({ readLimit: 512, compress: false });
  const e = await assertRejects(() => runtime.upgrade(context(fakeServer(false).server), null, noEvents));
  assert(e instanceof UpgradeRefused, `got ${e}`);
  assertEquals(e.status, 400);
});

Deno.test("Bun adapter: the client address is the server's requestIP", () => {
  const { runtime } = bunRuntime({ readLimit: 512, compress: false });
  assertEquals(runtime.clientAddress(context(fakeServer().server)), "10.9.8.7");
  const none: BunServer = { ...fakeServer().server, requestIP: () => null };
  assertEquals(runtime.clientAddress(context(none)), "unknown");
});

Deno.test("Bun adapter: the websocket options are the read limit, --compress, and no pings or idle timeout of Bun's", () => {
  assertEquals(
    (({ maxPayloadLength, perMessageDeflate, idleTimeout, sendPings }) => ({
      maxPayloadLength,
      perMessageDeflate,
      idleTimeout,
      sendPings,
    }))(bunRuntime({ readLimit: 777, compress: true }).websocket),
    { maxPayloadLength: 777, perMessageDeflate: true, idleTimeout: 0, sendPings: false },
  );
  assertEquals(bunRuntime({ readLimit: 512, compress: false }).websocket.perMessageDeflate, false);
});

Deno.test("Bun adapter: open/message/close/pong/drain reach PeerEvents with sizes in bytes and the close code", () => {
  const { websocket } = bunRuntime({ readLimit: 512, compress: false });
  const r = recorder();
  const { ws } = fakeSocket(r.events);
  websocket.open(ws);
  websocket.message(ws, "héllo");
  websocket.message(ws, new Uint8Array(700));
  websocket.pong(ws, new Uint8Array(0));
  websocket.drain(ws);
  websocket.close(ws, 1009, "Received too big message");
  assertEquals(r.calls, [
    ["open"],
    ["message", 6],
    ["message", 700],
    ["pong"],
    ["drain"],
    ["close", 1009, "Received too big message"],
  ]);
});

Deno.test("Bun adapter: the peer passes sends, pings, closes and topics to Bun's socket", () => {
  const { websocket } = bunRuntime({ readLimit: 512, compress: true });
  const r = recorder();
  const { ws, did } = fakeSocket(r.events);
  websocket.open(ws);
  const peer = r.peer()!;
  assertEquals(peer.send("a", true), true);
  ws.sendResult = -1;
  assertEquals(peer.send("b", false), false, "-1: queued under backpressure");
  ws.sendResult = 0;
  assertEquals(peer.send("c", false), false, "0: dropped");
  ws.buffered = 4096;
  assertEquals(peer.bufferedAmount(), 4096);
  peer.ping();
  peer.subscribe("fw.v1");
  peer.unsubscribe("fw.v1");
  peer.close(1000, "bye");
  peer.terminate();
  assertEquals(did, [
    ["send", "a", true],
    ["send", "b", false],
    ["send", "c", false],
    ["ping"],
    ["subscribe", "fw.v1"],
    ["unsubscribe", "fw.v1"],
    ["close", 1000, "bye"],
    ["terminate"],
  ]);
});

/** The `Bun` global as far as the launcher uses it: what `serve` was given, and whether it was stopped. */
function fakeBun() {
  const served: Array<Parameters<BunGlobal["serve"]>[0]> = [];
  const stops: Array<boolean | undefined> = [];
  const { server, published } = fakeServer();
  const bun: BunGlobal = {
    argv: ["/opt/bun", "/src/bun.ts", "--compress", "app.log"],
    serve(options) {
      served.push(options);
      return { ...server, hostname: "127.0.0.1", port: 40404, stop: (all) => void stops.push(all) };
    },
  };
  return { bun, served, stops, published };
}

Deno.test("Bun launcher: the user's arguments, compression, and workers as Bun run again on the entrypoint", () => {
  const launcher = bunLauncher(fakeBun().bun, "/src/bun.ts");
  assertEquals([launcher.name, launcher.args, launcher.compression], ["Bun", ["--compress", "app.log"], true]);
  assertEquals(launcher.cannotSpawn(4), null);
  assertEquals(launcher.workerCommand(), {
    cmd: process.execPath,
    args: ["run", "/src/bun.ts", "--compress", "app.log"],
  });
  // In an executable from `bun build --compile`, the executable is the command: no `run`, no entrypoint.
  assertEquals(bunLauncher(fakeBun().bun, "/$bunfs/root/filewatch").workerCommand(), {
    cmd: process.execPath,
    args: ["--compress", "app.log"],
  });
});

Deno.test("Bun launcher: serves the app with the adapter's websocket handler, TLS and reusePort as set", () => {
  const { bun, served, stops, published } = fakeBun();
  const settings = {
    host: "127.0.0.1",
    port: 0,
    tls: null,
    reusePort: false,
    pongWait: 30_000,
    readLimit: 2048,
    compress: true,
  };
  const serving = bunLauncher(bun, "/src/bun.ts").open(settings);
  assertEquals(serving.runtime.name, "bun");
  const fetch = () => new Response("ok");
  const heard: Array<[string, number]> = [];
  const stop = serving.serve(fetch, (host, port) => heard.push([host, port]));
  assertEquals(heard, [["127.0.0.1", 40404]], "Bun listens when serve returns; the port it chose is told");
  const { websocket, ...options } = served[0]!;
  assertEquals(options, { hostname: "127.0.0.1", port: 0, reusePort: false, fetch });
  assertEquals([websocket.maxPayloadLength, websocket.perMessageDeflate], [2048, true]);
  // The served server is attached: publish reaches it before any upgrade.
  serving.runtime.publish("t", "frame", false);
  assertEquals(published, [["t", "frame", false]]);
  stop();
  assertEquals(stops, [false], "stop listening, leave the connections to the hub's shutdown");

  bunLauncher(bun, "/src/bun.ts").open({ ...settings, tls: { cert: "CERT", key: "KEY" }, reusePort: true })
    .serve(fetch, () => {});
  assertEquals([served[1]!.tls, served[1]!.reusePort], [{ cert: "CERT", key: "KEY" }, true]);
});
