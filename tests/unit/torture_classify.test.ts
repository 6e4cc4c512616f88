/**
 * The torture test's classifiers (tests/helpers/torture_classify.ts): which
 * half-written state a torn payload shows, and how long that state stayed.
 * @module
 */
import { assertEquals } from "../helpers/assert.ts";
import { type DiskState, lifeOf, stateOf, twinned } from "../helpers/torture_classify.ts";

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

Deno.test("stateOf(): after an mtime the writer set, the first matching state; else the one nearest the mtime", () => {
  const a = st({ op: 1, callAt: 100, text: "" });
  const set = st({ op: 2, kind: "same-tick", callAt: 200, text: "x", whole: true, mtimeMs: 50 });
  const b = st({ op: 2, callAt: 210, text: "" });
  const c = st({ op: 3, callAt: 400, text: "" });
  const states = [a, set, b, c];
  // mtime 50 was set at index 1: the emptied state right after it, though 50 is nearest to a's time.
  assertEquals(stateOf(states, [a, b, c], 50), b);
  // An mtime nobody set: by distance to the state's lifetime.
  assertEquals(stateOf(states, [a, b, c], 395), c);
  assertEquals(stateOf(states, [a, b, c], 101), a);
  assertEquals(stateOf(states, [], 101), undefined);
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
