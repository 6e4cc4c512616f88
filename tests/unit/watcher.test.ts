import { assert, assertEquals, assertMatch, assertNotEquals } from "../helpers/assert.ts";
import { isRacy, readIfChanged } from "../../src/read.ts";
import { type Snapshot, utf8OrNull } from "../../src/version.ts";
import { FileWatcher } from "../../src/watcher.ts";

async function tmp(content: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "fw-unit-" });
  await Deno.writeTextFile(`${dir}/f.txt`, content);
  return `${dir}/f.txt`;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("readIfChanged() reads a new file, then says unchanged for the same stamp", async () => {
  const f = await tmp("hello");
  const r = await readIfChanged(f, null, 1024);
  assert(r.kind === "content");
  assertEquals(new TextDecoder().decode(r.bytes), "hello");
  assertEquals(r.stamp.size, 5);
  assertEquals((await readIfChanged(f, r.stamp, 1024)).kind, "unchanged");
  // A recheck reads even when the stamp is the same (racy versions).
  assertEquals((await readIfChanged(f, r.stamp, 1024, true)).kind, "content");
});

Deno.test("readIfChanged() sees a replace by an older file (mtime goes back) as a change", async () => {
  const f = await tmp("new");
  const r1 = await readIfChanged(f, null, 1024);
  assert(r1.kind === "content");
  const old = new Date(Date.now() - 86_400_000);
  await Deno.writeTextFile(f + ".tmp", "old");
  await Deno.utime(f + ".tmp", old, old);
  await Deno.rename(f + ".tmp", f);
  const r2 = await readIfChanged(f, r1.stamp, 1024);
  assert(r2.kind === "content");
  assertEquals(new TextDecoder().decode(r2.bytes), "old");
  assert(r2.stamp.mtimeNs < r1.stamp.mtimeNs);
});

Deno.test("readIfChanged() maps a missing file and an oversize file to one error each", async () => {
  const f = await tmp("0123456789");
  const big = await readIfChanged(f, null, 5);
  assert(big.kind === "error");
  assertEquals(big.code, "EFBIG");
  assertMatch(big.message, /f\.txt: file too large \(10 bytes, limit 5\)/);
  await Deno.remove(f);
  const gone = await readIfChanged(f, null, 1024);
  assert(gone.kind === "error");
  assertEquals(gone.code, "ENOENT");
  assertEquals(gone.message, "f.txt: file not found");
});

Deno.test("isRacy() flags versions read within the mtime window, wider for whole-second mtimes", () => {
  const stamp = (ns: bigint) => ({ mtimeNs: ns, ctimeNs: ns, size: 1, ino: 1n, dev: 1n });
  const t = 1_700_000_000_123_000_000n;
  assertEquals(isRacy(stamp(t), t + 50_000_000n), true);
  assertEquals(isRacy(stamp(t), t + 500_000_000n), false);
  const whole = 1_700_000_000_000_000_000n;
  assertEquals(isRacy(stamp(whole), whole + 1_500_000_000n), true);
});

Deno.test("utf8OrNull() decodes valid UTF-8 (BOM kept) and refuses invalid bytes", () => {
  assertEquals(utf8OrNull(new TextEncoder().encode("ünï")), "ünï");
  assertEquals(utf8OrNull(new Uint8Array([0xef, 0xbb, 0xbf, 0x61])), "\ufeffa");
  assertEquals(utf8OrNull(new Uint8Array([0xc3])), null);
});

Deno.test("FileWatcher publishes changes once, errors once, and not a touch", async () => {
  const f = await tmp("a");
  const w = new FileWatcher({ file: f, poll: 20, maxFileSize: 1024, events: false });
  const seen: Snapshot[] = [];
  const stop = w.subscribe((s) => seen.push(s));
  try {
    const waitLen = async (n: number) => {
      for (let i = 0; i < 200 && seen.length < n; i++) await sleep(10);
      assertEquals(seen.length, n);
    };
    await waitLen(1);
    assertEquals(seen[0]!.ok && seen[0]!.text, "a");
    const later = new Date(Date.now() + 10_000);
    await Deno.utime(f, later, later);
    await sleep(150);
    assertEquals(seen.length, 1, "a touch is not news");
    const touched = later.getTime() * 1_000_000;
    assert(
      w.lineage.isCurrent(BigInt(touched).toString(16)) || w.lineage.isCurrent(seen[0]!.lastMod),
      "the touch is an alias",
    );
    await Deno.remove(f);
    await waitLen(2);
    assertEquals(seen[1]!.ok, false);
    await sleep(150);
    assertEquals(seen.length, 2, "the same error is sent once");
    await Deno.writeTextFile(f, "b");
    await waitLen(3);
    assertEquals(seen[2]!.ok && seen[2]!.text, "b");
    assertEquals(seen.map((s) => s.seq), [1, 2, 3]);
  } finally {
    stop();
  }
  assertEquals(w.mode, "idle");
});

Deno.test("FileWatcher gives a same-mtime rewrite a different lastMod", async () => {
  const f = await tmp("one");
  const w = new FileWatcher({ file: f, poll: 1_000_000, maxFileSize: 1024, events: false });
  const a = await w.current();
  const st = await Deno.stat(f);
  await Deno.writeTextFile(f, "two");
  await Deno.utime(f, st.atime!, st.mtime!); // same mtime, same size, new bytes
  await w.check(); // the first read was racy (just written), so it is read again
  const b = w.snapshot!;
  assert(a.ok && b.ok);
  assertEquals(b.text, "two");
  assertNotEquals(b.lastMod, a.lastMod);
  assertEquals(w.lineage.isCurrent(a.lastMod), false);
  w.close();
});

Deno.test("FileWatcher releases its timer and event watcher when the last subscriber leaves", async () => {
  const f = await tmp("x");
  const w = new FileWatcher({ file: f, poll: 10, maxFileSize: 1024, events: true });
  const stop1 = w.subscribe(() => {});
  const stop2 = w.subscribe(() => {});
  await sleep(30);
  assertEquals(w.mode, "events");
  stop1();
  assertEquals(w.mode, "events");
  stop2();
  assertEquals(w.mode, "idle");
  await w.check();
  const checks = w.stats.checks;
  await sleep(60);
  assertEquals(w.stats.checks, checks, "no polling after the last subscriber left");
});

Deno.test("FileWatcher with events delivers a rename-replace before the next poll", async () => {
  const f = await tmp("before");
  const w = new FileWatcher({ file: f, poll: 60_000, maxFileSize: 1024, events: true });
  const seen: string[] = [];
  const stop = w.subscribe((s) => s.ok && seen.push(s.text ?? ""));
  try {
    for (let i = 0; i < 100 && seen.length < 1; i++) await sleep(10);
    await Deno.writeTextFile(f + ".new", "after");
    await Deno.rename(f + ".new", f);
    for (let i = 0; i < 200 && seen.length < 2; i++) await sleep(10);
    assertEquals(seen, ["before", "after"]);
  } finally {
    stop();
  }
});

Deno.test("FileWatcher keeps publishing to the other subscribers when one throws, and its checks never reject", async () => {
  const f = await tmp("a");
  const warnings: string[] = [];
  const w = new FileWatcher({
    file: f,
    poll: 3_600_000,
    maxFileSize: 1024,
    events: false,
    onWarning: (m) => warnings.push(m),
  });
  const seen: string[] = [];
  const stopBad = w.subscribe(() => {
    throw new RangeError("Invalid string length");
  });
  const stop = w.subscribe((s) => s.ok && seen.push(s.text ?? ""));
  try {
    await w.check();
    await Deno.writeTextFile(f, "b");
    await w.check(); // resolves: a rejection here would end the process from a timer
    assertEquals(seen, ["a", "b"]);
    assert(warnings.some((m) => m.startsWith("a subscriber failed: RangeError")), warnings.join("\n"));
  } finally {
    stopBad();
    stop();
  }
});
