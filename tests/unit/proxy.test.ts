import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";
import { clientOf, isTrusted, parseCidr, parseCidrList, parseIp } from "../../src/proxy.ts";

Deno.test("parseIp() reads IPv4, IPv6 (compressed, embedded IPv4, zone, brackets) and treats ::ffff:a.b.c.d as IPv4", () => {
  assertEquals(parseIp("10.1.2.3"), { family: 4, bits: 0x0a010203n });
  assertEquals(parseIp("::1"), { family: 6, bits: 1n });
  assertEquals(parseIp("[2001:db8::1]"), { family: 6, bits: 0x20010db8000000000000000000000001n });
  assertEquals(parseIp("fe80::1%eth0"), { family: 6, bits: 0xfe800000000000000000000000000001n });
  assertEquals(parseIp("::ffff:127.0.0.1"), { family: 4, bits: 0x7f000001n });
  assertEquals(parseIp("64:ff9b::192.0.2.33")?.family, 6);
  for (
    const bad of ["", "1.2.3", "1.2.3.256", "01.2.3.4", "1::2::3", "1:2:3:4:5:6:7:8:9", "g::1", "nginx", "1.2.3.4/8"]
  ) {
    assertEquals(parseIp(bad), null, bad);
  }
});

Deno.test("isTrusted() matches CIDRs of both families, and never across families", () => {
  const list = parseCidrList("10.0.0.0/8, 192.168.1.7, fd00::/8, ::1");
  assert(isTrusted("10.255.0.1", list));
  assert(isTrusted("192.168.1.7", list));
  assert(!isTrusted("192.168.1.8", list));
  assert(isTrusted("fd12:3456::1", list));
  assert(!isTrusted("fe00::1", list));
  assert(isTrusted("::1", list));
  assert(isTrusted("::ffff:10.0.0.1", list), "a mapped IPv4 peer is its IPv4 address");
  assert(!isTrusted("unknown", list));
  assert(isTrusted("203.0.113.5", [parseCidr("0.0.0.0/0")]));
  assert(!isTrusted("::1", [parseCidr("0.0.0.0/0")]));
  assertEquals(parseCidr("10.1.2.3/8").bits, 0x0a000000n, "host bits are masked off");
  assertThrows(() => parseCidr("::/129"));
  assertThrows(() => parseCidr("10.0.0.0/x"));
});

const headers = (h: Record<string, string>) => (n: string) => h[n];
const trusted = parseCidrList("127.0.0.1/32, 10.0.0.0/8");

Deno.test("clientOf() ignores X-Forwarded-* from an untrusted peer: a client cannot name its own address", () => {
  const c = clientOf(
    "203.0.113.9",
    headers({
      host: "h:1",
      "x-forwarded-for": "1.1.1.1",
      "x-forwarded-host": "evil",
      "x-forwarded-proto": "https",
    }),
    trusted,
  );
  assertEquals(c, { ip: "203.0.113.9", host: "h:1", proto: undefined });
  assertEquals(
    clientOf("127.0.0.1", headers({ "x-forwarded-for": "1.1.1.1" }), []).ip,
    "127.0.0.1",
    "no --trust-proxy",
  );
});

Deno.test("clientOf() takes the right-most untrusted X-Forwarded-For address from a trusted peer", () => {
  const ip = (xff: string) => clientOf("127.0.0.1", headers({ "x-forwarded-for": xff }), trusted).ip;
  assertEquals(ip("198.51.100.4"), "198.51.100.4");
  assertEquals(ip("6.6.6.6, 198.51.100.4"), "198.51.100.4", "what the client wrote itself is to the left");
  assertEquals(ip("198.51.100.4, 10.0.0.2"), "198.51.100.4", "a second trusted hop is skipped");
  assertEquals(ip("10.0.0.3, 10.0.0.2"), "10.0.0.3", "all trusted: the left-most");
  assertEquals(ip("garbage, 198.51.100.4"), "198.51.100.4");
  assertEquals(ip("198.51.100.4, garbage"), "127.0.0.1", "garbage from the proxy: the peer");
  assertEquals(ip("[2001:db8::7]:443"), "2001:db8::7");
  assertEquals(ip("198.51.100.4:5555"), "198.51.100.4");
  assertEquals(ip(""), "127.0.0.1");
  assertEquals(clientOf("127.0.0.1", headers({}), trusted).ip, "127.0.0.1", "no header: the peer");
});

Deno.test("clientOf() believes X-Forwarded-Host/-Proto from a trusted peer (the last value), sanely shaped only", () => {
  const c = clientOf(
    "10.1.1.1",
    headers({
      host: "backend:8080",
      "x-forwarded-host": "a.example, logs.example:8443",
      "x-forwarded-proto": "HTTPS",
    }),
    trusted,
  );
  assertEquals([c.host, c.proto], ["logs.example:8443", "https"]);
  const bad = clientOf(
    "10.1.1.1",
    headers({ host: "b", "x-forwarded-host": "a b/c", "x-forwarded-proto": "gopher" }),
    trusted,
  );
  assertEquals([bad.host, bad.proto], ["b", undefined]);
});
