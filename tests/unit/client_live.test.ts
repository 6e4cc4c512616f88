/**
 * The page's connection state machine under fakes: sockets, timers, clock,
 * randomness and the network flag are the test's, so connecting, resuming,
 * backing off and applying what arrives are checked without a browser.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { CONNECT_TIMEOUT_MS, STABLE_AFTER_MS } from "../../src/client/backoff.ts";
import { Live, type LiveEnv, type LiveView, type SocketEvents } from "../../src/client/live.ts";
import { SUBPROTOCOLS } from "../../src/client/protocol.ts";
import { binAppend, binContent } from "../../src/messages.ts";
import { Version } from "../../src/version.ts";
import { type Change, type FileText, NOTHING } from "../../src/client/text.ts";

interface FakeSocket {
  url: string;
  protocols: readonly string[];
  on: SocketEvents;
  closed: boolean;
}

/** A browser in a box: the test moves the clock and plays the sockets' events. */
class FakeBrowser implements LiveEnv {
  location = { protocol: "http:", host: "127.0.0.1:8080" };
  sockets: FakeSocket[] = [];
  clock = 1_000_000;
  online = true;
  random = () => 0;
  #timers = new Map<number, { at: number; fn: () => void }>();
  #next = 1;

  open(url: string, protocols: readonly string[], on: SocketEvents) {
    const s: FakeSocket = { url, protocols, on, closed: false };
    this.sockets.push(s);
    return { close: () => void (s.closed = true) };
  }
  setTimer(fn: () => void, ms: number): number {
    const id = this.#next++;
    this.#timers.set(id, { at: this.clock + ms, fn });
    return id;
  }
  clearTimer(id: number | undefined) {
    if (id !== undefined) this.#timers.delete(id);
  }
  now = () => this.clock;
  onLine = () => this.online;
  /** Moves the clock on by `ms`, firing the timers due, in order. */
  advance(ms: number) {
    const end = this.clock + ms;
    for (;;) {
      const due = [...this.#timers].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.#timers.delete(due[0]);
      this.clock = due[1].at;
      due[1].fn();
    }
    this.clock = end;
  }
  get last(): FakeSocket {
    return this.sockets.at(-1)!;
  }
}

/** Records what the page would show. */
class FakeView implements LiveView {
  changes: Exclude<Change, { kind: "stale" }>[] = [];
  errors: (string | null)[] = [];
  paints = 0;
  change(c: Exclude<Change, { kind: "stale" }>) {
    this.changes.push(c);
  }
  error(message: string | null) {
    this.errors.push(message);
  }
  status() {
    this.paints++;
  }
}

const enc = new TextEncoder();
const HELD: FileText = { ...NOTHING, lastMod: "a1", size: 8, text: "one\ntwo\n" };
const WS = "ws://127.0.0.1:8080/ws";

function setup(held: FileText = HELD, keepChars = 0, error: string | null = null) {
  const env = new FakeBrowser();
  const view = new FakeView();
  const live = new Live(env, view, held, keepChars, error);
  live.connect();
  return { env, view, live };
}

const frame = (o: Record<string, unknown>) => JSON.stringify(o);
const append = (prev: string, lastMod: string, offset: number, data: string) =>
  frame({ type: "append", lastMod, prev, offset, size: offset + enc.encode(data).length, data });

Deno.test("Live offers filewatch.bin.v1 then filewatch.v1, resuming from the lastMod and size it holds", () => {
  const { env, live } = setup();
  assertEquals(env.sockets.length, 1);
  assertEquals(env.last.url, `${WS}?lastMod=a1&size=8`);
  assertEquals(env.last.protocols, ["filewatch.bin.v1", "filewatch.v1"]);
  assertEquals(env.last.protocols, SUBPROTOCOLS);
  assertEquals(live.status, "connecting");
  env.last.on.open();
  assertEquals(live.status, "connected");
  assert(live.everConnected);
});

Deno.test("Live asks for everything when it holds nothing or shows an error", () => {
  assertEquals(setup(NOTHING).env.last.url, WS);
  assertEquals(setup(HELD, 0, "app.log: file not found").env.last.url, WS);
});

Deno.test("Live applies appends in order and resumes from the newest size", () => {
  const { env, view, live } = setup();
  env.last.on.open();
  env.last.on.message(append("a1", "b2", 8, "three\n"));
  env.last.on.message(append("b2", "c3", 14, "four\n"));
  assertEquals(view.changes.map((c) => c.kind === "extend" && c.added), ["three\n", "four\n"]);
  assertEquals(live.held.text, "one\ntwo\nthree\nfour\n");
  assertEquals(live.url(), `${WS}?lastMod=c3&size=19`);
});

/** filewatch.bin.v1 frames as the server encodes them, as the browser delivers them (ArrayBuffers). */
const bin = {
  content: (lastMod: string, text: string) =>
    binContent(new Version({ seq: 1, lastMod, kept: enc.encode(text) })).slice().buffer,
  append: (prev: string, lastMod: string, before: string, added: string) =>
    binAppend(new Version({ seq: 2, lastMod, kept: enc.encode(before + added) }), enc.encode(before).length, prev)!
      .slice().buffer,
};

Deno.test("Live applies filewatch.bin.v1 frames and resumes from the version they name", () => {
  const t1 = "187cc366ba2d4000fb393db3c97a1c82";
  const t2 = "187cc366c0232100e131eaa8d94697ae";
  const t3 = "187cc366c0232100e131eaa8d94697af";
  const { env, view, live } = setup(NOTHING);
  env.last.on.open();
  env.last.on.message(bin.content(t1, "one\n"));
  env.last.on.message(bin.append(t1, t2, "one\n", "two\n"));
  assertEquals(view.changes.map((c) => c.kind), ["replace", "extend"]);
  assertEquals([live.held.text, live.held.lastMod, live.held.size], ["one\ntwo\n", t2, 8]);
  assertEquals(live.url(), `${WS}?lastMod=${t2}&size=8`);
  // An append for another hash is not for what it holds: start over, asking for everything.
  env.last.on.message(bin.append(t3, "187cc366c0232100e131eaa8d94697b0", "one\ntwo\n", "x\n"));
  assertEquals(view.changes.length, 2, "not applied");
  assertEquals(env.sockets.length, 2);
  assertEquals(env.last.url, WS);
});

Deno.test("Live ignores an append to a version it does not hold and reconnects for the whole file", () => {
  const { env, view, live } = setup();
  env.last.on.open();
  const first = env.last;
  first.on.message(append("zz", "b2", 8, "three\n"));
  assertEquals(view.changes, [], "nothing applied");
  assertEquals(live.held, HELD);
  assert(first.closed, "the old socket is closed");
  assertEquals(env.sockets.length, 2, "a new one at once");
  assertEquals(env.last.url, WS, "asking for everything");
  // The old socket's close is not news: no retry scheduled on top.
  first.on.close(1006, "");
  assertEquals(live.retryAt, null);
  // Until a content arrives, a retry still asks for everything.
  env.last.on.close(1006, "");
  env.advance(60_000);
  assertEquals(env.last.url, WS);
  env.last.on.open();
  env.last.on.message(frame({ type: "content", lastMod: "d4", offset: 0, size: 4, data: "new\n" }));
  assertEquals(view.changes.at(-1)?.kind, "replace");
  assertEquals(live.url(), `${WS}?lastMod=d4&size=4`);
});

Deno.test("Live replaces on content and clears a shown error; an error makes it ask for everything", () => {
  const { env, view, live } = setup();
  env.last.on.open();
  env.last.on.message(frame({ type: "error", message: "app.log: permission denied" }));
  assertEquals(view.errors, ["app.log: permission denied"]);
  assertEquals(live.error, "app.log: permission denied");
  assertEquals(live.url(), WS);
  env.last.on.message(frame({ type: "content", lastMod: "b2", offset: 0, size: 5, data: "back\n" }));
  assertEquals(view.errors, ["app.log: permission denied", null]);
  assertEquals(view.changes.map((c) => c.kind), ["replace"]);
  assertEquals(live.held.text, "back\n");
  assertEquals(live.url(), `${WS}?lastMod=b2&size=5`);
});

Deno.test("Live keeps at most `keepChars` characters and still resumes from the end of the file", () => {
  const { env, view, live } = setup(HELD, 20);
  env.last.on.open();
  let lastMod = "a1";
  for (let i = 0; i < 10; i++) {
    env.last.on.message(append(lastMod, `v${i}`, live.held.size, `line ${i}\n`));
    lastMod = `v${i}`;
    assert(live.held.text.length <= 20);
  }
  assert(live.held.dropped);
  assert(view.changes.some((c) => c.kind === "extend" && c.dropped !== ""), "the screen was told what to drop");
  assertEquals(live.held.size, 8 + 70);
  assertEquals(live.held.offset, 78 - live.held.text.length);
  assertEquals(live.url(), `${WS}?lastMod=v9&size=78`);
});

Deno.test("Live ignores frames that are not messages and frames from a socket it left", () => {
  const { env, view, live } = setup();
  env.last.on.open();
  env.last.on.message("not json");
  env.last.on.message(new Uint8Array(3));
  const old = env.last;
  live.reconnectNow(true);
  old.on.message(append("a1", "b2", 8, "late\n"));
  assertEquals(view.changes, []);
  assertEquals(live.held, HELD);
});

Deno.test("Live backs off after failed attempts: 250, 500, 1000 ms … with no jitter", () => {
  const { env, live } = setup();
  const delays: number[] = [];
  for (let i = 0; i < 4; i++) {
    env.last.on.close(1006, "");
    assertEquals(live.status, "waiting");
    delays.push(live.retryAt! - env.clock);
    env.advance(live.retryAt! - env.clock - 1);
    assertEquals(env.sockets.length, i + 1, "not before its time");
    env.advance(1);
    assertEquals(env.sockets.length, i + 2, "then it retries");
  }
  assertEquals(delays, [250, 500, 1000, 2000]);
  assertEquals(env.last.url, `${WS}?lastMod=a1&size=8`, "a retry resumes too");
});

Deno.test("Live resets the backoff only after a connection that stayed up", () => {
  const { env, live } = setup();
  for (let i = 0; i < 3; i++) {
    env.last.on.close(1006, "");
    env.advance(live.retryAt! - env.clock);
  }
  // Opens and dies at once: the backoff goes on growing.
  env.last.on.open();
  env.advance(100);
  env.last.on.close(1011, "oops");
  assertEquals(live.retryAt! - env.clock, 2000, "the fourth retry");
  assertEquals(live.closed, "closed: 1011 oops");
  env.advance(2000);
  env.last.on.open();
  env.advance(STABLE_AFTER_MS + 1);
  env.last.on.close(1001, "");
  assertEquals(live.retryAt! - env.clock, 250, "stable: back to the start");
});

Deno.test("Live abandons a handshake that hangs", () => {
  const { env } = setup();
  env.advance(CONNECT_TIMEOUT_MS - 1);
  assert(!env.last.closed);
  env.advance(1);
  assert(env.last.closed, "closed by the watchdog");
});

Deno.test("Live says offline when the browser is, and reconnects at once when asked", () => {
  const { env, live } = setup();
  env.online = false;
  env.last.on.close(1006, "");
  assertEquals(live.status, "offline");
  for (let i = 0; i < 5; i++) {
    env.advance(live.retryAt! - env.clock);
    env.last.on.close(1006, "");
  }
  assert(live.retryAt! - env.clock > 4000, "a long wait by now");
  const before = env.sockets.length;
  env.online = true;
  live.reconnectNow(true);
  assertEquals(env.sockets.length, before + 1, "no waiting");
  assertEquals(live.retryAt, null);
  env.last.on.close(1006, "");
  assertEquals(live.retryAt! - env.clock, 250, "and the backoff starts over");
});

Deno.test("Live.reconnectNow(false) leaves an open socket alone; wentOffline() only matters without one", () => {
  const { env, live } = setup();
  env.last.on.open();
  live.reconnectNow(false);
  live.wentOffline();
  assertEquals(env.sockets.length, 1);
  assertEquals(live.status, "connected");
});

Deno.test("Live retries when the browser refuses to open a socket", () => {
  const env = new FakeBrowser();
  env.open = () => {
    throw new SyntaxError("bad URL");
  };
  const live = new Live(env, new FakeView(), HELD, 0, null);
  live.connect();
  assertEquals(live.status, "waiting");
  assertEquals(live.closed, "SyntaxError: bad URL");
  assertEquals(live.retryAt! - env.clock, 250);
});
