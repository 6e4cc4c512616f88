// Unit tests for the raw WebSocket test client's frame encoder and decoder
// (tests/helpers/rawws.ts): the hostile-input suites are only as good as the
// frames they send and the frames they read.
// JSR (@std/assert) is not reachable here; node:assert works on Deno.
import assert from "node:assert/strict";
import {
  acceptFor,
  bytes,
  closePayload,
  encodeFrame,
  encodeHeader,
  FrameParser,
  OP,
  parseClose,
} from "../helpers/rawws.ts";

const KEY = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);

Deno.test("acceptFor() matches the RFC 6455 §1.3 example", () => {
  assert.deepStrictEqual(acceptFor("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
});

Deno.test("encodeFrame() writes the RFC 6455 §5.7 masked 'Hello' frame", () => {
  const f = encodeFrame({ opcode: OP.TEXT, payload: "Hello", mask: KEY });
  assert.deepStrictEqual(
    Array.from(f),
    [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58],
  );
});

Deno.test("encodeFrame() writes the RFC 6455 §5.7 unmasked 'Hello' frame", () => {
  const f = encodeFrame({ opcode: OP.TEXT, payload: "Hello", mask: false });
  assert.deepStrictEqual(Array.from(f), [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
});

Deno.test("encodeFrame() writes the RFC 6455 §5.7 fragmented 'Hel' + 'lo'", () => {
  const a = encodeFrame({ opcode: OP.TEXT, payload: "Hel", fin: false, mask: false });
  const b = encodeFrame({ opcode: OP.CONT, payload: "lo", mask: false });
  assert.deepStrictEqual(Array.from(a), [0x01, 0x03, 0x48, 0x65, 0x6c]);
  assert.deepStrictEqual(Array.from(b), [0x80, 0x02, 0x6c, 0x6f]);
});

Deno.test("encodeFrame() sets reserved bits and any opcode as asked", () => {
  const f = encodeFrame({ opcode: 0x0b, rsv: 7, fin: false, mask: false });
  assert.deepStrictEqual(f[0], 0x7b);
  assert.deepStrictEqual(f[1], 0);
  assert.deepStrictEqual(encodeFrame({ opcode: OP.TEXT, rsv: 4, mask: false })[0], 0xc1);
  assert.deepStrictEqual(encodeFrame({ opcode: OP.TEXT, rsv: 1, mask: false })[0], 0x91);
});

Deno.test("encodeFrame() uses 16-bit and 64-bit lengths at 126 and 65536 bytes", () => {
  const f125 = encodeFrame({ opcode: OP.BINARY, payload: new Uint8Array(125), mask: false });
  assert.deepStrictEqual(f125[1], 125);
  assert.deepStrictEqual(f125.length, 127);
  const f126 = encodeFrame({ opcode: OP.BINARY, payload: new Uint8Array(126), mask: false });
  assert.deepStrictEqual(Array.from(f126.subarray(1, 4)), [126, 0, 126]);
  const f65535 = encodeFrame({ opcode: OP.BINARY, payload: new Uint8Array(65535), mask: KEY });
  assert.deepStrictEqual(Array.from(f65535.subarray(1, 4)), [0x80 | 126, 0xff, 0xff]);
  const f65536 = encodeFrame({ opcode: OP.BINARY, payload: new Uint8Array(65536), mask: false });
  assert.deepStrictEqual(Array.from(f65536.subarray(1, 10)), [127, 0, 0, 0, 0, 0, 1, 0, 0]);
  assert.deepStrictEqual(f65536.length, 10 + 65536);
});

Deno.test("encodeFrame() masks with a random key by default", () => {
  const f = encodeFrame({ opcode: OP.TEXT, payload: "abc" });
  assert.deepStrictEqual(f[1]! & 0x80, 0x80);
  assert.deepStrictEqual(f.length, 2 + 4 + 3);
});

Deno.test("encodeFrame() rejects a mask key that is not 4 bytes", () => {
  assert.throws(() => encodeFrame({ opcode: OP.TEXT, mask: new Uint8Array(3) }), RangeError);
});

Deno.test("FrameParser round-trips masked and unmasked frames of every length class", () => {
  for (const n of [0, 1, 125, 126, 127, 65535, 65536, 200_000]) {
    const payload = new Uint8Array(n);
    for (let i = 0; i < n; i++) payload[i] = (i * 31) & 0xff;
    for (const mask of [false, true]) {
      const [f, ...more] = new FrameParser().push(
        encodeFrame({ opcode: OP.BINARY, payload, mask }),
      );
      assert.deepStrictEqual(more.length, 0);
      assert(f);
      assert.deepStrictEqual(f.opcode, OP.BINARY);
      assert.deepStrictEqual(f.masked, mask);
      assert.deepStrictEqual(f.fin, true);
      assert.deepStrictEqual(f.payload.length, n);
      assert.deepStrictEqual(f.payload, payload);
    }
  }
});

Deno.test("FrameParser reassembles frames split at every byte boundary", () => {
  const wire = new Uint8Array([
    ...encodeFrame({ opcode: OP.PING, payload: "p", mask: false }),
    ...encodeFrame({ opcode: OP.TEXT, payload: "x".repeat(300), mask: KEY, rsv: 2 }),
    ...encodeFrame({ opcode: OP.CLOSE, payload: closePayload(1000, "bye"), mask: false }),
  ]);
  for (let cut = 0; cut <= wire.length; cut += 7) {
    const p = new FrameParser();
    const frames = [...p.push(wire.slice(0, cut)), ...p.push(wire.slice(cut))];
    assert.deepStrictEqual(frames.map((f) => f.opcode), [OP.PING, OP.TEXT, OP.CLOSE]);
    assert.deepStrictEqual(frames[1]!.rsv, 2);
    assert.deepStrictEqual(new TextDecoder().decode(frames[1]!.payload), "x".repeat(300));
    assert.deepStrictEqual(parseClose(frames[2]!.payload), { code: 1000, reason: "bye" });
    assert.deepStrictEqual(p.pending, 0);
  }
});

Deno.test("FrameParser waits for the rest of a partial frame", () => {
  const p = new FrameParser();
  const f = encodeFrame({ opcode: OP.TEXT, payload: "hello", mask: false });
  assert.deepStrictEqual(p.push(f.slice(0, 4)), []);
  assert.deepStrictEqual(p.pending, 4);
  assert.deepStrictEqual(p.push(f.slice(4)).length, 1);
});

Deno.test("closePayload() and parseClose() handle empty, code-only and invalid UTF-8 reasons", () => {
  assert.deepStrictEqual(closePayload().length, 0);
  assert.deepStrictEqual(parseClose(new Uint8Array(0)), { reason: "" });
  assert.deepStrictEqual(Array.from(closePayload(1002)), [0x03, 0xea]);
  const bad = closePayload(1000, new Uint8Array([0xff, 0xfe]));
  assert.deepStrictEqual(Array.from(bad), [0x03, 0xe8, 0xff, 0xfe]);
  assert.deepStrictEqual(parseClose(closePayload(4000, "ünï")), { code: 4000, reason: "ünï" });
  assert.deepStrictEqual(bytes("é").length, 2);
});

Deno.test("encodeHeader() announces a length without a payload, masked or not", () => {
  assert.deepStrictEqual(
    Array.from(encodeHeader({ opcode: OP.BINARY, length: 100 * 1024 * 1024 })),
    [0x82, 127, 0, 0, 0, 0, 0x06, 0x40, 0, 0],
  );
  const h = encodeHeader({ opcode: OP.TEXT, length: 3, fin: false, maskKey: KEY });
  assert.deepStrictEqual(Array.from(h), [0x01, 0x83, ...KEY]);
});
