/**
 * Version tokens are a function of the file's state (docs/protocol.md#versions): two
 * watchers that never talk to each other name one state alike, and each
 * resumes a client from the other's tokens.
 * @module
 */
import { assert, assertEquals, assertNotEquals } from "../helpers/assert.ts";
import { Fnv64 } from "../../src/fnv.ts";
import {
  contentHash,
  TOKEN_TAIL_BYTES,
  tokenHash,
  tokenMtimeNs,
  type Version,
  versionToken,
} from "../../src/version.ts";
import { FileWatcher } from "../../src/watcher.ts";

const enc = new TextEncoder();

async function tmp(content: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "fw-tokens-" });
  await Deno.writeTextFile(`${dir}/f.txt`, content);
  return `${dir}/f.txt`;
}

const watcher = (file: string, tail = 0) =>
  new FileWatcher({ file, poll: 1_000_000, maxFileSize: 1 << 20, events: false, tail });

/** A fresh watcher's view of the file now: what a process started now would say. */
async function fresh(file: string, tail = 0): Promise<{ w: FileWatcher; v: Version }> {
  const w = watcher(file, tail);
  const v = await w.current();
  assert(v.ok, "readable");
  return { w, v };
}

Deno.test("Fnv64 gives FNV-1a 64's published values, and extending equals hashing the whole", () => {
  assertEquals(new Fnv64().hex(), "cbf29ce484222325");
  assertEquals(new Fnv64().update(enc.encode("a")).hex(), "af63dc4c8601ec8c");
  assertEquals(new Fnv64().update(enc.encode("foobar")).hex(), "85944171f73967e8");
  const bytes = new Uint8Array(10_000).map((_, i) => (i * 131) ^ (i >> 3));
  const whole = new Fnv64().update(bytes).hex();
  const parts = new Fnv64().update(bytes.subarray(0, 1)).update(bytes.subarray(1, 4097)).update(bytes.subarray(4097));
  assertEquals(parts.hex(), whole);
  const base = new Fnv64().update(bytes.subarray(0, 5000));
  const copy = base.clone().update(bytes.subarray(5000));
  assertEquals(copy.hex(), whole);
  assertEquals(base.hex(), new Fnv64().update(bytes.subarray(0, 5000)).hex(), "a clone leaves the original alone");
});

Deno.test("versionToken() puts the mtime (whole ms) over the content hash; tokenHash() and tokenMtimeNs() read them back", () => {
  const hash = contentHash(new Fnv64().update(enc.encode("x")), 1);
  const t = versionToken(1_700_000_000_123_456_789n, hash);
  assertEquals(tokenHash(t), hash);
  assertEquals(tokenMtimeNs(t), 1_700_000_000_123_000_000n, "truncated to ms: Deno and Bun name one state alike");
  assertEquals(versionToken(1_700_000_000_123_999_999n, hash), t);
  assertNotEquals(versionToken(1_700_000_000_124_000_000n, hash), t);
  assertEquals(t, t.toLowerCase());
  assert(/^[1-9a-f][0-9a-f]{31}$/.test(t), t);
  assertEquals(tokenHash(versionToken(-5n, hash)), hash, "an mtime before 1970 counts as 0");
  assertEquals(tokenHash("not hex"), null);
  assertNotEquals(contentHash(new Fnv64(), 0), contentHash(new Fnv64(), 1), "the size is part of the hash");
});

Deno.test("Two watchers name each state of a file rewritten within one mtime alike, and each state differently", async () => {
  const f = await tmp("start");
  const tick = new Date(Date.now() - 60_000);
  const a = watcher(f);
  await a.current();
  const seenA: string[] = [];
  const seenB: string[] = [];
  // Same mtime, other bytes: only the hash tells these apart. (Each write
  // changes the size: a same-size rewrite under an old mtime leaves no trace
  // a stat can see, in any process; docs/detection.md.)
  for (const text of ["one-1", "two-22", "one-1", "six-666"]) {
    await Deno.writeTextFile(f, text);
    await Deno.utime(f, tick, tick);
    await a.check();
    const va = a.snapshot as Version;
    assertEquals(va.text, text);
    const { w: b, v: vb } = await fresh(f);
    assertEquals(vb.lastMod, va.lastMod, `both name "${text}" alike`);
    assertEquals(tokenMtimeNs(va.lastMod), BigInt(tick.getTime()) * 1_000_000n);
    seenA.push(va.lastMod);
    seenB.push(vb.lastMod);
    b.close();
  }
  assertEquals(seenA[0], seenA[2], "one content under one mtime: one token");
  assertEquals(new Set(seenA).size, 3, `three contents, three tokens: ${seenA.join(", ")}`);
  a.close();
});

Deno.test("A watcher resumes from another's tokens: current means nothing to send, a prefix an append, else content", async () => {
  const f = await tmp("line 1\n");
  const a = watcher(f);
  const v1 = await a.current() as Version;
  await Deno.writeTextFile(f, "line 2\n", { append: true });
  await a.check();
  const v2 = a.snapshot as Version;
  assertEquals(v2.appendOf?.token, v1.lastMod, "read as an append");

  // B starts now: it never saw v1.
  const { w: b, v: b2 } = await fresh(f);
  assertEquals(b2.lastMod, v2.lastMod, "hashing the grown file equals extending the hash over the append");
  assert(b.lineage.isCurrent(v2.lastMod));
  assertEquals(
    b.lineage.sizeOf(v1.lastMod, v1.size),
    v1.size,
    "v1 is a prefix of what B holds: one append from its size",
  );
  assertEquals(b.lineage.sizeOf(v1.lastMod, v1.size + 1), undefined, "a wrong size is not that version");
  assertEquals(b.lineage.sizeOf(v1.lastMod), undefined, "without a size only the current version counts");
  assertEquals(b.lineage.isCurrent(v1.lastMod), false);

  // The file is replaced under the same mtime and size: A's tokens name nothing B holds.
  const st = await Deno.stat(f);
  await Deno.writeTextFile(f, "LINE 1\nline 2\n");
  await Deno.utime(f, st.atime!, st.mtime!);
  await b.check();
  const b3 = b.snapshot as Version;
  assertEquals(b3.text, "LINE 1\nline 2\n");
  assertNotEquals(b3.lastMod, v2.lastMod);
  assertEquals(b.lineage.isCurrent(v2.lastMod), false, "a client holding v2 must get the new content");
  assertEquals(b.lineage.sizeOf(v1.lastMod, v1.size), undefined, "nor is v1 a prefix any more");
  a.close();
  b.close();
});

Deno.test("A touch seen by one watcher only: each takes the other's token as current", async () => {
  const f = await tmp("same bytes");
  const a = watcher(f);
  const va = await a.current() as Version;
  const later = new Date(Date.now() + 5_000);
  await Deno.utime(f, later, later);
  await a.check();
  assertEquals(a.snapshot, va, "a touch is not news");
  const { w: b, v: vb } = await fresh(f);
  assertEquals(tokenHash(vb.lastMod), tokenHash(va.lastMod));
  assert(a.lineage.isCurrent(vb.lastMod), "A knows the touched token");
  assert(b.lineage.isCurrent(va.lastMod), "B checks A's token by its hash");
  a.close();
  b.close();
});

Deno.test("Tail mode: the token hashes the version's last bytes, so two watchers agree on the current version", async () => {
  const line = "x".repeat(99) + "\n";
  const f = await tmp(line.repeat(2000)); // 200 kB, more than TOKEN_TAIL_BYTES
  const tail = 100_000;
  const a = watcher(f, tail);
  const v1 = await a.current() as Version;
  await Deno.writeTextFile(f, "y".repeat(99) + "\n", { append: true });
  await a.check();
  const v2 = a.snapshot as Version;
  const { w: b, v: b2 } = await fresh(f, tail);
  assertEquals(b2.lastMod, v2.lastMod);
  assert(b.lineage.isCurrent(v2.lastMod));
  assertEquals(b.lineage.sizeOf(v1.lastMod, v1.size), v1.size, "B holds v1's last bytes: an append");
  // What the token cannot see: a change before its last TOKEN_TAIL_BYTES that keeps size and mtime.
  const st = await Deno.stat(f);
  const text = await Deno.readTextFile(f);
  const edited = "z" + text.slice(1);
  assert(edited.length - 1 >= TOKEN_TAIL_BYTES);
  await Deno.writeTextFile(f, edited);
  await Deno.utime(f, st.atime!, st.mtime!);
  const { w: c, v: c2 } = await fresh(f, tail);
  assertEquals(c2.lastMod, v2.lastMod, "documented: the token does not cover bytes before its window");
  a.close();
  b.close();
  c.close();
});

Deno.test("A character held back at the end: every watcher publishes the bytes before it under the same token", async () => {
  // What is held back is a function of the file's last bytes alone, so two
  // processes that read the file in one state publish one size and one token,
  // whatever each saw before; a process that saw the file before the
  // character's first byte keeps its token, as for a touch, and each accepts
  // the other's.
  for (const tail of [0, 4096]) {
    const f = await tmp("x".repeat(5000) + "\nline 1\n");
    const size = 5008;
    const old = new Date(Date.now() - 3_600_000);
    await Deno.utime(f, old, old);
    const a = watcher(f, tail);
    const va = await a.current() as Version;
    assertEquals(va.size, size);
    await Deno.writeFile(f, new Uint8Array([0xe2]), { append: true }); // the first byte of €
    const later = new Date(Date.now() - 1_800_000);
    await Deno.utime(f, later, later);
    await a.check();
    assertEquals(a.snapshot, va, `tail ${tail}: nothing to send while the character is incomplete`);
    const { w: b, v: vb } = await fresh(f, tail);
    assertEquals(vb.size, size, `tail ${tail}: a watcher started now publishes the same bytes`);
    assertEquals(tokenHash(vb.lastMod), tokenHash(va.lastMod));
    assert(a.lineage.isCurrent(vb.lastMod), `tail ${tail}: A takes B's token as current`);
    assert(b.lineage.isCurrent(va.lastMod), `tail ${tail}: B takes A's token as current`);
    await Deno.writeFile(f, enc.encode("€").subarray(1), { append: true });
    await a.check();
    await b.check();
    const a2 = a.snapshot as Version;
    const b2 = b.snapshot as Version;
    const { w: c, v: c2 } = await fresh(f, tail);
    assertEquals([a2.size, b2.size, c2.size], [size + 3, size + 3, size + 3]);
    assertEquals(
      new Set([a2.lastMod, b2.lastMod, c2.lastMod]).size,
      1,
      `tail ${tail}: one token for the whole character`,
    );
    assertEquals(a2.appendOf?.size, size, "an append from the size published before");
    assertEquals(
      c.lineage.sizeOf(va.lastMod, size),
      size,
      `tail ${tail}: A's earlier token resumes at C by one append`,
    );
    a.close();
    b.close();
    c.close();
  }
});
