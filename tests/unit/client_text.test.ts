/**
 * The page's pure logic without a browser: reading filewatch.v1 messages,
 * applying content and appends to what the page holds, trimming to its
 * bound, and the resume URL.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { parseMessage, type ServerMessage, socketUrl, utf8Length } from "../../src/client/protocol.ts";
import { applyMessage, type Change, type FileText, NOTHING, trimHeld, trimPoint } from "../../src/client/text.ts";

const enc = new TextEncoder();
const b64 = (bytes: number[] | Uint8Array) => btoa(String.fromCharCode(...bytes));

/** Parses a frame that must be a content or append message. */
function msg(o: Record<string, unknown>): Exclude<ServerMessage, { type: "error" }> {
  const m = parseMessage(JSON.stringify(o));
  assert(m && m.type !== "error", `not data: ${JSON.stringify(o)}`);
  return m;
}

function held(text: string, lastMod = "a1", offset = 0): FileText {
  return { ...NOTHING, lastMod, offset, size: offset + enc.encode(text).length, text };
}

function extended(c: Change): Extract<Change, { kind: "extend" }> {
  assert(c.kind === "extend", `expected extend, got ${c.kind}`);
  return c;
}

// ---- parseMessage ------------------------------------------------------------

Deno.test("parseMessage() reads content with its offset and size, and errors", () => {
  assertEquals(parseMessage(JSON.stringify({ type: "content", lastMod: "ab", offset: 7, size: 11, data: "héj" })), {
    type: "content",
    lastMod: "ab",
    offset: 7,
    size: 11,
    text: "héj",
    lossy: false,
  });
  assertEquals(parseMessage(JSON.stringify({ type: "error", message: "gone" })), { type: "error", message: "gone" });
});

Deno.test("parseMessage() reads a content from a server without appends as the whole file", () => {
  assertEquals(msg({ type: "content", lastMod: "ab", data: "héj" }), {
    type: "content",
    lastMod: "ab",
    offset: 0,
    size: 4,
    text: "héj",
    lossy: false,
  });
});

Deno.test("parseMessage() reads an append, and refuses one that does not say where it goes", () => {
  assertEquals(msg({ type: "append", lastMod: "b2", prev: "a1", offset: 4, size: 9, data: "more\n" }), {
    type: "append",
    lastMod: "b2",
    prev: "a1",
    offset: 4,
    size: 9,
    text: "more\n",
    lossy: false,
  });
  const good = { type: "append", lastMod: "b2", prev: "a1", offset: 4, size: 9, data: "more\n" };
  for (
    const bad of [
      { ...good, prev: undefined },
      { ...good, offset: "4" },
      { ...good, offset: -1 },
      { ...good, size: undefined },
      { ...good, size: 3 },
      { ...good, offset: 1.5 },
    ]
  ) assertEquals(parseMessage(JSON.stringify(bad)), null, JSON.stringify(bad));
});

Deno.test("parseMessage() decodes base64 data lossily and counts its bytes", () => {
  assertEquals(msg({ type: "content", lastMod: "1", data: b64([0x68, 0x69, 0xff, 0x0a]), encoding: "base64" }), {
    type: "content",
    lastMod: "1",
    offset: 0,
    size: 4,
    text: "hi\uFFFD\n",
    lossy: true,
  });
});

Deno.test("parseMessage() ignores what is not a filewatch.v1 message", () => {
  for (const frame of ["", "not json", "null", "42", `{"type":"content"}`, `{"type":"nope","data":"x"}`]) {
    assertEquals(parseMessage(frame), null, frame);
  }
  assertEquals(parseMessage(new ArrayBuffer(2)), null);
  assertEquals(parseMessage(JSON.stringify({ type: "content", data: "%%%", encoding: "base64" })), null);
});

Deno.test("utf8Length() counts bytes as TextEncoder would", () => {
  for (const s of ["", "abc", "héj", "€", "😀 ok", "a\uD800b", "\uDC00", "x\uFFFD"]) {
    assertEquals(utf8Length(s), enc.encode(s).length, JSON.stringify(s));
  }
});

// ---- socketUrl -----------------------------------------------------------------

Deno.test("socketUrl() resumes with the lastMod and size held, on the page's host", () => {
  assertEquals(
    socketUrl({ protocol: "http:", host: "127.0.0.1:8080" }, { lastMod: "17f0a", size: 4096 }),
    "ws://127.0.0.1:8080/ws?lastMod=17f0a&size=4096",
  );
  assertEquals(
    socketUrl({ protocol: "https:", host: "logs.example" }, { lastMod: "a&b", size: 0 }),
    "wss://logs.example/ws?lastMod=a%26b&size=0",
  );
});

Deno.test("socketUrl() uses the path the server gave (a --base-path prefix), with wss: under https:", () => {
  assertEquals(
    socketUrl({ protocol: "https:", host: "logs.example" }, { lastMod: "1f", size: 3 }, "/team/logs/ws"),
    "wss://logs.example/team/logs/ws?lastMod=1f&size=3",
  );
  assertEquals(socketUrl({ protocol: "http:", host: "h:1" }, null, "/p/ws"), "ws://h:1/p/ws");
});

Deno.test("socketUrl() asks for everything when nothing is held", () => {
  assertEquals(socketUrl({ protocol: "http:", host: "[::1]:9" }, null), "ws://[::1]:9/ws");
  assertEquals(socketUrl({ protocol: "http:", host: "h" }, { lastMod: "", size: 12 }), "ws://h/ws");
});

// ---- applyMessage --------------------------------------------------------------

Deno.test("applyMessage() applies an append to exactly the version it follows", () => {
  const before = held("one\ntwo\n");
  const c = extended(
    applyMessage(before, msg({ type: "append", lastMod: "b2", prev: "a1", offset: 8, size: 14, data: "three\n" }), 0),
  );
  assertEquals(c.added, "three\n");
  assertEquals(c.dropped, "");
  assertEquals(c.held, { ...before, lastMod: "b2", size: 14, text: "one\ntwo\nthree\n" });
});

Deno.test("applyMessage() calls an append to another version, or from another size, stale", () => {
  const before = held("one\ntwo\n");
  const append = { type: "append", lastMod: "b2", prev: "a1", offset: 8, size: 14, data: "three\n" };
  assertEquals(applyMessage(before, msg({ ...append, prev: "a0" }), 0), { kind: "stale" });
  assertEquals(applyMessage(before, msg({ ...append, offset: 4, size: 10 }), 0), { kind: "stale" });
  assertEquals(applyMessage(NOTHING, msg({ ...append, prev: "" }), 0), { kind: "stale" }, "nothing held");
});

Deno.test("applyMessage() decodes a base64 append lossily and remembers that", () => {
  const before = held("ok\n");
  const data = b64([0x62, 0x61, 0x64, 0xfe, 0x0a]);
  const c = extended(
    applyMessage(
      before,
      msg({ type: "append", lastMod: "b", prev: "a1", offset: 3, size: 8, data, encoding: "base64" }),
      0,
    ),
  );
  assertEquals(c.added, "bad\uFFFD\n");
  assertEquals(c.held.lossy, true);
  assertEquals(c.held.size, 8);
  // A later clean append does not clear it: the bad bytes are still on screen.
  const next = extended(
    applyMessage(c.held, msg({ type: "append", lastMod: "c", prev: "b", offset: 8, size: 11, data: "ok\n" }), 0),
  );
  assertEquals(next.held.lossy, true);
});

Deno.test("applyMessage() takes a 3-byte character that arrives in one append whole", () => {
  const before = held("price: ");
  const data = [...enc.encode("€5\n")];
  assertEquals(data.length, 5);
  for (const frame of [{ data: "€5\n" }, { data: b64(data), encoding: "base64" }]) {
    const c = extended(
      applyMessage(before, msg({ type: "append", lastMod: "b", prev: "a1", offset: 7, size: 12, ...frame }), 0),
    );
    assertEquals(c.held.text, "price: €5\n");
    assertEquals(c.held.size, 12);
    assertEquals(utf8Length(c.held.text), 12, "the bytes held are the bytes the file has");
  }
});

Deno.test("applyMessage() replaces on content, even a shorter or unrelated one", () => {
  const before = { ...held("old text\n"), lossy: true };
  const c = applyMessage(before, msg({ type: "content", lastMod: "b", offset: 0, size: 4, data: "new\n" }), 0);
  assertEquals(c, { kind: "replace", held: { ...NOTHING, lastMod: "b", size: 4, text: "new\n" } });
});

Deno.test("applyMessage() turns a content that only extends what is held into an extend", () => {
  // What a server without appends sends for a growing log: the screen keeps its nodes.
  const before = held("one\n");
  const c = extended(applyMessage(before, msg({ type: "content", lastMod: "b", data: "one\ntwo\n" }), 0));
  assertEquals(c.added, "two\n");
  assertEquals(c.held.text, "one\ntwo\n");
  const window = applyMessage(held("one\n", "a1", 100), msg({ type: "content", lastMod: "b", data: "one\ntwo\n" }), 0);
  assertEquals(window.kind, "replace", "not the same start in the file");
});

Deno.test("applyMessage() keeps a content's tail window offset", () => {
  const c = applyMessage(NOTHING, msg({ type: "content", lastMod: "b", offset: 5000, size: 5004, data: "end\n" }), 0);
  assert(c.kind === "replace");
  assertEquals([c.held.offset, c.held.size, c.held.dropped], [5000, 5004, false]);
});

// ---- trimming ------------------------------------------------------------------

Deno.test("trimPoint() drops the oldest whole lines, down to 7/8 of the bound", () => {
  assertEquals(trimPoint("aaaa\nbb\ncc\n", 0), 0, "no bound");
  assertEquals(trimPoint("aaaa\nbb\ncc\n", 11), 0, "fits");
  assertEquals(trimPoint("aaaa\nbb\ncc\n", 10), 5, "the first line goes");
  assertEquals(trimPoint("aaaa\nbb\ncc\n", 6), 8, "7/8 of 6 is 5: only the last line fits");
  const text = Array.from({ length: 1000 }, (_, i) => `line ${i}\n`).join("");
  const cut = trimPoint(text, 2000);
  assert(cut > 0 && text[cut - 1] === "\n", "at a line start");
  assert(text.length - cut <= 2000 * 7 / 8, `${text.length - cut} left`);
  assert(text.length - cut > 2000 * 7 / 8 - "line 999\n".length, "no more than one line below the target");
});

Deno.test("trimPoint() cuts inside a line longer than the bound, never inside a surrogate pair", () => {
  assertEquals(trimPoint("x".repeat(100), 16), 100 - 14);
  assertEquals(trimPoint("a\n" + "x".repeat(100) + "\n", 16), 103 - 14, "the final newline alone is no line");
  const emoji = "😀".repeat(20); // 40 UTF-16 units
  const cut = trimPoint(emoji, 15);
  const c = emoji.charCodeAt(cut);
  assert(!(c >= 0xdc00 && c < 0xe000), `cut at ${cut} splits a pair`);
  assert(emoji.length - cut <= 15);
});

Deno.test("applyMessage() keeps at most `keepChars` characters, whole lines, and counts the bytes dropped", () => {
  let h = held("");
  h = { ...h, lastMod: "v0" };
  let lastMod = "v0";
  let all = "";
  for (let i = 1; i <= 200; i++) {
    const line = `é line ${i}\n`;
    const c = extended(
      applyMessage(
        h,
        msg({
          type: "append",
          lastMod: `v${i}`,
          prev: lastMod,
          offset: h.size,
          size: h.size + utf8Length(line),
          data: line,
        }),
        100,
      ),
    );
    assert(c.dropped === "" || c.dropped.endsWith("\n"), "whole lines");
    h = c.held;
    lastMod = `v${i}`;
    all += line;
    assert(h.text.length <= 100, `round ${i}: ${h.text.length} characters held`);
    assert(all.endsWith(h.text));
    assertEquals(h.offset, utf8Length(all) - utf8Length(h.text), "offset: the bytes before what is held");
  }
  assert(h.dropped);
  assert(h.text.startsWith("é line "), "starts at a line");
});

Deno.test("trimHeld() leaves a text that fits as it is and marks one it cut", () => {
  const fits = held("ab\ncd\n");
  assertEquals(trimHeld(fits, 100), fits);
  assertEquals(trimHeld(fits, 0), fits);
  const cut = trimHeld(held("€€€\nx\n", "a1", 10), 4);
  assertEquals(cut, { ...held("x\n", "a1", 20), dropped: true });
});
