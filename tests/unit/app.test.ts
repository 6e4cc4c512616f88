import { assertEquals, assertMatch } from "../helpers/assert.ts";
import { parseExposition } from "../helpers/prom.ts";
import { checkHandshake, checkOrigin, createApp } from "../../src/app.ts";
import { parseConfig } from "../../src/config.ts";
import { Hub } from "../../src/hub.ts";
import { createLogger } from "../../src/log.ts";
import { FileWatcher } from "../../src/watcher.ts";
import { fakeRuntime } from "../helpers/fake_runtime.ts";

const WS_HEADERS = {
  Host: "localhost:8080",
  Upgrade: "websocket",
  Connection: "Upgrade",
  "Sec-WebSocket-Version": "13",
  "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
};

async function app(args: string[] = []) {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/f.log`, "<b>hi</b>");
  const options = parseConfig([...args, `${dir}/f.log`], {});
  const watcher = new FileWatcher({ file: options.file, poll: 3_600_000, maxFileSize: 1 << 20, events: false });
  const fake = fakeRuntime();
  const hub = new Hub(options, watcher, fake.runtime, createLogger("text", true, () => {}));
  const a = createApp(options, { runtime: fake.runtime, hub, listening: () => true });
  const ws = (headers: Record<string, string> = {}, q = "") =>
    a.request("http://localhost:8080/ws" + q, { headers: { ...WS_HEADERS, ...headers } });
  return { a, hub, fake, ws, done: () => hub.shutdown(10) };
}

Deno.test("checkOrigin() allows no Origin, same host, and listed origins; refuses the rest", () => {
  const cases: Array<[string | undefined, string, string[], boolean]> = [
    [undefined, "h:1", [], true],
    ["http://h:1", "h:1", [], true],
    ["https://H:1", "h:1", [], true],
    ["http://h:2", "h:1", [], false],
    ["http://h.evil.com:1", "h:1", [], false],
    ["null", "h:1", [], false],
    ["not a url", "h:1", [], false],
    ["https://ok.example", "h:1", ["https://ok.example"], true],
    ["https://ok.example:8443", "h:1", ["https://ok.example"], false],
    ["http://anything", "h:1", ["*"], true],
  ];
  for (const [origin, host, allowed, want] of cases) {
    assertEquals(checkOrigin(origin, host, allowed), want, `${origin} vs ${host} ${allowed}`);
  }
});

Deno.test("checkHandshake() names what is wrong with a handshake", () => {
  const h = (over: Record<string, string | undefined>) => {
    const all: Record<string, string | undefined> = {
      upgrade: "websocket",
      connection: "keep-alive, Upgrade",
      "sec-websocket-version": "13",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      ...over,
    };
    return checkHandshake((n) => all[n]);
  };
  assertEquals(h({}), null);
  assertEquals(h({ upgrade: "WebSocket" }), null);
  assertEquals(h({ upgrade: undefined })?.status, 426);
  assertEquals(h({ connection: "close" })?.status, 400);
  assertEquals(h({ "sec-websocket-version": "8" })?.headers, { "Sec-WebSocket-Version": "13" });
  assertEquals(h({ "sec-websocket-key": "abc" })?.status, 400);
  assertEquals(h({ "sec-websocket-key": undefined })?.status, 400);
});

Deno.test("createApp(): upgrade refusals are 4xx/503 with a reason, and counted by reason", async () => {
  const { ws, a, done } = await app(["--max-clients", "2", "--max-clients-per-ip", "1"]);
  const notWs = await a.request("http://localhost:8080/ws");
  assertEquals(notWs.status, 426);
  const evil = await ws({ Origin: "http://evil.example" });
  assertEquals(evil.status, 403);
  assertMatch(await evil.text(), /Origin "http:\/\/evil.example" is not allowed/);
  assertEquals((await ws({ "x-test-ip": "1.1.1.1" })).status, 200);
  const perIp = await ws({ "x-test-ip": "1.1.1.1" });
  assertEquals(perIp.status, 429);
  assertEquals((await ws({ "x-test-ip": "2.2.2.2" })).status, 200);
  const full = await ws({ "x-test-ip": "3.3.3.3" });
  assertEquals(full.status, 503);
  assertMatch(await full.text(), /client limit reached \(2\)/);
  const m = parseExposition(await (await a.request("http://localhost:8080/metrics")).text());
  assertEquals(m.get("filewatch_upgrades_refused_total", { reason: "origin" }), 1);
  assertEquals(m.get("filewatch_upgrades_refused_total", { reason: "ip_limit" }), 1);
  assertEquals(m.get("filewatch_upgrades_refused_total", { reason: "limit" }), 1);
  assertEquals(m.get("filewatch_upgrades_refused_total", { reason: "bad_request" }), 1);
  assertEquals(m.get("filewatch_upgrades_total"), 2);
  assertEquals(m.get("filewatch_clients"), 2);
  await done();
});

Deno.test("createApp(): the upgrade names filewatch.v1 when offered, and none otherwise", async () => {
  const { ws, done } = await app();
  assertEquals(
    (await ws({ "Sec-WebSocket-Protocol": "chat, filewatch.v1" })).headers.get("x-fake-upgrade"),
    "filewatch.v1",
  );
  assertEquals((await ws({ "Sec-WebSocket-Protocol": "chat" })).headers.get("x-fake-upgrade"), "");
  await done();
});

Deno.test("createApp(): routes answer 200/404/405, and /metrics never carries the file", async () => {
  const { a, done } = await app();
  const page = await a.request("http://localhost:8080/");
  assertEquals(page.status, 200);
  assertMatch(await page.text(), /&lt;b&gt;hi&lt;\/b&gt;/);
  assertEquals((await a.request("http://localhost:8080/healthz")).status, 200);
  assertEquals((await a.request("http://localhost:8080/readyz")).status, 200);
  assertEquals((await a.request("http://localhost:8080/x")).status, 404);
  const post = await a.request("http://localhost:8080/healthz", { method: "POST" });
  assertEquals([post.status, post.headers.get("allow")], [405, "GET, HEAD"]);
  const metrics = await (await a.request("http://localhost:8080/metrics")).text();
  assertEquals(metrics.includes("hi"), false);
  parseExposition(metrics);
  await done();
});

Deno.test("createApp(): the page's CSP lets its script open sockets to its own host only", async () => {
  const { a, done } = await app();
  const res = await a.request("http://localhost:8080/");
  await res.body?.cancel();
  const csp = res.headers.get("content-security-policy") ?? "";
  const connect = /connect-src ([^;]*)/.exec(csp)?.[1]?.trim().split(/\s+/);
  assertEquals(connect, ["'self'"], `a bare ws: or wss: would allow any host: ${csp}`);
  await done();
});
