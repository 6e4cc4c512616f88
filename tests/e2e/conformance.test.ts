/**
 * RFC 6455 conformance subset, in the spirit of Autobahn|Testsuite sections
 * 1 (framing), 2 (ping/pong), 3 (reserved bits), 4 (opcodes),
 * 5 (fragmentation), 6 (UTF-8), 7 (close handling) and 9 (limits) — the
 * Autobahn suite itself cannot run here. Every case is a hand-made frame
 * sequence sent by tests/helpers/rawws.ts to a real filewatch server on each
 * runtime.
 *
 * Most of these frames never reach filewatch's code: each runtime's built-in
 * WebSocket parses them. Where a runtime's documented behaviour differs from
 * the RFC, the case expects the runtime's behaviour, listed in RUNTIME_DIFFERS
 * below (one table, one place) and in RELIABILITY.md — a finding, not a
 * failure hidden.
 *
 * Outcomes are strings so that the table reads like the report:
 * - `open`          the connection survived and still answers a ping
 * - `close N`       the server sent a close frame with code N (`close empty`
 *                   = a close frame without a code), and closed TCP after the
 *                   client echoed it
 * - `drop`          the server closed TCP without any close frame
 * - `silent`        neither happened (the server is still waiting for bytes)
 * - `pong`          a ping was answered with the same payload
 *
 * Set FILEWATCH_REPORT_DIR to write the observed table as JSON.
 * @module
 */
import assert from "node:assert/strict";
import { type RuntimeName, RUNTIMES, startServer, tempFile } from "../helpers/harness.ts";
import { bytes, closePayload, encodeFrame, encodeHeader, OP, parseClose, RawWs } from "../helpers/rawws.ts";

/** The server's read limit for this suite (the default, given explicitly). */
const READ_LIMIT = 512;

/** An observed outcome, see the module doc. */
type Outcome = string;

interface Case {
  id: string;
  title: string;
  /** What RFC 6455 (or, for limits, docs/operations.md#limits) requires. */
  rfc: Outcome;
  run(c: RawWs): Promise<Outcome>;
}

/**
 * Where a runtime's built-in WebSocket departs from `rfc`: the outcome the
 * runtime gives instead. Observed on Deno 2.9 (fastwebsockets) and Bun 1.4
 * (uWebSockets), see RELIABILITY.md for the why of each.
 */
const RUNTIME_DIFFERS: Record<string, Partial<Record<RuntimeName, Outcome>>> = {
  // Deno's server does not require client frames to be masked.
  "1.4": { deno: "open" },
  "1.5": { deno: "open" },
  // A 64-bit length with the top bit set: Deno reports "frame too large" and
  // drops; Bun answers "too big" (1009) before any payload.
  "1.6": { deno: "drop", bun: "close 1009" },
  // Deno fails every protocol error by dropping TCP without a close frame
  // (its JS sees an error event and close code 1006).
  "2.4": { deno: "drop" },
  "2.6": { deno: "drop" },
  // Deno does not check the 125-byte limit on close frames and echoes them.
  "2.8": { deno: "close 1000" },
  "3.1": { deno: "drop" },
  "3.2": { deno: "drop" },
  "3.4": { deno: "drop" },
  "3.7": { deno: "drop" },
  "3.8": { deno: "drop" },
  "4.3": { deno: "drop" },
  "4.7": { deno: "drop" },
  "4.11": { deno: "drop" },
  "4.15": { deno: "drop" },
  "5.3": { deno: "drop" },
  "5.4": { deno: "drop" },
  "5.6": { deno: "drop" },
  "6.1": { deno: "drop" },
  "6.2": { deno: "drop" },
  "6.4": { deno: "drop" },
  "6.5": { deno: "drop" },
  "6.6": { deno: "drop" },
  "7.3": { deno: "drop" },
  "7.6": { deno: "drop" },
  // Deno buffers a message before the read limit applies: an announced
  // length over the limit is waited for, not refused.
  "9.6": { deno: "silent" },
};

/** The outcome `runtime` is expected to give for case `k`. */
function expected(k: Case, runtime: RuntimeName): Outcome {
  return RUNTIME_DIFFERS[k.id]?.[runtime] ?? k.rfc;
}

/**
 * How the server reacted to what the case sent. First gives a close `settle`
 * ms to arrive on its own: a ping written to a socket the server already
 * closed draws a TCP RST, which makes the kernel discard a close frame still
 * unread in our receive buffer; and Deno answers pings in Rust before its JS
 * has seen the message before them. Then a liveness ping tells `open`.
 */
async function outcome(c: RawWs, ms = 1500, settle = 500): Promise<Outcome> {
  const early = await c.nextOf([OP.CLOSE], settle);
  if (early) return await closed(c, early.payload);
  if (c.ended) return "drop";
  c.sendFrame({ opcode: OP.PING, payload: "alive?" });
  const deadline = Date.now() + ms;
  for (;;) {
    const f = await c.nextOf([OP.PONG, OP.CLOSE], Math.max(0, deadline - Date.now()));
    if (!f) break;
    if (f.opcode === OP.CLOSE) return await closed(c, f.payload);
    if (new TextDecoder().decode(f.payload) === "alive?") return "open";
  }
  return c.ended ? "drop" : "silent";
}

/** Completes the closing handshake as a client must, then checks TCP ends. */
async function closed(c: RawWs, payload: Uint8Array): Promise<Outcome> {
  const { code } = parseClose(payload);
  c.sendClose(code);
  const end = await c.waitEnd(2000);
  return `close ${code ?? "empty"}${end ? "" : " (TCP left open)"}`;
}

/** Sends a ping with `payload`; `pong` if the same payload comes back. */
async function pongOf(c: RawWs, payload: Uint8Array): Promise<Outcome> {
  c.sendFrame({ opcode: OP.PING, payload });
  const f = await c.nextOf([OP.PONG, OP.CLOSE], 2000);
  if (!f) return c.ended ? "drop" : "silent";
  if (f.opcode === OP.CLOSE) return await closed(c, f.payload);
  const same = f.payload.length === payload.length && f.payload.every((b, i) => b === payload[i]);
  return same ? "pong" : `pong with other payload (${f.payload.length} bytes)`;
}

/** Sends `frames` then observes. */
function sends(id: string, title: string, rfc: Outcome, frames: () => Uint8Array[]): Case {
  return {
    id,
    title,
    rfc,
    run(c) {
      for (const f of frames()) c.write(f);
      return outcome(c);
    },
  };
}

/** Sends a close frame with `payload`; the outcome is the server's answer. */
function closeCase(id: string, title: string, payload: Uint8Array, rfc: Outcome): Case {
  return {
    id,
    title,
    rfc,
    async run(c) {
      c.sendFrame({ opcode: OP.CLOSE, payload });
      const r = await c.waitClose(2500);
      if (!r.gotCloseFrame) return r.tcpClosed ? "drop" : "silent";
      return `close ${r.code ?? "empty"}${r.tcpClosed ? "" : " (TCP left open)"}`;
    },
  };
}

const f = encodeFrame;
const text = (s: string | Uint8Array, fin = true) => f({ opcode: OP.TEXT, payload: s, fin });
const cont = (s: string | Uint8Array, fin = true) => f({ opcode: OP.CONT, payload: s, fin });
// Autobahn 6.3.1's "κόσμε" with an encoded surrogate (ED A0 80) in it.
const INVALID_UTF8 = new Uint8Array([
  0xce,
  0xba,
  0xe1,
  0xbd,
  0xb9,
  0xcf,
  0x83,
  0xce,
  0xbc,
  0xce,
  0xb5,
  0xed,
  0xa0,
  0x80,
  0x65,
  0x64,
  0x69,
  0x74,
  0x65,
  0x64,
]);
const VALID_UTF8 = bytes("κόσμε-ünïcødé-😀");

const CASES: Case[] = [
  // 1. Framing
  sends("1.1", "small text message", "open", () => [text("hi")]),
  sends("1.2", "empty text message", "open", () => [text("")]),
  sends("1.3", "small binary message", "open", () => [
    f({ opcode: OP.BINARY, payload: new Uint8Array([0, 255, 1]) }),
  ]),
  sends("1.4", "unmasked client text frame", "close 1002", () => [
    f({ opcode: OP.TEXT, payload: "hi", mask: false }),
  ]),
  sends("1.5", "unmasked client ping", "close 1002", () => [
    f({ opcode: OP.PING, payload: "x", mask: false }),
  ]),
  sends("1.6", "64-bit length with the most significant bit set", "close 1002", () => [
    new Uint8Array([0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4]),
  ]),
  {
    id: "1.7",
    title: "message written one byte per TCP segment",
    rfc: "open",
    async run(c) {
      for (const b of text("slowly")) {
        c.write(new Uint8Array([b]));
        await new Promise((r) => setTimeout(r, 5));
      }
      return outcome(c);
    },
  },
  // 2. Pings and pongs
  { id: "2.1", title: "ping without payload", rfc: "pong", run: (c) => pongOf(c, new Uint8Array(0)) },
  {
    id: "2.2",
    title: "ping with a 125-byte payload",
    rfc: "pong",
    run: (c) => pongOf(c, bytes("p".repeat(125))),
  },
  {
    id: "2.3",
    title: "ping with a binary payload",
    rfc: "pong",
    run: (c) => pongOf(c, new Uint8Array([0, 0xff, 0xfe, 0x80, 0])),
  },
  sends("2.4", "ping with a 126-byte payload", "close 1002", () => [
    f({ opcode: OP.PING, payload: new Uint8Array(126) }),
  ]),
  sends("2.5", "unsolicited pong", "open", () => [f({ opcode: OP.PONG, payload: "unasked" })]),
  sends("2.6", "fragmented ping", "close 1002", () => [
    f({ opcode: OP.PING, payload: "a", fin: false }),
    cont("b"),
  ]),
  {
    id: "2.7",
    title: "10 pings in a row get 10 pongs in order",
    rfc: "pong x10",
    async run(c) {
      const want = Array.from({ length: 10 }, (_, i) => `p${i}`);
      for (const p of want) c.sendFrame({ opcode: OP.PING, payload: p });
      const got: string[] = [];
      for (const _ of want) {
        const r = await c.nextOf([OP.PONG, OP.CLOSE], 2000);
        if (r?.opcode !== OP.PONG) break;
        got.push(new TextDecoder().decode(r.payload));
      }
      return got.join() === want.join() ? "pong x10" : `pongs [${got}]`;
    },
  },
  sends("2.8", "close frame with a 126-byte payload", "close 1002", () => [
    f({ opcode: OP.CLOSE, payload: closePayload(1000, "r".repeat(124)) }),
  ]),
  // 3. Reserved bits (no extension negotiated)
  ...[1, 2, 4, 7].map((rsv) =>
    sends(`3.${rsv}`, `text frame with RSV bits ${rsv.toString(2).padStart(3, "0")}`, "close 1002", () => [
      f({ opcode: OP.TEXT, payload: "rsv", rsv }),
    ])
  ),
  sends("3.8", "ping with RSV1", "close 1002", () => [
    f({ opcode: OP.PING, payload: "rsv", rsv: 4 }),
  ]),
  // 4. Reserved opcodes
  ...[3, 7, 0xb, 0xf].map((op) =>
    sends(`4.${op}`, `reserved opcode 0x${op.toString(16)}`, "close 1002", () => [
      f({ opcode: op, payload: "op" }),
    ])
  ),
  // 5. Fragmentation
  sends("5.1", "fragmented text within the read limit", "open", () => [
    text("a".repeat(100), false),
    cont("b".repeat(100), false),
    cont("c".repeat(100)),
  ]),
  sends("5.2", "fragmented text beyond the read limit", "close 1009", () => [
    text("x".repeat(200), false),
    cont("x".repeat(200), false),
    cont("x".repeat(200), false),
    cont("y".repeat(200)),
  ]),
  sends("5.3", "continuation frame without a start", "close 1002", () => [cont("orphan")]),
  sends("5.4", "new text frame inside a fragmented message", "close 1002", () => [
    text("a", false),
    text("b"),
  ]),
  {
    id: "5.5",
    title: "ping between fragments is answered at once",
    rfc: "pong",
    async run(c) {
      c.write(text("a", false));
      const p = await pongOf(c, bytes("mid"));
      c.write(cont("b"));
      const o = await outcome(c);
      return p === "pong" && o === "open" ? "pong" : `${p} then ${o}`;
    },
  },
  sends("5.6", "fragmented close frame", "close 1002", () => [
    f({ opcode: OP.CLOSE, payload: closePayload(1000), fin: false }),
  ]),
  sends("5.7", "fragments with empty payloads", "open", () => [text("", false), cont("", false), cont("")]),
  // 6. UTF-8 in text messages
  sends("6.1", "invalid UTF-8 in a text frame", "close 1007", () => [text(INVALID_UTF8)]),
  sends("6.2", "invalid UTF-8 across fragments", "close 1007", () => [
    text(INVALID_UTF8.subarray(0, 12), false),
    cont(INVALID_UTF8.subarray(12)),
  ]),
  sends("6.3", "valid UTF-8 split inside code points", "open", () => [
    text(VALID_UTF8.subarray(0, 1), false),
    cont(VALID_UTF8.subarray(1, VALID_UTF8.length - 2), false),
    cont(VALID_UTF8.subarray(VALID_UTF8.length - 2)),
  ]),
  sends("6.4", "overlong encoding (C0 AF)", "close 1007", () => [text(new Uint8Array([0x41, 0xc0, 0xaf]))]),
  sends("6.5", "truncated code point at the end", "close 1007", () => [text(new Uint8Array([0x41, 0xe2, 0x82]))]),
  sends("6.6", "code point above U+10FFFF", "close 1007", () => [text(new Uint8Array([0xf4, 0x90, 0x80, 0x80]))]),
  sends("6.7", "invalid UTF-8 in a binary frame is fine", "open", () => [
    f({ opcode: OP.BINARY, payload: INVALID_UTF8 }),
  ]),
  // 7. Close handling
  closeCase("7.1", "close 1000 is echoed", closePayload(1000, "bye"), "close 1000"),
  closeCase("7.2", "close without a payload is echoed empty", closePayload(), "close empty"),
  closeCase("7.3", "close with a 1-byte payload", new Uint8Array([0x03]), "close 1002"),
  ...[0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535].map((code) =>
    closeCase(`7.4.${code}`, `close with invalid code ${code}`, closePayload(code), "close 1002")
  ),
  ...[1001, 1003, 1007, 1011, 3000, 4999].map((code) =>
    closeCase(`7.5.${code}`, `close with valid code ${code} is echoed`, closePayload(code), `close ${code}`)
  ),
  closeCase(
    "7.6",
    "close reason with invalid UTF-8",
    closePayload(1000, new Uint8Array([0x62, 0xff, 0xfe])),
    "close 1007",
  ),
  closeCase("7.7", "close with a 123-byte reason (the maximum)", closePayload(1000, "r".repeat(123)), "close 1000"),
  {
    id: "7.8",
    title: "data after the close frame is ignored",
    rfc: "ignored",
    async run(c) {
      c.sendClose(1000);
      c.sendText("after");
      c.sendFrame({ opcode: OP.PING, payload: "after" });
      const seen: string[] = [];
      for (;;) {
        const r = await c.nextFrame(2500);
        if (!r) break;
        if (r.opcode === OP.PONG) seen.push("pong");
        if (r.opcode === OP.CLOSE) seen.push(`close ${parseClose(r.payload).code ?? "empty"}`);
      }
      return seen.join() === "close 1000" && c.ended ? "ignored" : `saw [${seen}], TCP ended: ${c.ended}`;
    },
  },
  {
    id: "7.9",
    title: "TCP FIN without a close frame",
    rfc: "drop",
    async run(c) {
      c.end();
      return (await c.waitEnd(2500)) ? "drop" : "silent";
    },
  },
  // 9. Limits (read limit = 512 bytes, docs/operations.md#limits)
  sends("9.1", "text message of exactly the read limit", "open", () => [text("z".repeat(READ_LIMIT))]),
  sends("9.2", "text message one byte over the read limit", "close 1009", () => [
    text("z".repeat(READ_LIMIT + 1)),
  ]),
  sends("9.3", "binary message one byte over the read limit", "close 1009", () => [
    f({ opcode: OP.BINARY, payload: new Uint8Array(READ_LIMIT + 1) }),
  ]),
  sends("9.4", "1 MiB text message", "close 1009", () => [text(new Uint8Array(1 << 20).fill(0x61))]),
  sends("9.5", "600 one-byte fragments (over the limit in total)", "close 1009", () => [
    text("a", false),
    ...Array.from({ length: 598 }, () => cont("a", false)),
    cont("a"),
  ]),
  {
    id: "9.6",
    title: "64 KiB length announced, payload withheld",
    rfc: "close 1009",
    run(c) {
      c.write(encodeHeader({ opcode: OP.TEXT, length: 65536, maskKey: new Uint8Array(4) }));
      c.write(new Uint8Array(10));
      return outcome(c, 1000);
    },
  },
];

/** Runs every case against `runtime`, all at once (each on its own connection). */
async function observe(runtime: RuntimeName): Promise<Map<string, Outcome>> {
  const file = await tempFile("conformance\n");
  const server = await startServer(runtime, {
    file,
    args: ["--read-limit", String(READ_LIMIT), "--max-clients-per-ip", "0"],
  });
  const results = new Map<string, Outcome>();
  try {
    await Promise.all(CASES.map(async (k) => {
      const c = await RawWs.connect("127.0.0.1", server.port);
      try {
        if (!c.upgraded) {
          results.set(k.id, `handshake answered ${c.response.status}`);
          return;
        }
        // The server sends the file at once (no lastMod): take it out of the way.
        await c.nextOf([OP.TEXT], 2000);
        results.set(k.id, await k.run(c));
      } catch (e) {
        results.set(k.id, `error: ${(e as Error).message}`);
      } finally {
        c.destroy();
      }
    }));
    // Whatever the frames did, the server must still be serving.
    const h = await fetch(new URL("/healthz", server.url));
    await h.body?.cancel();
    results.set("server", h.status === 200 ? "healthy" : `healthz ${h.status}`);
  } finally {
    await server.stop();
  }
  const dir = Deno.env.get("FILEWATCH_REPORT_DIR");
  if (dir) {
    const rows = CASES.map((k) => ({
      id: k.id,
      title: k.title,
      rfc: k.rfc,
      expected: expected(k, runtime),
      observed: results.get(k.id),
    }));
    await Deno.writeTextFile(`${dir}/conformance-${runtime}.json`, JSON.stringify(rows, null, 1));
  }
  return results;
}

for (const runtime of RUNTIMES) {
  Deno.test(`conformance subset on ${runtime}: each case gives the RFC's (or the runtime's documented) outcome`, async (t) => {
    const results = await observe(runtime);
    for (const k of CASES) {
      await t.step(`${k.id} ${k.title} -> ${expected(k, runtime)}`, () => {
        assert.equal(results.get(k.id), expected(k, runtime));
      });
    }
    await t.step("server still healthy after every case", () => {
      assert.equal(results.get("server"), "healthy");
    });
  });
}
