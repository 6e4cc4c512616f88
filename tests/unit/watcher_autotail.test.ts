/**
 * A file larger than `--max-file-size` without `--tail` is followed in tail
 * mode (docs/detection.md#tail-mode): the window, then appends; a file held
 * whole that grows past the limit starts a new lineage in tail mode; one
 * replaced by a small file is held whole again. The mode is a function of
 * the file's size at a lineage's start, so two watchers that never talk
 * publish the same tokens. tests/e2e/autotail.test.ts runs the same against
 * real servers.
 * @module
 */
import { assert, assertEquals, assertNotEquals } from "../helpers/assert.ts";
import { Lineage, needOf } from "../../src/lineage.ts";
import type { Snapshot, Version } from "../../src/version.ts";
import { AUTO_TAIL_BYTES, FileWatcher, windowFor } from "../../src/watcher.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
/** The limit these tests watch with: small, so files over it are made in a moment. */
const MAX = 16 * 1024;

/** `n` numbered lines of 64 bytes, from line `from`. */
function lines(n: number, from = 0): string {
  let out = "";
  for (let i = from; i < from + n; i++) out += `line ${String(i).padStart(8, "0")} ${".".repeat(49)}\n`;
  return out;
}

async function tmp(content: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "fw-autotail-" });
  await Deno.writeTextFile(`${dir}/f.log`, content);
  return `${dir}/f.log`;
}

function watch(file: string, extra: { tail?: number } = {}) {
  const w = new FileWatcher({ file, poll: 3_600_000, maxFileSize: MAX, events: false, ...extra });
  const seen: Snapshot[] = [];
  const stop = w.subscribe((s) => seen.push(s));
  return { w, seen, stop };
}

/** What a watcher started now says of the file: another process that never saw it before. */
async function fresh(file: string): Promise<Version> {
  const w = new FileWatcher({ file, poll: 3_600_000, maxFileSize: MAX, events: false });
  const v = await w.current();
  w.close();
  assert(v.ok, "readable");
  return v;
}

const ok = (s: Snapshot | undefined): Version => {
  assert(s?.ok, `a version, not ${JSON.stringify(s)}`);
  return s;
};

Deno.test("windowFor(): --tail for every file; without it 1 MiB (at most the limit) over --max-file-size, else whole", () => {
  assertEquals(AUTO_TAIL_BYTES, 1024 * 1024);
  assertEquals(windowFor(3 << 20, { maxFileSize: 1 << 20 }), 1 << 20);
  assertEquals(windowFor(1 << 20, { maxFileSize: 1 << 20 }), 0, "at the limit: still whole");
  assertEquals(windowFor((1 << 20) + 1, { maxFileSize: 1 << 20 }), 1 << 20);
  assertEquals(windowFor(1 << 30, { maxFileSize: 16 << 20 }), 1 << 20, "1 MiB under the default limit");
  assertEquals(windowFor(200, { maxFileSize: 100 }), 100, "never more than one message may carry");
  assertEquals(windowFor(10, { maxFileSize: 1 << 20, tail: 4096 }), 4096, "--tail: every file");
  assertEquals(windowFor(1 << 30, { maxFileSize: 1 << 20, tail: 4096 }), 4096);
  assertEquals(windowFor(0, { maxFileSize: 1 << 20, tail: 0 }), 0);
});

Deno.test("FileWatcher follows a file over --max-file-size in tail mode: its window, then appends", async () => {
  const text = lines(768); // 48 KiB, three times the limit
  const f = await tmp(text);
  const { w, seen, stop } = watch(f);
  try {
    await w.check();
    const first = ok(seen[0]);
    assertEquals(first.tail, MAX, "served as a window of the limit");
    assertEquals(first.size, text.length);
    assert(first.offset > text.length - MAX && first.offset > 0, `the window starts at ${first.offset}`);
    assertEquals(first.text, text.slice(first.offset), "the file's end");
    assert(/^line \d{8} /.test(first.text!), "from the start of a line");
    assert(first.size - first.base <= 2 * MAX, "nothing held beyond twice the window");
    const more = lines(3, 768);
    await Deno.writeTextFile(f, more, { append: true });
    await w.check();
    const next = ok(seen[1]);
    assertEquals(next.appendOf, { token: first.lastMod, size: first.size }, "an append of the window");
    assertEquals(next.lineage, first.lineage);
    assertEquals(dec.decode(next.since(first.size)!), more);
    assertEquals(needOf({ lineage: first.lineage, size: first.size }, next), first.size, "a client gets the new bytes");
    assertEquals(w.stats.readErrors, 0, "never the 'file too large' error");
  } finally {
    stop();
  }
});

Deno.test("FileWatcher: a file held whole that grows past the limit starts a lineage in tail mode, tokens as a fresh read's", async () => {
  // Each growth once through the append check (a few KiB: no settled re-read) and once past twice the window (read anew).
  for (const [name, grow] of [["a small append", 64], ["a jump past twice the window", 1024]] as const) {
    const text = lines(200); // 12.5 KiB: under the limit
    const f = await tmp(text);
    const { w, seen, stop } = watch(f);
    try {
      await w.check();
      const whole = ok(seen[0]);
      assertEquals([whole.tail, whole.offset, whole.size], [0, 0, text.length], `${name}: held whole first`);
      const reads = w.stats.reads;
      // Past the limit, ending in the first bytes of a "€" whose last byte comes later.
      const more = enc.encode(lines(grow, 200) + "price ");
      const partial = new Uint8Array([...more, 0xe2, 0x82]);
      await Deno.writeFile(f, partial, { append: true });
      await w.check();
      const switched = ok(seen[1]);
      assertEquals(seen.length, 2, `${name}: one new version`);
      assertEquals(switched.appendOf, null, `${name}: never an append across the switch`);
      assertNotEquals(switched.lineage, whole.lineage, `${name}: a new lineage`);
      assertEquals(switched.tail, MAX);
      const size = text.length + more.length;
      assertEquals(switched.size, size, `${name}: the character's first bytes are held back`);
      assert(switched.offset > size - MAX - 1 && switched.offset < size, `${name}: the window at ${switched.offset}`);
      assert(/^line \d{8} /.test(switched.text!), `${name}: from the start of a line`);
      assertEquals(needOf({ lineage: whole.lineage, size: whole.size }, switched), "content", `${name}: content`);
      assertEquals(w.lineage.sizeOf(whole.lastMod, whole.size), undefined, `${name}: no resume from the whole version`);
      if (grow === 64) assertEquals(w.stats.reads, reads, "the switch was read as an append: no settled read");
      // Another process that starts now reads the window and names it alike.
      const other = await fresh(f);
      assertEquals([other.lastMod, other.offset, other.size, other.tail], [
        switched.lastMod,
        switched.offset,
        switched.size,
        switched.tail,
      ], `${name}: the same version in every process`);
      // The character completes: an append in tail mode, as in every process.
      await Deno.writeFile(f, new Uint8Array([0xac, 0x0a]), { append: true });
      await w.check();
      const next = ok(seen[2]);
      assertEquals(next.appendOf?.token, switched.lastMod);
      assertEquals(dec.decode(next.since(switched.size)!), "€\n");
      assertEquals(next.lastMod, (await fresh(f)).lastMod);
    } finally {
      stop();
    }
  }
});

Deno.test("FileWatcher: a file in tail mode replaced by a small one is held whole again, and back when large", async () => {
  const f = await tmp(lines(768));
  const { w, seen, stop } = watch(f);
  try {
    await w.check();
    const big = ok(seen[0]);
    assertEquals(big.tail, MAX);
    await Deno.writeTextFile(f + ".new", "small now\n");
    await Deno.rename(f + ".new", f); // logrotate's create: a new inode
    await w.check();
    const small = ok(seen[1]);
    assertEquals([small.tail, small.offset, small.text, small.appendOf], [0, 0, "small now\n", null]);
    assertNotEquals(small.lineage, big.lineage);
    await Deno.writeTextFile(f, "tiny\n"); // truncate + write: same inode, whole
    await w.check();
    assertEquals([ok(seen[2]).tail, ok(seen[2]).text], [0, "tiny\n"]);
    const large = lines(400);
    await Deno.writeTextFile(f, large); // rewritten in place, over the limit: a window again
    await w.check();
    const again = ok(seen[3]);
    assertEquals([again.tail, again.appendOf, again.size], [MAX, null, large.length]);
    assertEquals(again.text, large.slice(again.offset));
  } finally {
    stop();
  }
});

Deno.test("FileWatcher with --tail keeps tail mode for small files too (the limit plays no part)", async () => {
  const f = await tmp("a\nb\n");
  const { w, seen, stop } = watch(f, { tail: 4096 });
  try {
    await w.check();
    const v = ok(seen[0]);
    assertEquals([v.tail, v.offset, v.text], [4096, 0, "a\nb\n"]);
  } finally {
    stop();
  }
});

Deno.test("Lineage.replace() with another window starts a new lineage, even on bytes that extend the last", () => {
  const l = new Lineage();
  const a = l.replace(enc.encode("one\ntwo\n"), 0, 1_700_000_000_000_000_000n, false)!;
  assertEquals(l.tail, 0);
  const b = l.replace(enc.encode("one\ntwo\nthree\n"), 0, 1_700_000_000_001_000_000n, true, 8)!;
  assertEquals(b.appendOf, null, "not an append: the window changed");
  assertNotEquals(b.lineage, a.lineage);
  assertEquals([l.tail, b.tail, b.offset, b.text], [8, 8, 8, "three\n"]);
  // Same window, same inode, bytes that extend: an append, as before.
  const c = l.replace(enc.encode("one\ntwo\nthree\nfour\n"), 0, 1_700_000_000_002_000_000n, true, 8)!;
  assertEquals(c.appendOf?.token, b.lastMod);
});
