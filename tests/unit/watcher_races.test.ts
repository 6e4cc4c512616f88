/**
 * Faults the e2e torture test (tests/e2e/torture.test.ts) found in the
 * watcher, each reproduced here on its own.
 * @module
 */
import { assert, assertEquals, assertNotEquals } from "../helpers/assert.ts";
import { SETTLE_MS, UNSETTLED_MAX_MS } from "../../src/settle.ts";
import type { Snapshot } from "../../src/version.ts";
import { ERROR_SETTLE_MS, FileWatcher } from "../../src/watcher.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function tmp(content: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "fw-races-" });
  await Deno.writeTextFile(`${dir}/f.txt`, content);
  return `${dir}/f.txt`;
}

// "Does not publish a file emptied under its old times" (ext4's truncate, size before times) is in
// watcher_witness.test.ts: a fake file system plays the writer there, so the test no longer depends on a
// real write landing within SETTLE_MS of the check, which a busy machine did not always manage.

Deno.test("FileWatcher never hands out one resume token for two contents (three versions under one mtime)", async () => {
  // Three writes within one mtime tick (a coarse clock, or an mtime set back)
  // used to get T, T+1 and T again: a client resuming with T would skip the third.
  const f = await tmp("x");
  const tick = new Date(Date.now() - 60_000);
  const w = new FileWatcher({ file: f, poll: 1_000_000, maxFileSize: 1024, events: false });
  const versions: Snapshot[] = [];
  for (const text of ["x-one", "x-two!", "x-three"]) {
    await Deno.writeTextFile(f, text);
    await Deno.utime(f, tick, tick);
    await w.check();
    const s = w.snapshot!;
    assert(s.ok);
    assertEquals(s.text, text);
    versions.push(s);
  }
  const tokens = versions.map((s) => s.lastMod);
  assertEquals(new Set(tokens).size, 3, `tokens ${tokens.join(", ")}`);
  assertEquals(w.lineage.isCurrent(tokens[0]!), false, "a client holding the first token must get the third version");

  // The same across an error: deleted, then recreated under the same mtime.
  await Deno.remove(f);
  await w.check();
  assertEquals(w.snapshot!.ok, false);
  await Deno.writeTextFile(f, "x-four!!");
  await Deno.utime(f, tick, tick);
  await w.check();
  const back = w.snapshot!;
  assert(back.ok && back.text === "x-four!!");
  for (const t of tokens) assertNotEquals(back.lastMod, t);
  w.close();
});

/**
 * Rewrites the file every ~3 ms for `ms`, checking it all the while (as a
 * stream of events would); returns every state's longest possible lifetime
 * and what the watcher published meanwhile.
 */
async function busyWriter(ms: number, poll = 1_000_000) {
  const f = await tmp("steady start\n");
  const w = new FileWatcher({ file: f, poll, maxFileSize: 4096, events: false });
  const published: string[] = [];
  const stop = w.subscribe((s) => s.ok && published.push(s.text ?? ""));
  for (let i = 0; i < 100 && published.length < 1; i++) await sleep(10);
  // text → [start of the write that made it, end of the write that replaced it]
  const life = new Map<string, [number, number]>();
  let busy = true;
  const writer = (async () => {
    let prev = "";
    for (let k = 0; busy; k++) {
      const text = `busy ${k}\n`;
      const start = performance.now();
      Deno.writeTextFileSync(f, text);
      const end = performance.now();
      if (prev) life.get(prev)![1] = end;
      life.set(text, [start, Infinity]);
      prev = text;
      await sleep(3);
    }
  })();
  const until = Date.now() + ms;
  while (Date.now() < until) await w.check();
  busy = false;
  await writer;
  const during = published.length;
  await Deno.writeTextFile(f, "steady end\n");
  await w.check();
  stop();
  return {
    published,
    during,
    longest: (text: string) => (life.get(text)?.[1] ?? Infinity) - (life.get(text)?.[0] ?? 0),
  };
}

Deno.test("FileWatcher publishes only what two reads SETTLE_MS apart agree on while the file keeps changing", async () => {
  // Each state lasts ~3 ms, so every settle round ends without agreement. The
  // newest read used to be published as it was: whatever state the writer was in.
  const { published, longest } = await busyWriter(UNSETTLED_MAX_MS / 3);
  assertEquals(published[0], "steady start\n");
  assertEquals(published.at(-1), "steady end\n");
  const brief = published.slice(1, -1).filter((t) => longest(t) < SETTLE_MS - 1);
  assertEquals(brief, [], "published states that stayed less than the settle window");
});

Deno.test("FileWatcher still shows a file that never holds still, once it has changed for UNSETTLED_MAX_MS", async () => {
  const { published, during } = await busyWriter(UNSETTLED_MAX_MS + 500);
  assert(during >= 2, `only ${during - 1} updates in ${UNSETTLED_MAX_MS + 500} ms of constant change`);
  assertEquals(published.at(-1), "steady end\n");
});

Deno.test("FileWatcher shows a file that never holds still at least once per poll period when that is shorter", async () => {
  const poll = 200;
  const { published, during } = await busyWriter(1_200, poll);
  // Each update waits out one poll period of failed settle rounds (5 × SETTLE_MS each): about one per 250 ms.
  assert(during - 1 >= 3, `only ${during - 1} updates in 1.2 s of constant change at --poll ${poll}ms`);
  assertEquals(published.at(-1), "steady end\n");
});

Deno.test("FileWatcher does not flash an error while a file is rotated (rename, then create)", async () => {
  const f = await tmp("before rotation\n");
  const w = new FileWatcher({ file: f, poll: 1_000_000, maxFileSize: 4096, events: false });
  const seen: Snapshot[] = [];
  const stop = w.subscribe((s) => seen.push(s));
  try {
    await w.check();
    await Deno.rename(f, f + ".1");
    const checked = w.check(); // sees no file
    await sleep(ERROR_SETTLE_MS / 5);
    await Deno.writeTextFile(f, "after rotation\n");
    await checked;
    assertEquals(seen.map((s) => s.ok ? s.text : `error: ${s.error}`), ["before rotation\n", "after rotation\n"]);
    // A file that stays gone is still reported, once.
    await Deno.remove(f);
    await w.check();
    assertEquals(seen.at(-1)!.ok, false);
  } finally {
    stop();
  }
});
