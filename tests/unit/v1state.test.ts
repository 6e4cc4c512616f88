import { assert, assertEquals } from "../helpers/assert.ts";
import { fromBase64, sameBytes, V1State } from "../helpers/v1state.ts";

const enc = new TextEncoder();
const content = (lastMod: string, data: string, offset = 0, size = offset + enc.encode(data).length) =>
  JSON.stringify({ type: "content", lastMod, offset, size, data });
const append = (prev: string, lastMod: string, offset: number, data: string, size = offset + enc.encode(data).length) =>
  JSON.stringify({ type: "append", lastMod, prev, offset, size, data });

Deno.test("V1State: content replaces what is held and remembers lastMod, offset and size", () => {
  const st = new V1State();
  assertEquals(st.whole, false, "nothing held yet");
  assertEquals(st.apply(content("a1", "héllo\n")), "content");
  assertEquals([st.lastMod, st.offset, st.size, st.text, st.whole], ["a1", 0, 7, "héllo\n", true]);
  assertEquals(st.apply(content("a2", "tail\n", 100)), "content");
  assertEquals([st.lastMod, st.offset, st.size, st.text, st.whole], ["a2", 100, 105, "tail\n", false]);
  assertEquals(st.violations, []);
  assertEquals(st.messages.length, 2);
});

Deno.test("V1State: an append applies only to the version it names at the held size", () => {
  const st = new V1State();
  st.apply(content("a1", "one\n"));
  assertEquals(st.apply(append("a1", "a2", 4, "two\n")), "append");
  assertEquals([st.lastMod, st.size, st.text], ["a2", 8, "one\ntwo\n"]);
  // Wrong prev: ignored, recorded, nothing changes.
  assertEquals(st.apply(append("a1", "a3", 8, "x")), "violation");
  // Right prev, wrong offset.
  assertEquals(st.apply(append("a2", "a3", 7, "x")), "violation");
  assertEquals([st.lastMod, st.size, st.text], ["a2", 8, "one\ntwo\n"]);
  assertEquals(st.violations.map((v) => v.index), [2, 3]);
  assert(/prev a1, held a2/.test(st.violations[0]!.reason), st.violations[0]!.reason);
  assert(/offset 7, held size 8/.test(st.violations[1]!.reason), st.violations[1]!.reason);
});

Deno.test("V1State: an append before any content is a violation", () => {
  const st = new V1State();
  assertEquals(st.apply(append("a1", "a2", 0, "x")), "violation");
  assertEquals(st.lastMod, null);
});

Deno.test("V1State: base64 data gives the exact bytes; bad base64 and wrong lengths are violations", () => {
  const st = new V1State();
  st.apply({ type: "content", lastMod: "1", offset: 0, size: 2, data: "//4=", encoding: "base64" });
  assertEquals([...st.bytes], [0xff, 0xfe]);
  st.apply({ type: "append", lastMod: "2", prev: "1", offset: 2, size: 4, data: "AIA=", encoding: "base64" });
  assertEquals([...st.bytes], [0xff, 0xfe, 0x00, 0x80]);
  assertEquals(
    st.apply({ type: "append", lastMod: "3", prev: "2", offset: 4, size: 5, data: "*", encoding: "base64" }),
    "violation",
  );
  // Text whose UTF-8 length disagrees with offset..size ("é" is 2 bytes).
  assertEquals(st.apply({ type: "append", lastMod: "3", prev: "2", offset: 4, size: 5, data: "é" }), "violation");
  assertEquals(
    st.apply({ type: "append", lastMod: "3", prev: "2", offset: 4, size: 6, data: "x", encoding: "hex" }),
    "violation",
  );
  assertEquals(st.violations.length, 3);
  assertEquals(st.size, 4);
});

Deno.test("V1State: half a character (a lone surrogate) and invalid UTF-8 frames are violations", () => {
  const st = new V1State();
  assertEquals(st.apply('{"type":"content","lastMod":"1","offset":0,"size":2,"data":"\\ud83d"}'), "violation");
  assertEquals(st.apply(new Uint8Array([0x7b, 0xff, 0x7d])), "violation");
  assertEquals(st.apply("not json"), "violation");
  assertEquals(st.apply(enc.encode(content("1", "ok"))), "content");
  assertEquals(st.text, "ok");
  assertEquals(st.violations.length, 3);
});

Deno.test("V1State: errors are recorded and leave what is held alone", () => {
  const st = new V1State();
  st.apply(content("1", "kept"));
  assertEquals(st.apply(JSON.stringify({ type: "error", message: "f: file not found" })), "error");
  assertEquals([st.text, st.lastMod, st.errors], ["kept", "1", ["f: file not found"]]);
  assertEquals(st.apply(JSON.stringify({ type: "surprise" })), "violation");
});

Deno.test("V1State.hold() starts from a version held before, so a resumed append applies to it", () => {
  const st = new V1State().hold("a1", enc.encode("one\n"));
  assertEquals([st.whole, st.size], [true, 4]);
  assertEquals(st.apply(append("a1", "a2", 4, "two\n")), "append");
  assertEquals(st.text, "one\ntwo\n");
  const tail = new V1State().hold("b1", enc.encode("end\n"), 1000);
  assertEquals([tail.whole, tail.size], [false, 1004]);
  assertEquals(tail.apply(append("b1", "b2", 4, "x")), "violation");
});

Deno.test("V1State.describe() names each message's type, versions and range", () => {
  const st = new V1State();
  st.apply(content("a1", "one\n"));
  st.apply(append("a1", "a2", 4, "two\n"));
  assertEquals(st.describe(), "#0 content a1 0..4 data(4)\n#1 append a1→a2 4..8 data(4)");
});

Deno.test("fromBase64() and sameBytes()", () => {
  assertEquals(fromBase64(""), new Uint8Array(0));
  assertEquals(fromBase64("aGk="), enc.encode("hi"));
  assertEquals(fromBase64("aGk"), null);
  assert(sameBytes(enc.encode("ab"), enc.encode("ab")));
  assert(!sameBytes(enc.encode("ab"), enc.encode("ac")));
  assert(!sameBytes(enc.encode("ab"), enc.encode("abc")));
});

Deno.test("V1State: a message the protocol's schema refuses (an extra field, an upper-case lastMod) is a violation", () => {
  const st = new V1State();
  assertEquals(
    st.apply(JSON.stringify({ type: "content", lastMod: "a1", offset: 0, size: 2, data: "x\n", seq: 1 })),
    "violation",
  );
  assertEquals(st.apply(content("A1", "x\n")), "violation");
  assertEquals(st.lastMod, null, "nothing applied");
  assert(/additional properties/.test(st.violations[0]!.reason), st.violations[0]!.reason);
  assert(/lastMod must match pattern/.test(st.violations[1]!.reason), st.violations[1]!.reason);
});
