/**
 * The change witness (docs/detection.md, "Stable reads"): what a read must
 * show before it is published, checked against writers played by a fake file
 * system (tests/helpers/fake_fs.ts) that hit every race on purpose, not by
 * chance: a writer inside every read, a writer that puts the mtime and size
 * back, a truncate caught between setting the size and the times, a state
 * that comes back identical within one ctime tick, a file that changes
 * between every two reads, and a truncate whose writer is descheduled in its
 * middle.
 * @module
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { type AppendBase, heldStillHolds, readAppended, readIfChanged, STABLE_READ_TRIES } from "../../src/read.ts";
import { SETTLE_MS, UNSETTLED_MAX_MS } from "../../src/settle.ts";
import { FileWatcher } from "../../src/watcher.ts";
import { FakeFile, fakeState, fineNowNs } from "../helpers/fake_fs.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const HOUR_NS = 3_600_000_000_000n;

/** A watcher on `fake` that only checks when told to; what it publishes, as text ("error: …" for errors). */
function watch(fake: FakeFile, poll = 1_000_000) {
  const w = new FileWatcher({ file: "/fake/f.txt", poll, maxFileSize: 1 << 20, events: false, fs: fake });
  const seen: string[] = [];
  const stop = w.subscribe((s) => seen.push(s.ok ? s.text ?? "" : `error: ${s.error}`));
  return { w, seen, stop };
}

/**
 * Checks until `seen` has `n` entries (at most `ms`). With a poll period
 * shorter than a check, the poll keeps asking for one more run, so a check's
 * promise may not settle while the file changes: wait on the count instead.
 */
async function publishedAtLeast(w: FileWatcher, seen: string[], n: number, ms = 2_000) {
  const until = Date.now() + ms;
  while (seen.length < n && Date.now() < until) await Promise.race([w.check(), sleep(20)]);
}

/** Lets the watcher's own poll (and any check in progress) run for `ms`. */
async function runFor(w: FileWatcher, ms: number) {
  const until = Date.now() + ms;
  while (Date.now() < until) await Promise.race([w.check(), sleep(20)]);
}

Deno.test("readIfChanged() gives up with 'unstable' when a writer is inside every try, and returns no bytes", async () => {
  const fake = new FakeFile(fakeState("version A\n", fineNowNs()));
  let k = 0;
  // Every read lands in the middle of a write: new bytes, new times.
  fake.before = (call) => {
    if (call !== "read") return;
    k++;
    fake.state = fakeState(`torn ${k} ${"x".repeat(k % 7)}\n`, fineNowNs() + BigInt(k));
  };
  const r = await readIfChanged("/fake/f.txt", null, 1 << 20, false, 0, fake);
  assertEquals(r.kind, "unstable");
  assertEquals(fake.calls.filter((c) => c === "read").length >= STABLE_READ_TRIES, true, "every try was made");
});

Deno.test("readIfChanged() catches a writer that puts the mtime and size back during the read: the ctime moved", async () => {
  // Same-tick rewrites (tests/e2e/torture.test.ts's "same-tick" writer): the
  // same size, the mtime set back with utime; only the ctime, which no
  // program can set, tells the before and after stats apart.
  const t = fineNowNs() - HOUR_NS;
  const fake = new FakeFile(fakeState("AAAAAAAA", t));
  let ctime = fineNowNs();
  fake.before = (call) => {
    if (call !== "read") return;
    ctime += 1_000n;
    const half = fake.state!.bytes[0] === 0x41 ? "BBBBAAAA" : "AAAABBBB";
    fake.state = { bytes: enc.encode(half), mtimeNs: t, ctimeNs: ctime };
  };
  const r = await readIfChanged("/fake/f.txt", null, 1 << 20, false, 0, fake);
  assertEquals(r.kind, "unstable", "a read whose stats differ only in ctime is not one version");
});

Deno.test("FileWatcher never publishes a read that raced the writer on every try, however long that lasts", async () => {
  const fake = new FakeFile(fakeState("version A\n", fineNowNs() - HOUR_NS));
  // poll 50 ms: the "never holds still" deadline (one poll period) passes many times below.
  const { w, seen, stop } = watch(fake, 50);
  try {
    await publishedAtLeast(w, seen, 1);
    assertEquals(seen, ["version A\n"]);
    let k = 0;
    let racing = true;
    fake.before = (call) => {
      if (!racing || call !== "read") return;
      k++;
      fake.state = fakeState(`version B, half written (${k})`.slice(0, 10 + (k % 10)), fineNowNs() + BigInt(k));
    };
    await runFor(w, 400);
    assertEquals(seen, ["version A\n"], "a torn read was published");
    racing = false;
    fake.state = fakeState("version B, whole\n", fineNowNs());
    await publishedAtLeast(w, seen, 2);
    assertEquals(seen, ["version A\n", "version B, whole\n"]);
    // A page view of a file that races every read says so rather than showing a torn read.
    const fresh = new FakeFile(fakeState("x", fineNowNs()));
    fresh.before = (call) => {
      if (call === "read") fresh.state = fakeState(`y${fresh.calls.length}`, fineNowNs() + BigInt(fresh.calls.length));
    };
    const lone = new FileWatcher({ file: "/fake/g.txt", poll: 1_000, maxFileSize: 1024, events: false, fs: fresh });
    const snap = await lone.current();
    assertEquals(snap.ok, false);
  } finally {
    stop();
  }
});

Deno.test("FileWatcher does not publish a file emptied under its old times (a truncate between size and times)", async () => {
  // On ext4, O_TRUNC sets the size to 0 before it updates the times, so a
  // stat in between sees an empty file under the previous change's mtime
  // AND ctime, which can be hours old: the file's age cannot tell this state
  // from a finished one. Here the writer's call finishes 4 ms later (the
  // file's states are a function of the clock, so no real writer has to be
  // scheduled in time): only a second read after the settle wait sees it.
  const old = fineNowNs() - HOUR_NS;
  const fake = new FakeFile(fakeState("version one, whole\n", old));
  const { w, seen, stop } = watch(fake);
  try {
    await publishedAtLeast(w, seen, 1);
    const t0 = performance.now();
    let done: bigint | null = null;
    fake.before = () => {
      if (performance.now() - t0 < SETTLE_MS / 2.5) {
        fake.state = { bytes: new Uint8Array(0), mtimeNs: old, ctimeNs: old, ino: 7n };
      } else {
        done ??= fineNowNs();
        fake.state = fakeState("version two, whole\n", done);
      }
    };
    await w.check();
    await publishedAtLeast(w, seen, 2);
    assertEquals(seen, ["version one, whole\n", "version two, whole\n"], "the emptied file was published");
  } finally {
    stop();
  }
});

Deno.test("FileWatcher confirms a read only once its ctime's tick is SETTLE_MS past, so a state back within one tick is no twin", async () => {
  // A same-tick writer truncates, writes, truncates again within one clock
  // tick of the kernel's: both emptied states carry one ctime. A first read
  // and a re-read SETTLE_MS later by our clock can see "both" and agree on a
  // state that did not hold between them. The re-read must wait until the
  // ctime's tick (≤ 10 ms) plus SETTLE_MS has passed; by then the writer's
  // version is in place (here at 15 ms).
  const fake = new FakeFile(fakeState("version A\n", fineNowNs() - HOUR_NS));
  const { w, seen, stop } = watch(fake);
  try {
    await publishedAtLeast(w, seen, 1);
    const c1 = fineNowNs();
    const t0 = performance.now();
    let done: bigint | null = null;
    fake.before = () => {
      if (performance.now() - t0 < 15) {
        fake.state = { bytes: new Uint8Array(0), mtimeNs: c1 - HOUR_NS, ctimeNs: c1, ino: 7n };
      } else {
        done ??= fineNowNs();
        fake.state = fakeState("version B\n", done);
      }
    };
    await w.check();
    await publishedAtLeast(w, seen, 2);
    assertEquals(seen, ["version A\n", "version B\n"], "a state seen twice within its ctime tick was published");
  } finally {
    stop();
  }
});

Deno.test("FileWatcher shows a never-still file only in a state two reads in a row agree on, and the kernel vouches for where it can", async () => {
  // The file changes between every two reads but never during one: every
  // read is stable, none is confirmed. Once the file has changed for one poll
  // period the watcher shows it anyway, but only what a second read right
  // after agrees with; a state one read happened to catch is not shown. With
  // fine-grained ctimes (Bun) the kernel must also vouch that the state held
  // SETTLE_MS: a writer descheduled mid-write leaves half-done states that two
  // reads in a row can both catch. Whole-second ctimes (Deno) vouch for nothing
  // that short, and the two reads stand alone.
  const fake = new FakeFile(fakeState("steady\n", fineNowNs() - HOUR_NS));
  const { w, seen, stop } = watch(fake, 50);
  try {
    await publishedAtLeast(w, seen, 1);
    let k = 0;
    let mode: "every-open" | "every-3-ms" | "still" = "every-open";
    let ctimeNs = fineNowNs;
    let t0 = 0;
    fake.before = (call) => {
      if (mode === "every-open" && (call === "open" || call === "stat")) {
        fake.state = fakeState(`state ${++k}\n`, fineNowNs() + BigInt(++k));
      }
      if (mode !== "every-3-ms") return;
      // A new state every 3 ms: each lasts far longer than two reads of it take.
      const i = Math.floor((performance.now() - t0) / 3);
      if (i !== k) fake.state = { ...fakeState(`state ${k = i}\n`, fineNowNs()), ctimeNs: ctimeNs() };
    };
    // Each check makes 5 settle rounds of ~20 ms (the ctime's tick, then SETTLE_MS): 700 ms pass the
    // one-poll-period deadline (50 ms) several times.
    await runFor(w, 700);
    assertEquals(seen, ["steady\n"], "a state only one read saw was published");
    // Every state holds 3 ms, shorter than a settle round, longer than two reads.
    mode = "every-3-ms";
    t0 = performance.now();
    k = -1;
    await runFor(w, 300);
    assertEquals(seen, ["steady\n"], "fine ctimes: a 3 ms state was shown, which the kernel cannot vouch for");
    // The same with whole-second ctimes: shown about once per poll period.
    ctimeNs = () => BigInt(Math.floor(Date.now() / 1000)) * 1_000_000_000n;
    await runFor(w, 600);
    assertEquals(seen.length >= 2, true, `${seen.length - 1} updates in 600 ms of a never-still file (poll 50 ms)`);
    for (const t of seen.slice(1)) assertEquals(/^state \d+\n$/.test(t), true, t);
    mode = "still";
    fake.state = fakeState("steady again\n", fineNowNs());
    await publishedAtLeast(w, seen, seen.length + 1);
    assertEquals(seen.at(-1), "steady again\n");
  } finally {
    stop();
  }
});

Deno.test("FileWatcher does not show a never-still file in a state caught between a truncate's size and times", async () => {
  // Every state lasts 4 ms and carries an hour-old ctime, as a file caught
  // inside ext4's truncate does (size set, times not yet): the kernel seems
  // to vouch for it. Two reads right after each other agree on such a state;
  // two SETTLE_MS apart never do, so nothing may be shown.
  const old = fineNowNs() - HOUR_NS;
  const fake = new FakeFile(fakeState("steady\n", old));
  const { w, seen, stop } = watch(fake, 50);
  try {
    await publishedAtLeast(w, seen, 1);
    const t0 = performance.now();
    let k = -1;
    fake.before = () => {
      const i = Math.floor((performance.now() - t0) / 4);
      if (i !== k) {
        fake.state = { bytes: enc.encode("x".repeat(1 + (k = i) % 50)), mtimeNs: old, ctimeNs: old, ino: 7n };
      }
    };
    await runFor(w, 800);
    assertEquals(seen, ["steady\n"], "a state that lasted 4 ms was shown");
  } finally {
    stop();
  }
});

/** What the server holds of `text` as a version of the file played by `fake`. */
function heldOf(fake: FakeFile, text: string, head: number, end: number): AppendBase {
  const bytes = enc.encode(text);
  const s = fake.state!;
  return {
    stamp: { mtimeNs: s.mtimeNs, ctimeNs: s.ctimeNs, size: bytes.length, ino: s.ino ?? 7n, dev: 1n },
    size: bytes.length,
    before: bytes.subarray(bytes.length - end),
    head: bytes.subarray(0, head),
  };
}

Deno.test("readAppended() and heldStillHolds() share one check of the two ranges: the end held and the head", async () => {
  const base = "HEAD" + "m".repeat(20) + "TAIL";
  for (
    const [name, change, appended, holds] of [
      ["unchanged", (s: string) => s, true, true],
      ["the head rewritten", (s: string) => "XEAD" + s.slice(4), false, false],
      ["the end held rewritten", (s: string) => s.slice(0, -1) + "X", false, false],
      // What an append check cannot see (docs/detection.md#appends).
      ["the middle rewritten (not checked)", (s: string) => s.slice(0, 10) + "X" + s.slice(11), true, true],
    ] as const
  ) {
    const fake = new FakeFile(fakeState(base, fineNowNs() - HOUR_NS));
    const held = heldOf(fake, base, 4, 4);
    fake.state = { ...fake.state!, bytes: enc.encode(change(base)) };
    const same = await heldStillHolds("/fake/f.txt", held, fake);
    assertEquals(same !== false && same !== "moved", holds, `heldStillHolds, ${name}`);
    fake.state = { ...fake.state!, bytes: enc.encode(change(base) + "more\n") };
    const grown = await readAppended("/fake/f.txt", held, 1 << 20, fake);
    assertEquals(grown.kind === "appended", appended, `readAppended, ${name}`);
    if (grown.kind === "appended") assertEquals(dec.decode(grown.bytes), "more\n");
  }
  // A held version no longer than the checked end range: the head is part of it and read once.
  const small = new FakeFile(fakeState("tiny", fineNowNs() - HOUR_NS));
  const held = heldOf(small, "tiny", 4, 4);
  small.state = { ...small.state!, bytes: enc.encode("tiny+") };
  assertEquals((await readAppended("/fake/f.txt", held, 1 << 20, small)).kind, "appended");
  assertEquals(
    small.calls.filter((c) => c === "read").length,
    1,
    "one read covers the end range, the head and the new byte",
  );
});

Deno.test("FileWatcher does not publish a file emptied under the times of a state it read, however long the truncate runs", async () => {
  // The torture test under heavier load (issue 23): a writer descheduled
  // inside open(O_TRUNC) leaves the file emptied under the previous state's
  // times for tens of milliseconds (up to 106 ms seen), so two reads
  // SETTLE_MS apart both see it, and its old ctime seems to vouch for it.
  // Where ctimes are fine-grained no finished change keeps the times of a
  // state a stat saw: the server must wait for the truncate to end.
  for (const seenFirst of ["published", "read in the same settle"] as const) {
    const old = fineNowNs() - HOUR_NS;
    const fake = new FakeFile(fakeState("version one, whole\n", old));
    const { w, seen, stop } = watch(fake);
    try {
      await publishedAtLeast(w, seen, 1);
      const t0 = performance.now();
      // The state the truncate starts from: the published one, or a new one the settle read first.
      const from = seenFirst === "published" ? fake.state! : fakeState("version two, half-way\n", fineNowNs());
      let done: bigint | null = null;
      fake.before = () => {
        const t = performance.now() - t0;
        if (t < 15 && seenFirst !== "published") fake.state = from;
        else if (t < 250) fake.state = { ...from, bytes: new Uint8Array(0) }; // size set, times not yet
        else fake.state = fakeState("version three, whole\n", done ??= fineNowNs());
      };
      await w.check();
      await publishedAtLeast(w, seen, 2, 3_000);
      assertEquals(seen, ["version one, whole\n", "version three, whole\n"], `the truncate's middle (${seenFirst})`);
    } finally {
      stop();
    }
  }
});

Deno.test("FileWatcher shows a shrink that kept the times of a state it read once it stays UNSETTLED_MAX_MS", async () => {
  // A kernel whose ctimes repeat within one clock tick (before Linux 6.13's
  // fine-grained ones) can finish a truncate under the times a stat just
  // saw: such a state is not held back for ever.
  const t = fineNowNs() - HOUR_NS;
  const fake = new FakeFile(fakeState("before the truncate\n", t));
  const { w, seen, stop } = watch(fake, 50);
  try {
    await publishedAtLeast(w, seen, 1);
    fake.state = { ...fake.state!, bytes: enc.encode("after\n") };
    const t0 = performance.now();
    await publishedAtLeast(w, seen, 2, UNSETTLED_MAX_MS + 2_000);
    const took = performance.now() - t0;
    assertEquals(seen, ["before the truncate\n", "after\n"]);
    assert(took >= UNSETTLED_MAX_MS - 50, `shown after ${took.toFixed(0)} ms`);
  } finally {
    stop();
  }
});

Deno.test("FileWatcher re-reads a version read within its ctime's tick: a same-size rewrite under the same mtime is not lost (Deno's whole-second ctimes)", async () => {
  // The torture test under the syncing hog (issue 23), Deno: a same-tick
  // writer puts the mtime back to a tick taken before its rewrites; it
  // stalled for over 100 ms between two of them, so the server read the first
  // rewrite when its mtime was no longer racy and published it, then the
  // second landed with the same size, mtime and (whole-second) ctime. No stat
  // could tell, and the last version never came. A version read before its
  // ctime's tick ended must be read again, by content, on the next check.
  while (Date.now() % 1000 > 300) await sleep(10); // room left in this second
  const second = BigInt(Math.floor(Date.now() / 1000)) * 1_000_000_000n;
  const tick = second - 500_000_000n; // the writer's tick, long past the mtime's racy window
  const at = (text: string) => ({ bytes: enc.encode(text), mtimeNs: tick, ctimeNs: second, ino: 7n });
  const fake = new FakeFile(at("rewrite one\n"));
  const { w, seen, stop } = watch(fake);
  try {
    await publishedAtLeast(w, seen, 1);
    fake.state = at("rewrite two\n"); // the same size, mtime and ctime second
    await w.check();
    assertEquals(seen, ["rewrite one\n", "rewrite two\n"], "the second rewrite was lost");
  } finally {
    stop();
  }
});
