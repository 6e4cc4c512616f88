/**
 * Append detection and tail mode in the watcher, and the pieces they stand
 * on (docs/detection.md#appends): the e2e suite (tests/e2e/appends.test.ts) runs the same
 * against real servers.
 * @module
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { windowStart } from "../../src/lineage.ts";
import { incompleteUtf8Tail, MAX_HELD_BYTES, type Snapshot, Version } from "../../src/version.ts";
import { FileWatcher } from "../../src/watcher.ts";
import { frameFor, v1Append } from "../../src/messages.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

async function tmp(content: string | Uint8Array): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "fw-appends-" });
  const f = `${dir}/f.log`;
  if (typeof content === "string") await Deno.writeTextFile(f, content);
  else await Deno.writeFile(f, content);
  return f;
}

function watch(file: string, extra: { tail?: number; maxFileSize?: number } = {}) {
  const w = new FileWatcher({
    file,
    poll: 3_600_000,
    maxFileSize: extra.maxFileSize ?? 1 << 20,
    events: false,
    ...extra,
  });
  const seen: Snapshot[] = [];
  const stop = w.subscribe((s) => seen.push(s));
  return { w, seen, stop };
}

Deno.test("incompleteUtf8Tail() counts the bytes of a character not yet complete, and only those", () => {
  const cases: Array<[number[], number]> = [
    [[0x61], 0],
    [[0x61, 0xc3], 1],
    [[0xc3, 0xa9], 0],
    [[0xe2], 1],
    [[0xe2, 0x82], 2],
    [[0xe2, 0x82, 0xac], 0],
    [[0xf0, 0x9f, 0x98], 3],
    [[0xf0, 0x9f, 0x98, 0x80], 0],
    [[0xe0, 0xa0], 2], // U+0800 on its way
    [[0xed, 0x9f], 2], // U+D7FF on its way
    [[0xf4, 0x8f, 0xbf], 3], // U+10FFFF on its way
    [[0x80, 0x80], 0], // stray continuation bytes are not held (invalid, sent as base64)
    [[0x61, 0x80], 0],
    [[0xc3, 0xa9, 0x80], 0], // a complete character and a stray byte
    [[0xe2, 0x82, 0xac, 0x80], 0],
    [[0xff], 0],
    [[0xc0], 0], // C0 and C1 only ever start overlong forms
    [[0xc1], 0],
    [[0xf5], 0], // past U+10FFFF
    [[0xe0, 0x80], 0], // overlong: no later byte makes it a character
    [[0xed, 0xa0], 0], // a surrogate
    [[0xf0, 0x80], 0], // overlong
    [[0xf4, 0x90], 0], // past U+10FFFF
    [[0xe2, 0x41], 0], // the character was cut off by an ASCII byte: both sent
    [[], 0],
  ];
  for (const [bytes, n] of cases) assertEquals(incompleteUtf8Tail(new Uint8Array(bytes)), n, `${bytes}`);
  // Every proper prefix of every well-formed character of each length is held.
  for (const ch of ["é", "€", "\u0800", "\uffff", "😀", "\u{10ffff}"]) {
    const b = enc.encode(ch);
    for (let k = 1; k < b.length; k++) assertEquals(incompleteUtf8Tail(b.subarray(0, k)), k, `${ch} cut after ${k}`);
  }
  assertEquals(MAX_HELD_BYTES, 3);
});

Deno.test("windowStart() starts after the first newline of the last SIZE bytes, or the whole file when it fits", () => {
  const kept = enc.encode("aaaa\nbbbb\ncccc\n");
  assertEquals(windowStart(kept, 0, 100), 0, "the whole file fits");
  assertEquals(windowStart(kept, 0, 8), 10, "after the newline inside the window");
  assertEquals(windowStart(kept, 1000, 8), 1010, "offsets are file offsets");
  const noNewline = enc.encode("xx€€€€");
  assertEquals(windowStart(noNewline, 0, 5), 11, "no newline: the first character boundary");
});

Deno.test("FileWatcher publishes an append as the previous version plus the new bytes", async () => {
  const f = await tmp("one\n");
  const { w, seen, stop } = watch(f);
  try {
    await w.check();
    await Deno.writeTextFile(f, "two\n", { append: true });
    await w.check();
    const [a, b] = seen as Version[];
    assert(a?.ok && b?.ok);
    assertEquals(b.appendOf, { token: a.lastMod, size: 4 });
    assertEquals(b.lineage, a.lineage);
    assertEquals(dec.decode(b.since(4)!), "two\n");
    assertEquals(b.text, "one\ntwo\n");
    assertEquals(w.stats.appends, 1);
    assertEquals(w.lineage.sizeOf(a.lastMod), 4);
    assertEquals(w.lineage.isCurrent(a.lastMod), false);
  } finally {
    stop();
  }
});

Deno.test("FileWatcher does not take a rewrite that only grew in size for an append", async () => {
  // Same inode, larger, but the bytes it had changed: a new lineage with content.
  const f = await tmp("alpha\n");
  const { w, seen, stop } = watch(f);
  try {
    await w.check();
    await Deno.writeTextFile(f, "ALPHA\nbeta\n");
    await w.check();
    const [a, b] = seen as Version[];
    assertEquals(b!.appendOf, null);
    assert(b!.lineage !== a!.lineage);
    // The first 4 KiB are checked too: a change far from the end is seen.
    const big = "x".repeat(10_000) + "\n";
    await Deno.writeTextFile(f, big);
    await w.check();
    await Deno.writeTextFile(f, "y" + big.slice(1) + "more\n");
    await w.check();
    assertEquals((seen.at(-1) as Version).appendOf, null, "a changed first byte is a replacement");
  } finally {
    stop();
  }
});

Deno.test("FileWatcher holds back a character split by the writer until its last byte arrives", async () => {
  const f = await tmp("a\n");
  const { w, seen, stop } = watch(f);
  try {
    await w.check();
    await Deno.writeFile(f, new Uint8Array([0xe2]), { append: true });
    await w.check();
    assertEquals(seen.length, 1, "nothing to send while the character is incomplete");
    await Deno.writeFile(f, new Uint8Array([0x82, 0xac]), { append: true });
    await w.check();
    const last = seen.at(-1) as Version;
    assertEquals(dec.decode(last.since(2)!), "€");
    assertEquals(last.appendOf?.size, 2);
  } finally {
    stop();
  }
});

Deno.test("FileWatcher holds a split character back however long the rest takes, and never as base64", async () => {
  // A block-buffered writer flushes mid-character; the rest may come minutes
  // later. The file's times are set an hour back, so its version is long past
  // the racy window: what is held back is held for the character, not for
  // the time.
  const f = await tmp("a\n");
  const { w, seen, stop } = watch(f);
  const old = new Date(Date.now() - 3_600_000);
  try {
    await w.check();
    await Deno.writeFile(f, new Uint8Array([0x62, 0xe2]), { append: true });
    await Deno.utime(f, old, old);
    await w.check();
    assertEquals(seen.length, 2);
    const b = seen[1] as Version;
    assertEquals([b.size, b.text, b.appendOf?.size], [3, "a\nb", 2], "the whole bytes go, the lead byte waits");
    await Deno.writeFile(f, new Uint8Array([0x82]), { append: true });
    await Deno.utime(f, old, old);
    await w.check();
    assertEquals(seen.length, 2, "two of three bytes are still no character");
    // The page, and a client that connects now, get the same: the bytes before the character.
    assertEquals(((await w.current()) as Version).size, 3);
    await Deno.writeFile(f, new Uint8Array([0xac, 0x0a]), { append: true });
    await Deno.utime(f, old, old);
    await w.check();
    const c = seen.at(-1) as Version;
    assertEquals([seen.length, c.appendOf?.size, c.size], [3, 3, 7]);
    assertEquals(dec.decode(c.since(3)!), "€\n", "one append with the whole character");
    assertEquals(JSON.parse(frameFor(c, "v1", 3, b.lastMod) as string), {
      type: "append",
      lastMod: c.lastMod,
      prev: b.lastMod,
      offset: 3,
      size: 7,
      data: "€\n",
    });
  } finally {
    stop();
  }
});

Deno.test("FileWatcher sends at once the bytes that can never become a character, however recent", async () => {
  // Each case ends in bytes no later byte can complete: they go out (as
  // base64) with the check that finds them, racy or not.
  for (
    const [name, bytes] of [
      ["0xff", [0xff]],
      ["a stray continuation byte", [0x80]],
      ["an overlong start (E0 80)", [0xe0, 0x80]],
      ["a surrogate's start (ED A0)", [0xed, 0xa0]],
      ["a character cut off by ASCII", [0xe2, 0x41]],
    ] as const
  ) {
    const f = await tmp("a\n");
    const { w, seen, stop } = watch(f);
    try {
      await w.check();
      await Deno.writeFile(f, new Uint8Array(bytes), { append: true });
      await w.check();
      const last = seen.at(-1) as Version;
      assertEquals(last.size, 2 + bytes.length, name);
      const m = v1Append(last, 2, "x")!;
      assert(m.type === "append");
      assertEquals(m.encoding, "base64", name);
      assertEquals([...atob(m.data)].map((ch) => ch.charCodeAt(0)), [...bytes], name);
    } finally {
      stop();
    }
  }
});

Deno.test("FileWatcher holds a split character at the end of a file read whole, in tail mode too", async () => {
  for (const tail of [0, 1024]) {
    const text = "x".repeat(3000) + "\n€";
    const bytes = enc.encode(text);
    const f = await tmp(bytes.subarray(0, bytes.length - 1));
    // Long past the racy window: held for the character, not for the time.
    const old = new Date(Date.now() - 3_600_000);
    await Deno.utime(f, old, old);
    const { w, seen, stop } = watch(f, { tail });
    try {
      await w.check();
      const v = seen[0] as Version;
      assert(v?.ok, `tail ${tail}: readable`);
      assertEquals(v.size, bytes.length - 3, `tail ${tail}: the character's two bytes wait`);
      assert(v.text !== null && !v.text.includes("\uFFFD"), `tail ${tail}: text, no broken character`);
      await Deno.writeFile(f, bytes.subarray(bytes.length - 1), { append: true });
      await w.check();
      const last = seen.at(-1) as Version;
      assertEquals([seen.length, last.appendOf?.size, dec.decode(last.since(v.size)!)], [2, v.size, "€"]);
    } finally {
      stop();
    }
  }
});

Deno.test("FileWatcher starts over after a truncation and after a rename rotation", async () => {
  const f = await tmp("l1\nl2\n");
  const { w, seen, stop } = watch(f);
  try {
    await w.check();
    await Deno.truncate(f, 0);
    await Deno.writeTextFile(f, "n1\n", { append: true });
    await w.check();
    const afterTruncate = seen.at(-1) as Version;
    assertEquals([afterTruncate.appendOf, afterTruncate.text], [null, "n1\n"]);
    await Deno.rename(f, f + ".1");
    await Deno.writeTextFile(f, "n1\nn2\n");
    await w.check();
    const afterRotate = seen.at(-1) as Version;
    assertEquals(afterRotate.appendOf, null, "a new inode is never an append, even with the same start");
    assertEquals(afterRotate.text, "n1\nn2\n");
  } finally {
    stop();
  }
});

Deno.test("FileWatcher in tail mode keeps at most twice the window, whatever the file's size", async () => {
  const f = await tmp("");
  await Deno.truncate(f, 64 * 1024 * 1024); // a sparse 64 MiB file: only the tail is read
  await Deno.writeTextFile(f, "\nfirst\n", { append: true });
  const tail = 8 * 1024;
  const { w, seen, stop } = watch(f, { tail, maxFileSize: 1024 });
  try {
    await w.check();
    const first = seen[0] as Version;
    assert(first.ok, "--max-file-size does not apply in tail mode");
    assert(first.base >= 64 * 1024 * 1024 - tail);
    const line = "a log line of some length, forty-odd bytes\n";
    let expected = "";
    for (let i = 0; i < 2000; i++) {
      await Deno.writeTextFile(f, `${i} ${line}`, { append: true });
      expected += `${i} ${line}`;
      if (i % 50 === 0) await w.check();
    }
    await w.check();
    const last = seen.at(-1) as Version;
    const size = (await Deno.stat(f)).size;
    assertEquals(last.size, size);
    assert(last.size - last.base <= 2 * tail, `kept ${last.size - last.base} bytes`);
    assert(last.size - last.offset <= tail, "content is the window");
    assert(expected.endsWith(last.text!), "the window is the file's end");
    assert(last.text!.startsWith(last.text!.split("\n")[0]!) && /^\d+ a log/.test(last.text!), "starts on a line");
    assertEquals(last.appendOf !== null, true, "growth within the window stays an append");
  } finally {
    stop();
  }
});

Deno.test("frameFor() encodes one append per starting point and holder, shared by every client", () => {
  const v = new Version({ seq: 2, lastMod: "b", kept: enc.encode("hello world"), appendOf: { token: "a", size: 5 } });
  const x = frameFor(v, "v1", 5, "a");
  assertEquals(x === frameFor(v, "v1", 5, "a"), true);
  assertEquals(JSON.parse(x as string), {
    type: "append",
    lastMod: "b",
    prev: "a",
    offset: 5,
    size: 11,
    data: " world",
  });
  assertEquals(frameFor(v, "plain", 5), " world");
  assertEquals(JSON.parse(frameFor(v, "v1") as string).type, "content");
});
