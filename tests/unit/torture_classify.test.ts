/**
 * The torture test's classifiers (tests/helpers/torture_classify.ts): which
 * half-written state a torn payload shows, and how long that state stayed.
 * @module
 */
import { assertEquals } from "../helpers/assert.ts";
import { type DiskState, lifeOf, midWriteOf, stateOf, twinned } from "../helpers/torture_classify.ts";

const SETTLE = 10;

function st(p: Partial<DiskState> & { callAt: number }): DiskState {
  return { op: 1, kind: "truncate-write", text: "", whole: false, doneAt: p.callAt + 0.1, minMs: 0, maxMs: 0, ...p };
}

Deno.test("lifeOf(): short below the settle window, stalled at or above it, unsure across it or unmatched", () => {
  assertEquals(lifeOf(st({ callAt: 0, minMs: 1, maxMs: 9.9 }), false, SETTLE), "short");
  assertEquals(lifeOf(st({ callAt: 0, minMs: 1, maxMs: 9.9 }), true, SETTLE), "twin");
  assertEquals(lifeOf(st({ callAt: 0, minMs: 10, maxMs: 12 }), false, SETTLE), "stalled");
  assertEquals(lifeOf(st({ callAt: 0, minMs: 10, maxMs: 12 }), true, SETTLE), "stalled", "a long state is no twin");
  assertEquals(lifeOf(st({ callAt: 0, minMs: 9.9, maxMs: 10 }), false, SETTLE), "unsure");
  assertEquals(lifeOf(undefined, false, SETTLE), "unsure");
});

Deno.test("stateOf(): the state whose own mtime it is, or the file inside the truncate after an mtime; else the nearest", () => {
  const a = st({ op: 1, callAt: 100, text: "" });
  const set = st({ op: 2, kind: "same-tick", callAt: 200, text: "x", whole: true, mtimeMs: 50 });
  const b = st({ op: 2, callAt: 210, doneAt: 213, text: "", maxMs: 5 });
  const c = st({ op: 3, callAt: 400, text: "" });
  const states = [a, set, b, c];
  // mtime 50 was set at index 1: the file emptied inside the truncate right after it (which lasted 3 ms at most).
  assertEquals(stateOf(states, [a, b, c], 50), { ...b, minMs: 0, maxMs: 3, midTruncate: true });
  // An mtime the kernel gave: the state whose call it falls in (or up to a clock tick before).
  assertEquals(stateOf(states, [a, b, c], 395), c);
  assertEquals(stateOf(states, [a, b, c], 101), a);
  assertEquals(stateOf(states, [a, b, c], 105), a, "no state's time: the nearest");
  assertEquals(stateOf(states, [], 101), undefined);
});

Deno.test("stateOf(): a truncate the writer was descheduled in is charged with the call's length, not a short namesake's", () => {
  // Seen under a busy machine (issue 23): a same-tick rewrite's utime left
  // mtime T; the next rewrite's open(O_TRUNC) took 44 ms, and a stat inside
  // it saw the file emptied under T. A later operation's emptied file (short)
  // came after the last step that set T, but by then a rename had put another
  // mtime on the file: it could not show T.
  const T = 1_000;
  const states: DiskState[] = [
    st({ op: 7, kind: "same-tick", callAt: 1001, text: "v1", whole: true, mtimeMs: T, minMs: 3, maxMs: 47 }),
    st({ op: 7, kind: "same-tick", callAt: 1005, doneAt: 1049, text: "", maxMs: 44 }),
    st({ op: 7, kind: "same-tick", callAt: 1049.1, text: "v2 partly", whole: false }),
    st({ op: 7, kind: "same-tick", callAt: 1049.3, text: "v2", whole: true, mtimeMs: T }),
    st({ op: 8, kind: "rename", callAt: 1085, text: "r", whole: true, mtimeMs: 1081 }),
    st({ op: 9, kind: "same-tick", callAt: 1100, doneAt: 1101, text: "", maxMs: 1.1 }),
  ];
  const empty = states.filter((x) => x.text === "");
  const got = stateOf(states, empty, T)!;
  assertEquals([got.op, got.maxMs], [7, 44]);
  assertEquals(lifeOf(got, false, SETTLE), "unsure", "a 44 ms call may have held it past the settle window");

  // A recreate's new empty file, then a truncate-write descheduled in its
  // open: the emptied file under the recreate's mtime is the truncate's
  // middle (30 ms), though the recreate's own empty file (0.2 ms) is nearer in time.
  const r: DiskState[] = [
    st({ op: 3, kind: "recreate", callAt: 95, text: null }),
    st({ op: 3, kind: "recreate", callAt: 100, doneAt: 100.1, text: "", maxMs: 0.2 }),
    st({ op: 3, kind: "recreate", callAt: 100.15, doneAt: 100.2, text: "whole", whole: true }),
    st({ op: 4, kind: "truncate-write", callAt: 130, doneAt: 160, text: "", maxMs: 30.1 }),
  ];
  const g = stateOf(r, r.filter((x) => x.text === ""), 100)!;
  assertEquals([g.op, g.midTruncate, lifeOf(g, false, SETTLE)], [4, true, "unsure"]);
  // The same with a quick truncate stays short: the test still fails on it.
  r[3] = st({ op: 4, kind: "truncate-write", callAt: 130, doneAt: 131, text: "", maxMs: 1.1 });
  const q = stateOf(r, r.filter((x) => x.text === ""), 100)!;
  assertEquals(lifeOf(q, false, SETTLE), "short");
});

Deno.test("midWriteOf(): the file inside a write, new bytes up to a page and the old after, lasted at most the call", () => {
  // Seen under the syncing hog (issue 23): an 8 KiB payload, the first two
  // pages of a 16 KiB chunk written to an emptied file, which no state between
  // two calls had held.
  const chunk = "n".repeat(16_384);
  const states: DiskState[] = [
    st({ op: 5, kind: "truncate-write", callAt: 100, doneAt: 100.2, text: "", maxMs: 1 }),
    st({ op: 5, kind: "truncate-write", callAt: 101, doneAt: 131, text: chunk, whole: false }),
  ];
  const got = midWriteOf(states, chunk.slice(0, 8192), 101)!;
  assertEquals([got.op, got.midWrite, got.maxMs, lifeOf(got, false, SETTLE)], [5, true, 30, "unsure"]);
  // A quick write: still "short", so the test fails on it.
  states[1] = st({ op: 5, kind: "truncate-write", callAt: 101, doneAt: 102, text: chunk, whole: false });
  assertEquals(lifeOf(midWriteOf(states, chunk.slice(0, 8192), 101), false, SETTLE), "short");
  // In place over longer old bytes: new bytes up to the page, the old ones after.
  const old = "o".repeat(20_000);
  const over: DiskState[] = [
    st({ op: 6, kind: "overwrite", callAt: 200, text: old, whole: true }),
    st({ op: 6, kind: "overwrite", callAt: 201, doneAt: 240, text: chunk + old.slice(16_384) }),
  ];
  assertEquals(midWriteOf(over, chunk.slice(0, 4096) + old.slice(4096), 205)?.op, 6);
  // Not the bytes of any write's middle, or another mtime: nothing.
  assertEquals(midWriteOf(over, "x" + old.slice(1), 205), undefined);
  assertEquals(midWriteOf(states, chunk.slice(0, 8192), 500), undefined);
});

Deno.test("twinned(): the same bytes after the same set mtime, twice in one operation, SETTLE apart", () => {
  const tick = 1_000;
  const mk = (callAt: number, op = 5): DiskState[] => [
    st({ op, kind: "same-tick", callAt: callAt - 1, text: "v", whole: true, mtimeMs: tick }),
    st({ op, kind: "same-tick", callAt, text: "", maxMs: 1 }),
  ];
  assertEquals(twinned([...mk(0), ...mk(20)], "", tick, SETTLE), true);
  assertEquals(twinned([...mk(0), ...mk(5)], "", tick, SETTLE), false, "closer than the settle window");
  assertEquals(twinned([...mk(0), ...mk(20, 6)], "", tick, SETTLE), false, "two operations");
  assertEquals(twinned([...mk(0), ...mk(20)], "", tick + 1, SETTLE), false, "another mtime");
  assertEquals(twinned([...mk(0), ...mk(20)], "other", tick, SETTLE), false, "other bytes");
});
