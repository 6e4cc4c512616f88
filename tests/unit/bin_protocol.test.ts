/**
 * filewatch.bin.v1 without a server: the server's encoders (src/messages.ts)
 * against the strict decoder the e2e suite uses (tests/helpers/binstate.ts),
 * the byte-for-byte examples of docs/protocol.md, the page's decoder
 * (src/client/protocol.ts), and the decoder's refusals.
 */
import { assert, assertEquals, assertNotEquals } from "../helpers/assert.ts";
import { BinState, decodeBin } from "../helpers/binstate.ts";
import {
  binAppend,
  binContent,
  binError,
  chooseProtocol,
  formatOf,
  frameFor,
  frameSize,
  PROTOCOL_BIN,
} from "../../src/messages.ts";
import { Version } from "../../src/version.ts";
import { decodeFrame, parseBinary, SUBPROTOCOLS } from "../../src/client/protocol.ts";

const enc = new TextEncoder();
const PROTOCOL_MD = new URL("../../docs/protocol.md", import.meta.url);

/** A version as the watcher makes them: the file's bytes kept from `base`, a client's content from `offset`. */
const version = (lastMod: string, kept: Uint8Array, base = 0, offset = base, seq = 1) =>
  new Version({ seq, lastMod, kept, base, offset });

/** A token as versionToken() makes them: ms × 10⁶ in the high 64 bits over a 64-bit hash. */
const token = (ms: bigint, hash: bigint) => (((ms * 1_000_000n) << 64n) | hash).toString(16);

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ");

function decoded(frame: Uint8Array) {
  const f = decodeBin(frame);
  if (typeof f === "string") throw new Error(`the decoder refused ${hex(frame)}: ${f}`);
  return f;
}

/** The ```hex blocks of docs/protocol.md: their tag (content, append, error) and bytes (the first column). */
async function docExamples(): Promise<Array<{ tag: string; bytes: Uint8Array }>> {
  const md = await Deno.readTextFile(PROTOCOL_MD);
  return [...md.matchAll(/```hex (\w+)\n([\s\S]*?)```/g)].map((m) => {
    const bytes: number[] = [];
    for (const line of m[2]!.split("\n")) {
      // Bytes, then two or more spaces, then what they are.
      const col = line.split(/ {2,}/)[0]!.trim();
      for (const h of col.split(" ").filter((x) => x)) bytes.push(parseInt(h, 16));
    }
    return { tag: m[1]!, bytes: new Uint8Array(bytes) };
  });
}

Deno.test("docs/protocol.md's hex examples decode as described and are what the server's encoders write", async () => {
  const ex = await docExamples();
  assertEquals(ex.map((e) => e.tag), ["content", "append", "error", "content"]);
  const st = new BinState();
  // content: "first line\n" at 187cc366ba2d4000fb393db3c97a1c82
  assertEquals(st.apply(ex[0]!.bytes), "content");
  assertEquals([st.lastMod, st.text, st.size], ["187cc366ba2d4000fb393db3c97a1c82", "first line\n", 11]);
  assertEquals(binContent(version(st.lastMod!, st.bytes)), ex[0]!.bytes);
  // append: "second line\n", 100 ms later
  const prev = st.lastMod!;
  assertEquals(st.apply(ex[1]!.bytes), "append", st.describe());
  assertEquals([st.lastMod, st.text, st.size], [
    "187cc366c0232100e131eaa8d94697ae",
    "first line\nsecond line\n",
    23,
  ]);
  const f = decoded(ex[1]!.bytes);
  assertEquals(f.type === "append" && f.delta, 100_000_000n, "+100 ms in ns");
  assertEquals(binAppend(version(st.lastMod!, st.bytes, 0, 0, 2), 11, prev), ex[1]!.bytes);
  // error
  assertEquals(decoded(ex[2]!.bytes), { type: "error", message: "app.log: file not found" });
  assertEquals(binError("app.log: file not found"), ex[2]!.bytes);
  // content that is not UTF-8
  const g = decoded(ex[3]!.bytes);
  assert(g.type === "content" && !g.utf8, "flagged not UTF-8");
  assertEquals(binContent(version(g.token.toString(16), g.data)), ex[3]!.bytes);
  assertEquals(st.violations, []);
});

Deno.test("binContent() writes type, 16-byte token, offset varint, then the bytes; offsets take 1 to 8 bytes", () => {
  const t = token(1_764_500_000_000n, 0x0123456789abcdefn);
  const cases: Array<[number, number]> = [
    [0, 1],
    [127, 1],
    [128, 2],
    [16_383, 2],
    [16_384, 3],
    [2 ** 28 - 1, 4],
    [2 ** 28, 5],
    [2 ** 32 + 5, 5],
    [Number.MAX_SAFE_INTEGER - 3, 8],
  ];
  const data = enc.encode("abc");
  for (const [offset, len] of cases) {
    const frame = binContent(version(t, data, offset, offset));
    assertEquals(frame.length, 1 + 16 + len + 3, `offset ${offset}`);
    const f = decoded(frame);
    assertEquals(f.type === "content" && [f.token.toString(16), f.offset, f.size], [t, offset, offset + 3]);
  }
  // The tail window's start, not the kept bytes' base.
  const tail = decoded(binContent(version(t, enc.encode("xx\nlast\n"), 4096, 4099)));
  assertEquals(tail.type === "content" && [tail.offset, tail.size, new TextDecoder().decode(tail.data)], [
    4099,
    4104,
    "last\n",
  ]);
  // An empty file: no bytes after the header (token 0, offset 0).
  assertEquals(binContent(version("0", new Uint8Array(0))), Uint8Array.of(0x01, ...new Array(17).fill(0)));
});

Deno.test("binAppend() names both versions exactly: the mtime may go back, and a resumed token need not be in ms", () => {
  const base = enc.encode("one\n");
  const grown = enc.encode("one\ntwo\n");
  const cases: Array<[string, string, string]> = [
    [token(1_764_500_000_000n, 1n), token(1_764_500_000_100n, 2n), "+100 ms"],
    [token(1_764_500_000_100n, 1n), token(1_764_500_000_000n, 2n), "an mtime set back: -100 ms"],
    [token(1_764_500_000_000n, 5n), token(1_764_500_000_000n, 6n), "the same ms"],
    ["1", token(1_764_500_000_000n, 0xffffffffffffffffn), "a resumed token of one hex digit"],
    ["ffffffffffffffffffffffffffffffff", token(1n, 0n), "the largest token"],
  ];
  for (const [prev, next, what] of cases) {
    const st = new BinState().hold(prev, base);
    assertEquals(st.apply(binAppend(version(next, grown), 4, prev)!), "append", `${what}: ${st.describe()}`);
    assertEquals([st.lastMod, st.text, st.size], [next, "one\ntwo\n", 8], what);
  }
  // 119 bytes appended at 10 MiB, 100 ms apart: 144 bytes of payload (148 on the wire, a 4-byte header).
  const line = enc.encode("x".repeat(118) + "\n");
  const big = new Uint8Array(10_485_685 + 119);
  big.set(line, 10_485_685);
  const a = binAppend(
    version(token(1_764_500_000_100n, 9n), big),
    10_485_685,
    token(1_764_500_000_000n, 8n),
  )!;
  assertEquals(a.length, 1 + 8 + 8 + 4 + 4 + 119);
  // Bytes the version no longer keeps (tail mode): no append.
  assertEquals(binAppend(version(token(1n, 2n), grown, 4, 4), 2, token(1n, 1n)), null);
});

Deno.test("the not-UTF-8 bit is set exactly when the bytes are not valid UTF-8; an error is 0x03 and its text", () => {
  const t = token(1n, 1n);
  assertEquals(binContent(version(t, enc.encode("é\n")))[0], 0x01);
  assertEquals(binContent(version(t, new Uint8Array([0xff, 0x0a])))[0], 0x81);
  assertEquals(binContent(version(t, new Uint8Array([0xe2, 0x82])))[0], 0x81, "a character cut short");
  const held = enc.encode("ok\n");
  const bad = new Uint8Array([...held, 0xc3, 0x28]);
  assertEquals(binAppend(version(token(2n, 2n), bad), 3, t)![0], 0x82);
  assertEquals(binAppend(version(token(2n, 2n), enc.encode("ok\n€\n")), 3, t)![0], 0x02);
  assertEquals([...binError("é")], [0x03, 0xc3, 0xa9]);
});

Deno.test("frameFor(bin) encodes once per snapshot and starting point and shares the frame; frameSize() is its length", () => {
  const v1 = version(token(1n, 1n), enc.encode("a\n"));
  const v2 = version(token(2n, 2n), enc.encode("a\nb\n"), 0, 0, 2);
  const c = frameFor(v2, "bin");
  assert(c instanceof Uint8Array);
  assert(frameFor(v2, "bin") === c, "one content frame per snapshot");
  const a = frameFor(v2, "bin", 2, v1.lastMod);
  assert(frameFor(v2, "bin", 2, v1.lastMod) === a, "one append frame per starting point and prev");
  assertNotEquals(frameFor(v2, "bin", 2, token(3n, 1n)), a, "another prev, another frame");
  assertEquals(frameSize(v2, "bin", 2, v1.lastMod), (a as Uint8Array).length);
  assertEquals(
    decoded(frameFor({ ok: false, seq: 3, lastMod: "", error: "gone" }, "bin") as Uint8Array),
    { type: "error", message: "gone" },
  );
});

Deno.test("chooseProtocol() answers the first of the client's list it speaks; formatOf() names the format", () => {
  assertEquals(chooseProtocol("filewatch.bin.v1, filewatch.v1"), PROTOCOL_BIN);
  assertEquals(chooseProtocol("filewatch.v1, filewatch.bin.v1"), "filewatch.v1");
  assertEquals(chooseProtocol("x, filewatch.bin.v1"), PROTOCOL_BIN);
  assertEquals(chooseProtocol("filewatch.bin, filewatch.bin.v2"), null);
  assertEquals(chooseProtocol(SUBPROTOCOLS.join(", ")), PROTOCOL_BIN, "the page's offer");
  assertEquals([formatOf(PROTOCOL_BIN), formatOf("filewatch.v1"), formatOf(null)], ["bin", "v1", "plain"]);
});

Deno.test("decodeBin() refuses what the document does not describe", () => {
  const good = binAppend(version(token(2n, 2n), enc.encode("a\nb\n")), 2, token(1n, 1n))!;
  const content = binContent(version(token(1n, 1n), enc.encode("a\n")));
  const cases: Array<[string, Uint8Array | string, RegExp]> = [
    ["a text frame", "hello", /text frame/],
    ["an empty frame", new Uint8Array(0), /short/],
    ["an unknown type", Uint8Array.of(0x04, 0), /unknown type/],
    ["an error with the not-UTF-8 bit", Uint8Array.of(0x83, 0x61), /unknown type/],
    ["an error without text", Uint8Array.of(0x03), /without a message/],
    ["an error that is not UTF-8", Uint8Array.of(0x03, 0xff), /not UTF-8/],
    ["a content shorter than its header", content.subarray(0, 17), /short/],
    ["an append shorter than its hashes", good.subarray(0, 12), /short/],
    ["an offset that runs out", Uint8Array.of(...content.subarray(0, 17), 0x80), /runs past/],
    ["an offset with a needless byte", Uint8Array.of(...content.subarray(0, 17), 0x81, 0x00, 0x61), /minimal/],
    ["an offset past 2^53", Uint8Array.of(...content.subarray(0, 17), ...Array(7).fill(0xff), 0x7f), /2\^53/],
    ["an append without bytes", good.subarray(0, good.length - 2), /without bytes/],
    ["bytes not UTF-8 without the flag", Uint8Array.of(...content.subarray(0, 18), 0xff), /without the flag/],
    ["the flag on valid UTF-8", Uint8Array.of(0x81, ...content.subarray(1)), /flagged/],
  ];
  for (const [what, frame, why] of cases) {
    const r = decodeBin(frame);
    assert(typeof r === "string" && why.test(r), `${what}: ${typeof r === "string" ? r : "accepted"}`);
  }
  assert(typeof decodeBin(good) !== "string");
});

Deno.test("BinState refuses an append that is not for what it holds: nothing held, another hash, another size", () => {
  const held = enc.encode("a\n");
  const prev = token(1n, 1n);
  const a = binAppend(version(token(2n, 2n), enc.encode("a\nb\n")), 2, prev)!;
  const none = new BinState();
  assertEquals(none.apply(a), "violation");
  assert(/before any content/.test(none.violations[0]!.reason));
  const other = new BinState().hold(token(1n, 7n), held);
  assertEquals(other.apply(a), "violation");
  assert(/prev hash/.test(other.violations[0]!.reason));
  const shorter = new BinState().hold(prev, enc.encode("a"));
  assertEquals(shorter.apply(a), "violation");
  assert(/offset 2, held size 1/.test(shorter.violations[0]!.reason));
  // The same hash under another mtime is the same version by the server's rule: applied.
  const touched = new BinState().hold(token(9n, 1n), held);
  assertEquals(touched.apply(a), "append");
});

Deno.test("the page's decoder reads the server's frames: content, append against what it holds, error", () => {
  const prev = token(1_764_500_000_000n, 0xabcn);
  const next = token(1_764_500_000_050n, 0xdefn);
  const buf = (u: Uint8Array) => u.slice().buffer;
  assertEquals(decodeFrame(buf(binContent(version(prev, enc.encode("a\n")))), { lastMod: "", size: 0 }), {
    type: "content",
    lastMod: prev,
    offset: 0,
    size: 2,
    text: "a\n",
    lossy: false,
  });
  const a = binAppend(version(next, enc.encode("a\nb\n")), 2, prev)!;
  assertEquals(decodeFrame(buf(a), { lastMod: prev, size: 2 }), {
    type: "append",
    lastMod: next,
    prev,
    offset: 2,
    size: 4,
    text: "b\n",
    lossy: false,
  });
  // Held: another version. The append comes out with a prev that is not the held token.
  const other = parseBinary(a, { lastMod: token(1n, 0x123n), size: 2 });
  assert(other?.type === "append" && other.prev !== token(1n, 0x123n), JSON.stringify(other));
  assertEquals(decodeFrame(buf(binError("gone")), { lastMod: "", size: 0 }), { type: "error", message: "gone" });
  const lossy = decodeFrame(buf(binContent(version(prev, new Uint8Array([0x61, 0xff])))), { lastMod: "", size: 0 });
  assertEquals(lossy?.type === "content" && [lossy.text, lossy.lossy, lossy.size], ["a\uFFFD", true, 2]);
  assertEquals(decodeFrame(new ArrayBuffer(0), { lastMod: "", size: 0 }), null);
  assertEquals(decodeFrame(Uint8Array.of(0x07, 1, 2).buffer, { lastMod: "", size: 0 }), null);
  assertEquals(
    decodeFrame(buf(binContent(version(prev, enc.encode("x"))).subarray(0, 10)), { lastMod: "", size: 0 }),
    null,
  );
});
