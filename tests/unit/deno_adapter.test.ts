/**
 * The Deno adapter with `Deno.upgradeWebSocket` stubbed (as Hono's Deno
 * adapter tests do): what it is given, and how the socket's events reach the
 * core's PeerEvents. And Deno's launcher with the `Deno` namespace faked:
 * what it serves with, and how it starts workers.
 * @module
 */
import { assert, assertEquals, assertRejects } from "../helpers/assert.ts";
import type { Context } from "hono";
import { denoLauncher, type DenoProcess, denoRuntime } from "../../src/runtime/deno.ts";
import { type Peer, type PeerEvents, type ServeSettings, UpgradeRefused } from "../../src/runtime/types.ts";

/** A server WebSocket as far as the adapter uses one: events, state, send/close. */
class FakeSocket extends EventTarget {
  binaryType: BinaryType = "blob";
  readyState: number = WebSocket.CONNECTING;
  bufferedAmount = 0;
  sent: Array<string | Uint8Array> = [];
  closes: Array<[number | undefined, string | undefined]> = [];
  send(data: string | Uint8Array) {
    this.sent.push(data);
  }
  close(code?: number, reason?: string) {
    this.closes.push([code, reason]);
  }
}

type UpgradeOptions = Parameters<typeof Deno.upgradeWebSocket>[1];

/**
 * Runs `fn` with Deno.upgradeWebSocket replaced: each call is recorded and
 * answered with a fresh FakeSocket, or throws `refuse` when given.
 */
async function withStub(
  fn: (
    calls: Array<{ req: Request; options: UpgradeOptions; socket: FakeSocket; response: Response }>,
  ) => Promise<void>,
  refuse?: Error,
): Promise<void> {
  const original = Deno.upgradeWebSocket;
  const calls: Array<{ req: Request; options: UpgradeOptions; socket: FakeSocket; response: Response }> = [];
  Deno.upgradeWebSocket = ((req: Request, options?: UpgradeOptions) => {
    if (refuse) throw refuse;
    const socket = new FakeSocket();
    const response = new Response(null, { status: 200, headers: { "x-stub": String(calls.length) } });
    calls.push({ req, options, socket, response });
    return { socket: socket as unknown as WebSocket, response };
  }) as typeof Deno.upgradeWebSocket;
  try {
    await fn(calls);
  } finally {
    Deno.upgradeWebSocket = original;
  }
}

function context(env: unknown = {}): Context {
  const req = new Request("http://127.0.0.1/ws", { headers: { upgrade: "WebSocket" } });
  return { env, req: { url: req.url, raw: req, header: () => undefined } } as unknown as Context;
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

Deno.test("Deno adapter: upgrades the raw request with the chosen subprotocol and idleTimeout = pongWait", async () => {
  await withStub(async (calls) => {
    const runtime = denoRuntime({ pongWait: 45_000 });
    const c = context();
    const res = await runtime.upgrade(c, "filewatch.v1", recorder().events);
    assertEquals(calls.length, 1);
    assert(calls[0]!.req === c.req.raw, "the request Deno upgrades is the raw one, untouched");
    assertEquals(calls[0]!.options, { protocol: "filewatch.v1", idleTimeout: 45 });
    assert(res === calls[0]!.response, "the response is Deno's 101");
    assertEquals(calls[0]!.socket.binaryType, "arraybuffer");
  });
});

Deno.test("Deno adapter: with no subprotocol chosen, Deno is asked to answer none", async () => {
  await withStub(async (calls) => {
    await denoRuntime({ pongWait: 60_000 }).upgrade(context(), null, recorder().events);
    assertEquals(calls[0]!.options, { protocol: undefined, idleTimeout: 60 });
  });
});

Deno.test("Deno adapter: a handshake Deno rejects is an UpgradeRefused 400 with Deno's reason", async () => {
  const why = new TypeError("Protocol 'filewatch.v1' not in the request's protocol list (non negotiable)");
  await withStub(async () => {
    const e = await assertRejects(() =>
      denoRuntime({ pongWait: 60_000 }).upgrade(context(), "filewatch.v1", recorder().events)
    );
    assert(e instanceof UpgradeRefused, `got ${e}`);
    assertEquals(e.status, 400);
    assertEquals(e.message, `Bad WebSocket handshake: ${why.message}`);
  }, why);
});

Deno.test("Deno adapter: open, message and close reach PeerEvents with sizes in bytes and the close code", async () => {
  await withStub(async (calls) => {
    const r = recorder();
    await denoRuntime({ pongWait: 60_000 }).upgrade(context(), "filewatch.v1", r.events);
    const socket = calls[0]!.socket;
    assertEquals(r.calls, [], "nothing before the socket opens");
    socket.readyState = WebSocket.OPEN;
    socket.dispatchEvent(new Event("open"));
    socket.dispatchEvent(new MessageEvent("message", { data: "héllo" }));
    socket.dispatchEvent(new MessageEvent("message", { data: new ArrayBuffer(700) }));
    socket.dispatchEvent(new Event("error"));
    socket.dispatchEvent(new CloseEvent("close", { code: 1009, reason: "message too big" }));
    // Deno can fire close twice: both are passed on; the core makes them one.
    socket.dispatchEvent(new CloseEvent("close", { code: 1005, reason: "" }));
    assertEquals(r.calls, [
      ["open"],
      ["message", 6],
      ["message", 700],
      ["close", 1009, "message too big"],
      ["close", 1005, ""],
    ]);
  });
});

Deno.test("Deno adapter: the peer sends while open, closes with the core's code, and has no pings or topics", async () => {
  await withStub(async (calls) => {
    const r = recorder();
    await denoRuntime({ pongWait: 60_000 }).upgrade(context(), null, r.events);
    const socket = calls[0]!.socket;
    socket.readyState = WebSocket.OPEN;
    socket.dispatchEvent(new Event("open"));
    const peer = r.peer()!;
    assertEquals(peer.send("v1", false), true);
    socket.bufferedAmount = 1234;
    assertEquals(peer.bufferedAmount(), 1234);
    peer.ping();
    peer.subscribe("fw.plain");
    peer.unsubscribe("fw.plain");
    peer.close(1001, "server shutting down");
    peer.terminate();
    assertEquals(socket.closes, [[1001, "server shutting down"], [1008, "slow consumer"]]);
    socket.readyState = WebSocket.CLOSING;
    assertEquals(peer.send("v2", false), false, "a closing socket takes no frame");
    peer.terminate();
    assertEquals(socket.closes.length, 2, "terminate on a closing socket queues no second close frame");
    assertEquals(socket.sent, ["v1"]);
  });
});

Deno.test("Deno adapter: the client address is Deno.serve's remoteAddr", () => {
  const runtime = denoRuntime({ pongWait: 60_000 });
  const info = { remoteAddr: { transport: "tcp", hostname: "10.1.2.3", port: 5555 } };
  assertEquals(runtime.clientAddress(context(info)), "10.1.2.3");
  assertEquals(runtime.clientAddress(context({ remoteAddr: { transport: "unix", path: "/s" } })), "unknown");
  assertEquals(runtime.clientAddress(context(undefined)), "unknown");
});

Deno.test("Deno adapter: DENO_USE_WRITEV is turned on unless the user set it", () => {
  const before = Deno.env.get("DENO_USE_WRITEV");
  try {
    Deno.env.delete("DENO_USE_WRITEV");
    denoRuntime({ pongWait: 60_000 });
    assertEquals(Deno.env.get("DENO_USE_WRITEV"), "1");
    Deno.env.set("DENO_USE_WRITEV", "0");
    denoRuntime({ pongWait: 60_000 });
    assertEquals(Deno.env.get("DENO_USE_WRITEV"), "0");
  } finally {
    if (before === undefined) Deno.env.delete("DENO_USE_WRITEV");
    else Deno.env.set("DENO_USE_WRITEV", before);
  }
});

/** The `Deno` namespace as far as the launcher uses it; `run` is the state of the run permission. */
function fakeDeno(run: Deno.PermissionState = "granted") {
  const served: Array<{ options: Record<string, unknown>; handler: unknown }> = [];
  const queries: unknown[] = [];
  let shutdowns = 0;
  const deno = {
    args: ["--port", "0", "app.log"],
    execPath: () => "/opt/deno",
    permissions: { querySync: (d: unknown) => (queries.push(d), { state: run }) },
    serve: (options: Record<string, unknown>, handler: unknown) => {
      served.push({ options, handler });
      (options.onListen as (a: { hostname: string; port: number }) => void)({ hostname: "127.0.0.1", port: 40404 });
      return { shutdown: () => (shutdowns++, Promise.resolve()) };
    },
  };
  return { deno: deno as unknown as DenoProcess, served, queries, shutdowns: () => shutdowns };
}

const settings: ServeSettings = {
  host: "127.0.0.1",
  port: 0,
  tls: null,
  reusePort: false,
  pongWait: 30_000,
  readLimit: 512,
  compress: false,
};

Deno.test("Deno launcher: the user's arguments, no compression, and workers as Deno run again with the server's permissions", () => {
  const { deno } = fakeDeno();
  const launcher = denoLauncher("/src/deno.ts", deno);
  assertEquals([launcher.name, launcher.args, launcher.compression], ["Deno", ["--port", "0", "app.log"], false]);
  assertEquals(launcher.workerCommand(), {
    cmd: "/opt/deno",
    args: [
      "run",
      "--quiet",
      "--no-lock",
      "--allow-net",
      "--allow-read",
      "--allow-env",
      "--unstable-net",
      "/src/deno.ts",
      "--port",
      "0",
      "app.log",
    ],
  });
  // With a deno.json beside src/ (a checkout, the image, the installed package), workers are told where it is:
  // they start where the user stands, which need not be where it is found.
  const here = new URL("../../src/deno.ts", import.meta.url).pathname;
  const args = denoLauncher(here, deno).workerCommand().args;
  assertEquals(args.slice(0, 4), [
    "run",
    "--quiet",
    "--no-lock",
    `--config=${new URL("../../deno.json", import.meta.url).pathname}`,
  ]);
});

Deno.test("Deno launcher: workers need the permission to run Deno itself, and the refusal says how to grant it", () => {
  const granted = fakeDeno("granted");
  assertEquals(denoLauncher("/src/deno.ts", granted.deno).cannotSpawn(2), null);
  assertEquals(granted.queries, [{ name: "run", command: "/opt/deno" }]);
  assertEquals(
    denoLauncher("/src/deno.ts", fakeDeno("prompt").deno).cannotSpawn(2),
    "Cannot use --workers 2 on Deno without --allow-run: the supervisor starts Deno once per worker (add --allow-run=/opt/deno)",
  );
});

Deno.test("Deno launcher: serves the app with Deno.serve, TLS and reusePort as set, and stops with shutdown()", () => {
  const { deno, served, shutdowns } = fakeDeno();
  const fetch = () => new Response("ok");
  const plain = denoLauncher("/src/deno.ts", deno).open(settings);
  assertEquals(plain.runtime.name, "deno");
  const heard: Array<[string, number]> = [];
  const stop = plain.serve(fetch, (host, port) => heard.push([host, port]));
  assertEquals(heard, [["127.0.0.1", 40404]]);
  const { onListen: _, ...options } = served[0]!.options;
  assertEquals(options, { hostname: "127.0.0.1", port: 0, reusePort: false });
  assert(served[0]!.handler === fetch);
  stop();
  assertEquals(shutdowns(), 1);

  const tls = { cert: "CERT", key: "KEY" };
  denoLauncher("/src/deno.ts", deno).open({ ...settings, tls, reusePort: true, port: 8443 }).serve(fetch, () => {});
  const { onListen: __, ...secure } = served[1]!.options;
  assertEquals(secure, { cert: "CERT", key: "KEY", hostname: "127.0.0.1", port: 8443, reusePort: true });
});
