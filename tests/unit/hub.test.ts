import { assert, assertEquals } from "../helpers/assert.ts";
import { parseConfig } from "../../src/config.ts";
import { Hub, sweepInterval } from "../../src/hub.ts";
import { createLogger } from "../../src/log.ts";
import { type Snapshot, Version } from "../../src/version.ts";
import { FileWatcher } from "../../src/watcher.ts";
import { fakeRuntime } from "../helpers/fake_runtime.ts";

const quiet = createLogger("text", true, () => {});
const snap = (seq: number, text: string): Snapshot =>
  new Version({ seq, lastMod: seq.toString(16), kept: new TextEncoder().encode(text), lineage: 1000 + seq });

async function setup(args: string[] = [], caps = {}) {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/f`, "v1");
  const options = parseConfig([...args, `${dir}/f`], {});
  // The watcher serves the window (--tail), as main.ts makes it: plain clients get appends of windowed versions.
  const watcher = new FileWatcher({
    file: options.file,
    poll: 3_600_000,
    maxFileSize: 1024,
    events: false,
    tail: options.tail,
  });
  await watcher.current();
  const fake = fakeRuntime(caps);
  const hub = new Hub(options, watcher, fake.runtime, quiet);
  const open = (format: "plain" | "v1" = "plain", lastMod: string | null = null, ip = "1.1.1.1") => {
    assertEquals(hub.admit(ip), null);
    const events = hub.connect(format, ip, lastMod);
    const before = fake.conns.length;
    void fake.runtime.upgrade(null as never, format === "v1" ? "filewatch.v1" : null, events);
    return fake.conns[before]!;
  };
  const done = async () => {
    await hub.shutdown(10);
  };
  return { hub, watcher, fake, open, options, done };
}

Deno.test("sweepInterval() leaves the pong half the gap between ping and deadline, at most 1 s", () => {
  assertEquals(sweepInterval({ pongWait: 2_000, pingPeriod: 1_800, writeWait: 10_000 }), 100);
  assertEquals(sweepInterval({ pongWait: 60_000, pingPeriod: 54_000, writeWait: 10_000 }), 1_000);
  assertEquals(sweepInterval({ pongWait: 60_000, pingPeriod: 54_000, writeWait: 200 }), 50);
});

Deno.test("Hub sends the current version on open unless the client's lastMod is current", async () => {
  const { open, watcher, done } = await setup();
  const a = open();
  assertEquals(a.peer.sent, ["v1"]);
  const b = open("plain", watcher.snapshot!.lastMod);
  assertEquals(b.peer.sent, []);
  // A version this process does not hold is first checked against the file (the client may be ahead of
  // this process: another worker or replica saw a newer version), then answered.
  const c = open("v1", "1");
  await watcher.check();
  assertEquals(JSON.parse(c.peer.sent[0] as string).data, "v1");
  await done();
});

Deno.test("Hub.broadcast() skips a backed-up client, then gives it only the newest when it drains", async () => {
  const { hub, open, watcher, done } = await setup();
  const fast = open();
  const slow = open();
  slow.peer.stuck = true;
  slow.peer.buffered = 1;
  for (const v of ["v2", "v3"]) {
    await Deno.writeTextFile(hub.options.file, v);
    await watcher.check();
  }
  assertEquals(fast.peer.sent, ["v1", "v2", "v3"]);
  assertEquals(slow.peer.sent, ["v1"]);
  slow.peer.stuck = false;
  slow.peer.buffered = 0;
  slow.events.onDrain();
  assertEquals(slow.peer.sent, ["v1", "v3"], "the newest only, not the backlog");
  slow.events.onDrain();
  assertEquals(slow.peer.sent, ["v1", "v3"], "nothing twice");
  await done();
});

Deno.test("Hub catches a lagging client up soon after its backlog is written, with no drain event (Deno has none)", async () => {
  // The sweep runs every second here; the drain poll must not wait for it.
  const { hub, open, watcher, done } = await setup();
  const a = open();
  a.peer.buffered = 100; // the last frame is not written out yet
  await Deno.writeTextFile(hub.options.file, "v2");
  await watcher.check();
  assertEquals(a.peer.sent, ["v1"], "skipped while its last frame is in flight");
  const t0 = performance.now();
  a.peer.buffered = 0; // written out; no onDrain() call
  while (a.peer.sent.length < 2 && performance.now() - t0 < 2_000) await new Promise((r) => setTimeout(r, 2));
  const ms = performance.now() - t0;
  assertEquals(a.peer.sent, ["v1", "v2"]);
  assert(ms < 600, `caught up after ${ms.toFixed(0)} ms, not at the next sweep (1 s)`);
  // The poll stops once nobody lags: a later version goes out directly.
  await Deno.writeTextFile(hub.options.file, "v3");
  await watcher.check();
  assertEquals(a.peer.sent, ["v1", "v2", "v3"]);
  await done();
});

Deno.test("Hub.sweep() pings at pingPeriod and drops a silent client at pongWait", async () => {
  const { hub, open, options, done } = await setup(["--pong-wait", "1s"]);
  const c = open();
  const t0 = Date.now();
  hub.sweep(t0 + options.pingPeriod + 1);
  assertEquals(c.peer.pings, 1);
  hub.sweep(t0 + options.pongWait + 5);
  assertEquals([c.peer.closed, c.peer.terminated], [null, true]);
  assertEquals(hub.sessions.size, 0);
  assertEquals(hub.metrics.get("filewatch_closes_total", { reason: "pong_timeout" }), 1);
  await done();
});

Deno.test("Hub.sweep() keeps a client that answers pongs", async () => {
  const { hub, open, options, done } = await setup(["--pong-wait", "1s"]);
  const c = open();
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, 20));
  c.events.onPong();
  hub.sweep(t0 + options.pongWait + 5);
  assertEquals(c.peer.closed, null);
  await done();
});

Deno.test("Hub leaves pings to a runtime that pings itself", async () => {
  const { hub, open, options, done } = await setup(["--pong-wait", "1s"], { pingsItself: true });
  const c = open();
  hub.sweep(Date.now() + options.pongWait * 3);
  assertEquals([c.peer.pings, c.peer.closed], [0, null]);
  await done();
});

Deno.test("Hub drops a client stuck past writeWait, keeping its place until the runtime reports it gone", async () => {
  const { hub, open, options, done } = await setup(["--write-wait", "1s", "--max-clients-per-ip", "1"]);
  const c = open();
  c.peer.stuck = true;
  c.peer.buffered = 10;
  const t0 = Date.now();
  hub.broadcast(snap(2, "v2"));
  hub.sweep(t0 + 500);
  assertEquals(c.peer.closed, null);
  hub.sweep(t0 + options.writeWait + 1);
  assert(c.peer.terminated);
  assertEquals(hub.metrics.get("filewatch_closes_total", { reason: "slow_consumer" }), 1);
  assertEquals(hub.sessions.size, 0);
  assertEquals(hub.admit("1.1.1.1"), "ip_limit", "its place is held until the runtime reports it gone");
  c.events.onClose(1006, "");
  assertEquals(hub.admit("1.1.1.1"), null);
  assertEquals(hub.metrics.get("filewatch_closes_total", { reason: "slow_consumer" }), 1, "counted once");
  await done();
});

Deno.test("Hub: a message over the read limit closes with 1009; close is idempotent", async () => {
  const { hub, open, done } = await setup(["--read-limit", "10"]);
  const c = open();
  c.events.onMessage(10);
  assertEquals(c.peer.closed, null);
  c.events.onMessage(11);
  assertEquals(c.peer.closed, [1009, "message too big"]);
  c.events.onClose(1009, "");
  c.events.onClose(1005, "");
  assertEquals(hub.metrics.get("filewatch_closes_total", { reason: "read_limit" }), 1);
  assertEquals(hub.admit("1.1.1.1"), null, "the closed client's place was given back once");
  await done();
});

Deno.test("Hub.admit() enforces --max-clients and --max-clients-per-ip", async () => {
  const { hub, done } = await setup(["--max-clients", "3", "--max-clients-per-ip", "2"]);
  assertEquals([hub.admit("a"), hub.admit("a"), hub.admit("a")], [null, null, "ip_limit"]);
  assertEquals([hub.admit("b"), hub.admit("c")], [null, "limit"]);
  hub.release("a");
  assertEquals(hub.admit("c"), null);
  await done();
});

Deno.test("Hub with pub/sub publishes once per format and unsubscribes a lagging client", async () => {
  const { hub, open, fake, done } = await setup([], { pubsub: true });
  const a = open();
  const b = open("v1");
  const lag = open();
  assert(a.peer.topics.has("fw.plain") && b.peer.topics.has("fw.v1"));
  lag.peer.buffered = 5;
  hub.broadcast(snap(2, "v2"));
  assertEquals(fake.published.map(([t]) => t), ["fw.plain", "fw.v1"]);
  assertEquals(a.peer.sent, ["v1", "v2"]);
  assertEquals(lag.peer.sent, ["v1"]);
  assertEquals(lag.peer.topics.size, 0);
  assertEquals(hub.metrics.get("filewatch_messages_sent_total"), 3 + 2);
  await done();
});

Deno.test("Hub with pub/sub: a client ahead of this process waits for the check, then gets one append", async () => {
  // Another replica published "v1+more" first; this process still holds "v1".
  const { hub, watcher, fake, done } = await setup(["--max-clients-per-ip", "0"], { pubsub: true });
  void fake.runtime.upgrade(null as never, "filewatch.v1", hub.connect("v1", "1.1.1.1", null));
  const inTopic = fake.conns.at(-1)!;
  const ahead = new TextEncoder().encode("v1+more");
  // The token another process gave "v1+more" (the hash is what is checked; the mtime may differ).
  const copy = `${await Deno.makeTempDir()}/f`;
  await Deno.writeFile(copy, ahead);
  const other = new FileWatcher({ file: copy, poll: 3_600_000, maxFileSize: 1024, events: false });
  const token = (await other.current()).lastMod;
  other.close();
  await Deno.writeTextFile(hub.options.file, "v1+more+and more");
  const events = hub.connect("v1", "2.2.2.2", token, ahead.length);
  void fake.runtime.upgrade(null as never, "filewatch.v1", events);
  const late = fake.conns.at(-1)!;
  assertEquals(late.peer.sent, [], "nothing before the file was looked at: it holds more than this process");
  await watcher.check();
  const got = late.peer.sent.map((f) => JSON.parse(f as string));
  assertEquals(got.map((m) => [m.type, m.prev, m.offset, m.data]), [["append", token, 7, "+and more"]]);
  assertEquals(JSON.parse(inTopic.peer.sent.at(-1) as string).offset, 2, "the topic's frame follows v1");
  await done();
});

Deno.test("Hub.shutdown() sends 1001 to everyone and resolves once they closed", async () => {
  const { hub, open } = await setup();
  const conns = [open(), open(), open()];
  const p = hub.shutdown(1_000);
  for (const c of conns) {
    assertEquals(c.peer.closed, [1001, "server shutting down"]);
    c.events.onClose(1001, "");
  }
  assertEquals(await p, true);
  assertEquals(hub.admit("x"), "shutting_down");
  assertEquals(hub.metrics.get("filewatch_closes_total", { reason: "shutdown" }), 3);
});

Deno.test("Hub: an exception while handling one session closes it with 1011 and spares the others", async () => {
  const { hub, open, done } = await setup();
  const ok = open();
  const bad = open();
  (bad.peer as unknown as { bufferedAmount: () => number }).bufferedAmount = () => {
    throw new Error("boom");
  };
  bad.events.onDrain();
  assertEquals(bad.peer.closed, [1011, "internal error"]);
  assertEquals(ok.peer.closed, null);
  assertEquals(hub.metrics.get("filewatch_closes_total", { reason: "error" }), 1);
  await done();
});

Deno.test("Hub sends in batches of bytes where the runtime asks, and a newer version takes over the rest", async () => {
  // Plain frames of 2 bytes ("v2"): a batch of 4 bytes is two sends.
  const { hub, open, done } = await setup(["--max-clients-per-ip", "0"], { sendBatchBytes: 4 });
  const conns = Array.from({ length: 5 }, () => open());
  hub.broadcast(snap(2, "v2"));
  assertEquals(conns.map((c) => c.peer.sent.length), [2, 2, 1, 1, 1], "one batch at once, the rest later");
  hub.broadcast(snap(3, "v3"));
  // The first two (idle again) and the rest all get v3; the rest never get the stale v2. The batches
  // go out over a few macrotasks: wait for them to end (at most 2 s), not a fixed time that a busy machine overruns.
  for (let i = 0; i < 200 && conns.some((c) => c.peer.sent.at(-1) !== "v3"); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assertEquals(conns.map((c) => c.peer.sent), [
    ["v1", "v2", "v3"],
    ["v1", "v2", "v3"],
    ["v1", "v3"],
    ["v1", "v3"],
    ["v1", "v3"],
  ]);
  await done();
});

Deno.test("Hub sends small frames to every client in one turn when they fit in the batch's bytes", async () => {
  const { hub, open, done } = await setup(["--max-clients-per-ip", "0"], { sendBatchBytes: 10 });
  const conns = Array.from({ length: 5 }, () => open());
  hub.broadcast(snap(2, "v2"));
  // 5 × 2 bytes = 10: all of them before the broadcast returns (the next send would start a new batch).
  assertEquals(conns.map((c) => c.peer.sent.at(-1)), ["v2", "v2", "v2", "v2", "v2"]);
  await done();
});

/** Appends `text` to the hub's file and lets the watcher see it. */
async function grow(hub: Hub, watcher: FileWatcher, text: string) {
  await Deno.writeTextFile(hub.options.file, text, { append: true });
  await watcher.check();
}

Deno.test("Hub sends an append to filewatch.v1 clients holding the previous version, content to plain ones", async () => {
  const { hub, open, watcher, done } = await setup();
  const v1 = open("v1");
  const plain = open("plain");
  const first = JSON.parse(v1.peer.sent[0] as string);
  await grow(hub, watcher, "+a");
  const m = JSON.parse(v1.peer.sent[1] as string);
  assertEquals(
    [m.type, m.prev, m.offset, m.size, m.data],
    ["append", first.lastMod, 2, 4, "+a"],
  );
  assertEquals(plain.peer.sent, ["v1", "v1+a"], "gorilla's clients get the whole file");
  await done();
});

Deno.test("Hub gives a client that lagged behind several appends one append covering them", async () => {
  for (const caps of [{}, { pubsub: true }, { sendBatchBytes: 1 }]) {
    const { hub, open, watcher, done } = await setup([], caps);
    const fast = open("v1");
    const slow = open("v1");
    slow.peer.stuck = true;
    slow.peer.buffered = 1;
    for (const t of ["+a", "+b", "+c"]) await grow(hub, watcher, t);
    await new Promise((r) => setTimeout(r, 5)); // batched sends finish
    assertEquals(fast.peer.sent.length, 4, JSON.stringify(caps));
    slow.peer.stuck = false;
    slow.peer.buffered = 0;
    slow.events.onDrain();
    const held = JSON.parse(slow.peer.sent[0] as string);
    const m = JSON.parse(slow.peer.sent[1] as string);
    assertEquals([m.type, m.prev, m.offset, m.size, m.data], ["append", held.lastMod, 2, 8, "+a+b+c"]);
    assertEquals(slow.peer.sent.length, 2);
    await done();
  }
});

Deno.test("Hub resumes ?lastMod=&size= with one append, and nothing when current", async () => {
  const { hub, open, watcher, done } = await setup();
  const a = open("v1");
  const held = JSON.parse(a.peer.sent[0] as string);
  await grow(hub, watcher, "+more");
  const open2 = (lastMod: string, size: number | null) => {
    assertEquals(hub.admit("2.2.2.2"), null);
    const events = hub.connect("v1", "2.2.2.2", lastMod, size);
    const conn = { sent: [] as unknown[] };
    events.onOpen({
      send: (f) => conn.sent.push(JSON.parse(f as string)) > 0,
      bufferedAmount: () => 0,
      close() {},
      terminate() {},
      ping() {},
      subscribe() {},
      unsubscribe() {},
    });
    return conn.sent as Array<Record<string, unknown>>;
  };
  const resumed = open2(held.lastMod, 2);
  assertEquals(resumed.length, 1);
  assertEquals([resumed[0]!.type, resumed[0]!.offset, resumed[0]!.data], ["append", 2, "+more"]);
  assertEquals(open2(watcher.snapshot!.lastMod, 7), [], "current: nothing");
  const wrongSize = open2(held.lastMod, 3);
  assertEquals([wrongSize[0]!.type, wrongSize[0]!.data], ["content", "v1+more"], "a size that is not the version's");
  const noSize = open2(held.lastMod, null);
  assertEquals(noSize[0]!.type, "content", "without a size: content, as clients that know no appends expect");
  await done();
});

Deno.test("Hub in tail mode sends plain clients the window, then each append's bytes as one frame", async () => {
  const { hub, open, watcher, done } = await setup(["--tail", "1KiB"]);
  const plain = open("plain");
  await grow(hub, watcher, "\nline two\n");
  assertEquals(plain.peer.sent, ["v1", "\nline two\n"]);
  await done();
});

Deno.test("Hub closes only the session whose send throws (1011); the others get the version", async () => {
  for (const caps of [{}, { sendBatchBytes: 1 }]) {
    const { hub, open, watcher, done } = await setup([], caps);
    const good = open("plain");
    const bad = open("plain");
    bad.peer.send = () => {
      throw new RangeError("Invalid string length");
    };
    await Deno.writeTextFile(hub.options.file, "v2");
    await watcher.check();
    await new Promise((r) => setTimeout(r, 5));
    assertEquals(good.peer.sent, ["v1", "v2"], JSON.stringify(caps));
    assertEquals(bad.peer.closed?.[0], 1011);
    assertEquals(hub.metrics.get("filewatch_closes_total", { reason: "error" }), 1);
    await done();
  }
});

Deno.test("Hub.sweep() carries on past a session whose ping throws", async () => {
  const { hub, open, options, done } = await setup(["--pong-wait", "1s"]);
  const bad = open();
  const good = open();
  bad.peer.ping = () => {
    throw new Error("socket gone");
  };
  hub.sweep(Date.now() + options.pingPeriod + 1);
  assertEquals([bad.peer.closed?.[0], good.peer.pings], [1011, 1]);
  await done();
});

Deno.test("Hub's /metrics shows every known series at 0 before its first event, so rate() sees the first", async () => {
  const { hub, done } = await setup();
  const text = hub.metrics.render();
  for (
    const line of [
      "filewatch_upgrades_total 0",
      "filewatch_messages_sent_total 0",
      "filewatch_bytes_sent_total 0",
      'filewatch_upgrades_refused_total{reason="origin"} 0',
      'filewatch_upgrades_refused_total{reason="shutting_down"} 0',
      'filewatch_closes_total{reason="client"} 0',
      'filewatch_closes_total{reason="error"} 0',
    ]
  ) assert(text.split("\n").includes(line), `missing "${line}" in:\n${text}`);
  await done();
});
