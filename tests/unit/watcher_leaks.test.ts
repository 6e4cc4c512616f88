/**
 * The watcher gives back everything it holds when its last subscriber leaves:
 * the directory watch (a resource on Deno), the poll interval, the debounce
 * timer and any settle re-read in flight.
 *
 * Deno's test sanitizers are left ON here (sanitizeOps, sanitizeResources,
 * the defaults): a test fails if it ends with a timer pending, an async op in
 * flight or a resource open. Run with `deno test --trace-leaks` to see where a
 * leak was created. Each test waits for in-flight work to drain on its own,
 * then checks that nothing runs any more: a test that needed a fixed sleep to
 * pass the sanitizer would hide a timer that re-arms itself.
 * @module
 */
import { assertEquals } from "../helpers/assert.ts";
import { EVENT_DEBOUNCE_MS } from "../../src/schedule.ts";
import { SETTLE_MS, SETTLE_TRIES } from "../../src/settle.ts";
import type { Snapshot } from "../../src/version.ts";
import { FileWatcher } from "../../src/watcher.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Longer than any check can still be running after the last subscriber left. */
const DRAIN_MS = EVENT_DEBOUNCE_MS + SETTLE_MS * (SETTLE_TRIES + 1) + 100;

async function tmp(content: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "fw-leaks-" });
  await Deno.writeTextFile(`${dir}/f.txt`, content);
  return `${dir}/f.txt`;
}

async function firstSnapshot(seen: Snapshot[]): Promise<void> {
  for (let i = 0; i < 200 && seen.length === 0; i++) await sleep(10);
  assertEquals(seen.length > 0, true, "the first snapshot arrived");
}

/** After in-flight work drains, the watcher must do nothing at all. */
async function assertIdle(w: FileWatcher, file: string): Promise<void> {
  await sleep(DRAIN_MS);
  const checks = w.stats.checks;
  // A change now would be noticed by a live poll timer or directory watch.
  await Deno.writeTextFile(file, `changed after the last subscriber left ${Date.now()}`);
  await sleep(Math.max(100, 5 * w.options.poll));
  assertEquals(w.stats.checks, checks, "no poll, event or debounce runs after the last subscriber left");
}

Deno.test("FileWatcher with events releases its directory watch and timers when the last subscriber leaves mid-burst", async () => {
  const f = await tmp("start");
  const w = new FileWatcher({ file: f, poll: 20, maxFileSize: 1024, events: true });
  // Every timer of the watcher (poll, debounce) ends in check(): count the
  // calls that start after the last subscriber left. A check already running
  // may finish (its settle re-read included), but none may start.
  let subscribed = false;
  let stray = 0;
  const check = w.check.bind(w);
  w.check = () => {
    if (!subscribed) stray++;
    return check();
  };
  // Leave at different points of a burst of writes: events on their way, the
  // debounce timer armed, a settle re-read waiting.
  for (const delay of [0, 1, 2, 3, 4, 6]) {
    const seen: Snapshot[] = [];
    await Deno.writeTextFile(f, `start ${delay}`); // so the first check publishes
    subscribed = true;
    const stop = w.subscribe((s) => seen.push(s));
    await firstSnapshot(seen);
    assertEquals(w.mode, "events");
    for (let i = 0; i < 3; i++) {
      await Deno.writeTextFile(f, `burst ${delay}.${i}`);
      await sleep(1);
    }
    await sleep(delay);
    stop();
    subscribed = false;
    assertEquals(w.mode, "idle");
    await sleep(DRAIN_MS);
  }
  assertEquals(stray, 0, "checks started by a timer after the last subscriber left");
  await assertIdle(w, f);
});

Deno.test("FileWatcher ignores file events that arrive after its last subscriber left", async () => {
  // Deno's node:fs watch delivers an event that was queued when close() ran;
  // leaving right after a write makes that happen in about a third of rounds.
  const f = await tmp("late");
  const w = new FileWatcher({ file: f, poll: 50, maxFileSize: 1024, events: true });
  let subscribed = false;
  let stray = 0;
  const check = w.check.bind(w);
  w.check = () => {
    if (!subscribed) stray++;
    return check();
  };
  for (let i = 0; i < 40; i++) {
    subscribed = true;
    const stop = w.subscribe(() => {});
    await sleep(SETTLE_MS + 10);
    await Deno.writeTextFile(f, `late ${i}`);
    for (let k = 0; k < i % 4; k++) await Promise.resolve();
    stop();
    subscribed = false;
    await sleep(EVENT_DEBOUNCE_MS + 25);
  }
  assertEquals(stray, 0, "checks started by events that arrived after the last subscriber left");
  await assertIdle(w, f);
});

Deno.test("FileWatcher releases everything when the last of several subscribers leaves, and only then", async () => {
  const f = await tmp("shared");
  const w = new FileWatcher({ file: f, poll: 20, maxFileSize: 1024, events: true });
  const a: Snapshot[] = [];
  const stopA = w.subscribe((s) => a.push(s));
  const stopB = w.subscribe(() => {});
  await firstSnapshot(a);
  stopB();
  assertEquals(w.mode, "events", "one subscriber left: still watching");
  await Deno.writeTextFile(f, "shared, changed");
  for (let i = 0; i < 100 && a.length < 2; i++) await sleep(10);
  assertEquals(a.length, 2, "the remaining subscriber still gets changes");
  stopA();
  stopA(); // unsubscribing twice is harmless
  assertEquals(w.mode, "idle");
  await assertIdle(w, f);
});

Deno.test("FileWatcher.close() with subscribers releases everything, and subscribing after it starts nothing", async () => {
  const f = await tmp("closing");
  const w = new FileWatcher({ file: f, poll: 20, maxFileSize: 1024, events: true });
  const seen: Snapshot[] = [];
  w.subscribe((s) => seen.push(s));
  await firstSnapshot(seen);
  await Deno.writeTextFile(f, "closing, changed");
  w.close();
  w.close(); // safe twice
  const stop = w.subscribe(() => {});
  try {
    await assertIdle(w, f);
  } finally {
    stop();
  }
});

Deno.test("FileWatcher whose directory watch cannot start (missing directory) polls, then releases its timer", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fw-leaks-" });
  const f = `${dir}/not-yet/f.txt`;
  const warnings: string[] = [];
  const w = new FileWatcher({ file: f, poll: 20, maxFileSize: 1024, events: true, onWarning: (m) => warnings.push(m) });
  const seen: Snapshot[] = [];
  const stop = w.subscribe((s) => seen.push(s));
  await firstSnapshot(seen);
  assertEquals(w.mode, "polling");
  assertEquals(warnings.length, 1, `one warning: ${warnings.join(" | ")}`);
  assertEquals(seen[0]!.ok, false);
  // Polling alone still finds the file once it exists.
  await Deno.mkdir(`${dir}/not-yet`);
  await Deno.writeTextFile(f, "here now");
  for (let i = 0; i < 100 && seen.length < 2; i++) await sleep(10);
  assertEquals(seen[1]?.ok && seen[1].text, "here now");
  stop();
  assertEquals(w.mode, "idle");
  await assertIdle(w, f);
});

Deno.test("FileWatcher subscribed and left 50 times, events on, holds nothing afterwards", async () => {
  const f = await tmp("cycles");
  const w = new FileWatcher({ file: f, poll: 10, maxFileSize: 1024, events: true });
  for (let i = 0; i < 50; i++) {
    const stop = w.subscribe(() => {});
    assertEquals(w.mode, "events");
    if (i % 5 === 0) await Deno.writeTextFile(f, `cycle ${i}`);
    await sleep(i % 3); // leave at different points: before, during and after the first check
    stop();
  }
  assertEquals(w.mode, "idle");
  await assertIdle(w, f);
});
