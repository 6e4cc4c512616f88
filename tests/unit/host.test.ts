import { Hono } from "hono";
import { assert, assertEquals, assertMatch, assertThrows } from "../helpers/assert.ts";
import { checkHost, HostAllowlist, hostOfHeader, normalizeHostName, parseHostList } from "../../src/host.ts";
import { parseCidrList } from "../../src/proxy.ts";

Deno.test("normalizeHostName() gives names as browsers send them: lower case, punycode, dotted IPv4, no trailing dot", () => {
  const cases: Array<[string, string | null]> = [
    ["LOGS.Example.COM", "logs.example.com"],
    ["logs.example.com.", "logs.example.com"],
    ["bücher.example", "xn--bcher-kva.example"],
    ["xn--bcher-kva.example", "xn--bcher-kva.example"],
    ["[::1]", "[::1]"],
    ["[0:0:0:0:0:0:0:1]", "[::1]"],
    ["[::ffff:127.0.0.1]", "[::ffff:7f00:1]"],
    ["2130706433", "127.0.0.1"],
    ["0x7f.1", "127.0.0.1"],
    ["127.0.0.1.", "127.0.0.1"],
    ["", null],
    ["a b", null],
    ["evil.example@127.0.0.1", null],
    ["127.0.0.1/evil", null],
    ["::1", null],
    ["host:80", null],
    ["a?b", null],
    ["a#b", null],
    ["a%2fb", null],
    ["example.123", null],
  ];
  for (const [text, want] of cases) assertEquals(normalizeHostName(text), want, JSON.stringify(text));
});

Deno.test("hostOfHeader() takes host[:port], ignoring the port; anything else is not a host", () => {
  assertEquals(hostOfHeader("Evil.Example:8080"), "evil.example");
  assertEquals(hostOfHeader("evil.example:"), "evil.example");
  assertEquals(hostOfHeader("[::1]:80"), "[::1]");
  assertEquals(hostOfHeader(" localhost "), "localhost");
  assertEquals(hostOfHeader("127.0.0.1:99999"), null);
  assertEquals(hostOfHeader("a:b:c"), null);
  assertEquals(hostOfHeader("127.0.0.1, evil.example"), null);
});

Deno.test("parseHostList() normalizes each name, keeps *, and names a bad entry", () => {
  assertEquals(parseHostList("Logs.Example.com., bücher.example ,*"), [
    "logs.example.com",
    "xn--bcher-kva.example",
    "*",
  ]);
  assertMatch(
    (assertThrows(() => parseHostList("ok.example,https://x.example")) as Error).message,
    /^"https:\/\/x\.example": expected a host name/,
  );
  assertMatch((assertThrows(() => parseHostList("x.example:8080")) as Error).message, /no scheme, port or path/);
  assertMatch((assertThrows(() => parseHostList(" , ")) as Error).message, /at least one/);
});

Deno.test("HostAllowlist answers IP literals, localhost, the --host name and the listed names; * answers all", () => {
  const a = new HostAllowlist(["logs.example.com"], "box.lan");
  for (const h of ["127.0.0.1", "[::1]", "10.1.2.3", "localhost", "box.lan", "logs.example.com"]) {
    assert(a.allows(h), h);
  }
  for (const h of ["evil.example", "logs.example.com.evil.example", "xn--bcher-kva.example"]) assert(!a.allows(h), h);
  assertEquals(
    a.refused([{ what: "Host", value: "LOGS.example.com.:1" }, { what: "X-Forwarded-Host", value: undefined }]),
    null,
  );
  assertEquals(a.refused([{ what: "Host", value: "evil.example:8080" }]), { what: "Host", value: "evil.example:8080" });
  assertEquals(new HostAllowlist(["*"], "127.0.0.1").refused([{ what: "Host", value: "a b" }]), null);
  // An IPv6 --host is a bracketed literal, answered as every IP is.
  assert(new HostAllowlist([], "::1").allows("[::1]"));
});

Deno.test("checkHost() answers 421 naming --allowed-host on every path; a trusted proxy's X-Forwarded-Host is held to the list", async () => {
  const app = new Hono();
  const peer = { ip: "127.0.0.1" };
  app.use(
    "*",
    checkHost(new HostAllowlist(["logs.example.com"], "127.0.0.1"), {
      clientAddress: () => peer.ip,
    }, parseCidrList("127.0.0.1")),
  );
  app.get("*", (c) => c.text("served"));
  const get = async (path: string, headers: Record<string, string>) => {
    // As the runtimes make it: the URL's authority is the Host header's.
    const r = await app.request(`http://${headers.host}${path}`, { headers });
    return { status: r.status, body: await r.text() };
  };
  for (const path of ["/", "/ws", "/raw", "/healthz", "/readyz", "/nope"]) {
    const r = await get(path, { host: "attacker.example:8080" });
    assertEquals(r.status, 421, path);
    assertEquals(
      r.body,
      'Misdirected Request: Host "attacker.example:8080" is not a name this server answers (use --allowed-host attacker.example to answer it)\n',
    );
  }
  assertEquals((await get("/", { host: "logs.example.com" })).status, 200);
  assertEquals((await get("/", { host: "logs.example.com", "x-forwarded-host": "attacker.example" })).status, 421);
  assertEquals((await get("/", { host: "127.0.0.1", "x-forwarded-host": "a.example, logs.example.com" })).status, 200);
  const junk = await get("/", { host: "127.0.0.1", "x-forwarded-host": "a b/c" });
  assertEquals([junk.status, /it is not a host name/.test(junk.body)], [421, true]);
  // From a peer that is not a trusted proxy, X-Forwarded-Host is nobody's word: ignored, as for the origin check.
  peer.ip = "192.0.2.7";
  assertEquals((await get("/", { host: "127.0.0.1", "x-forwarded-host": "attacker.example" })).status, 200);
  // A request target in absolute form that names another host than Host (Deno keeps it in Request.url).
  const r = await app.request("http://attacker.example/raw", { headers: { host: "127.0.0.1" } });
  assertEquals(r.status, 421);
  assertMatch(await r.text(), /^Misdirected Request: request target "attacker\.example"/);
});
