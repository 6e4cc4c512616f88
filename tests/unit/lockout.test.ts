import { assert, assertEquals } from "../helpers/assert.ts";
import { AddressSlots, LOCKOUT, Lockout } from "../../src/lockout.ts";
import { HostState, LocalLimits, RemoteLimits } from "../../src/limits.ts";
import type { SupervisorLink, ToSupervisor, ToWorker } from "../../src/worker.ts";

const IP = "192.0.2.1";

Deno.test("Lockout: attempts in flight count, so 40 at once get 10 checks; the failures then lock the address", () => {
  let t = 1_000_000;
  const l = new Lockout(LOCKOUT, () => t);
  const verdicts = Array.from({ length: 40 }, () => l.begin(IP));
  assertEquals(verdicts.filter((v) => v.ok).length, LOCKOUT.limit);
  assertEquals(verdicts.at(-1), { ok: false, why: "busy", retryAfterS: 1 });
  for (let i = 0; i < LOCKOUT.limit - 1; i++) assertEquals(l.end(IP, "fail").lockedUntil, 0);
  assertEquals(l.end(IP, "fail").lockedUntil, t + LOCKOUT.lockout);
  t += 1_000;
  assertEquals(l.begin(IP), { ok: false, why: "locked", retryAfterS: 59 });
  t += LOCKOUT.lockout;
  assertEquals(l.begin(IP).ok, true, "free again after the lock-out");
});

Deno.test("Lockout: a success lifts no lock and erases no failure; a cancelled attempt leaves no trace", () => {
  const l = new Lockout(LOCKOUT, () => 0);
  for (let i = 0; i < LOCKOUT.limit - 1; i++) {
    assert(l.begin(IP).ok);
    l.end(IP, "fail");
  }
  assert(l.begin(IP).ok);
  l.end(IP, "ok");
  assert(l.begin(IP).ok, "the right password did not lock");
  assertEquals(l.end(IP, "fail").lockedUntil, LOCKOUT.lockout, "nine failures, a success, then one more failure lock");
  assert(l.lockedFor(IP) > 0);
  assertEquals(l.begin(IP).ok, false, "and the right password cannot lift it");
  const other = "192.0.2.2";
  assert(l.begin(other).ok);
  l.end(other, "cancel");
  for (let i = 0; i < LOCKOUT.limit; i++) assert(l.begin(other).ok, `cancelled attempts do not count (${i})`);
});

Deno.test("Lockout: a busy address's Retry-After is when its oldest failure leaves the window", () => {
  let t = 0;
  const l = new Lockout({ ...LOCKOUT, limit: 3 }, () => t);
  l.begin(IP), l.end(IP, "fail");
  t = 10_000;
  l.begin(IP), l.end(IP, "fail");
  l.begin(IP);
  assertEquals(l.begin(IP), { ok: false, why: "busy", retryAfterS: 50 });
});

Deno.test("Lockout: remembers at most maxTracked addresses, never forgetting one with an attempt in flight", () => {
  const l = new Lockout(LOCKOUT, () => 0, 3);
  assert(l.begin("a").ok);
  for (const ip of ["b", "c", "d", "e"]) {
    l.begin(ip);
    l.end(ip, "fail");
  }
  assertEquals(l.size, 3);
  assertEquals(l.end("a", "fail").delayMs, 0, "a's attempt was still known when it ended");
});

Deno.test("AddressSlots caps what one address holds; 0 = no cap", () => {
  const s = new AddressSlots(2);
  assertEquals([s.reserve(IP), s.reserve(IP), s.reserve(IP), s.reserve("other")], [true, true, false, true]);
  s.release(IP);
  assertEquals([s.held(IP), s.reserve(IP)], [1, true]);
  const none = new AddressSlots(0);
  for (let i = 0; i < 100; i++) assert(none.reserve(IP));
});

Deno.test("HostState answers workers, announces a lock-out to all, and gives back what an exited worker held", () => {
  const h = new HostState({ ...LOCKOUT, limit: 2 }, { ws: 1, http: 1 });
  const ask = (w: number, m: ToSupervisor) => h.handle(w, m);
  assertEquals(ask(1, { op: "reserve", id: 1, kind: "ws", ip: IP }).answer, { id: 1, ok: true });
  assertEquals(ask(2, { op: "reserve", id: 1, kind: "ws", ip: IP }).answer, {
    id: 1,
    ok: false,
    why: "limit",
    retryAfterS: 5,
  });
  h.dropWorker(1);
  assertEquals(
    ask(2, { op: "reserve", id: 2, kind: "ws", ip: IP }).answer,
    { id: 2, ok: true },
    "worker 1's slot came back",
  );
  ask(2, { op: "release", id: 2 });
  ask(2, { op: "release", id: 2 });
  assertEquals(h.slots.ws.held(IP), 0, "a second release gives nothing back twice");

  assertEquals(ask(1, { op: "attempt", id: 5, ip: IP }).answer, { id: 5, ok: true });
  assertEquals(ask(2, { op: "attempt", id: 3, ip: IP }).answer, { id: 3, ok: true });
  assertEquals(ask(2, { op: "attempt", id: 4, ip: IP }).answer, { id: 4, ok: false, why: "busy", retryAfterS: 1 });
  const first = ask(2, { op: "settle", id: 3, outcome: "fail" });
  assertEquals([first.answer, first.notice], [{ id: 3, delayMs: 0 }, undefined]);
  // Worker 1 dies with its attempt in flight: that counts as a failure, the second, which locks.
  h.dropWorker(1);
  assert(h.lockout.lockedFor(IP) > 0);
});

Deno.test("RemoteLimits asks the supervisor, learns lock-outs from its notices, and fails closed when it does not answer", async () => {
  const h = new HostState({ ...LOCKOUT, limit: 1 }, { ws: 0, http: 1 });
  let deaf = false;
  const listeners: Array<(m: ToWorker) => void> = [];
  const sent: ToSupervisor[] = [];
  const channel: SupervisorLink = {
    send(m) {
      sent.push(m);
      if (deaf) return;
      const { answer, notice } = h.handle(7, m);
      queueMicrotask(() => {
        for (const x of [answer, notice]) if (x) { for (const l of listeners) l(x); }
      });
    },
    onMessage: (l) => void listeners.push(l),
  };
  const r = new RemoteLimits(channel, { ws: 0, http: 1 }, 50);
  const a = await r.attempt(IP);
  assert(a.ok);
  const settled = await r.settle(a.ticket, "fail");
  assert(settled.lockedUntil > Date.now(), "the failure locked");
  assert(r.lockedFor(IP) > 0, "known here without asking again");
  const slot = await r.reserve("http", IP);
  assert(slot);
  assertEquals(await r.reserve("http", IP), null, "the host's cap");
  r.release(slot);
  r.release(slot);
  assertEquals(h.slots.http.held(IP), 0);

  deaf = true;
  const t0 = Date.now();
  const b = await r.attempt("198.51.100.1");
  assertEquals(b, { ok: false, status: 503, why: "unavailable", retryAfterS: 1 });
  assert(Date.now() - t0 < 1_000, "bounded by the timeout");
  assertEquals(sent.at(-1), { op: "settle", id: (sent.at(-2) as { id: number }).id, outcome: "cancel" });
  const local = await r.reserve("http", "198.51.100.1");
  assert(local?.local, "a slot counted by this worker alone");
  assertEquals(await r.reserve("http", "198.51.100.1"), null, "…against the same cap");
});

Deno.test("LocalLimits: a ticket is settled and released once", async () => {
  const l = new LocalLimits({ ...LOCKOUT, limit: 2 }, { ws: 1, http: 1 });
  const a = await l.attempt(IP);
  assert(a.ok);
  await l.settle(a.ticket, "fail");
  await l.settle(a.ticket, "fail");
  assertEquals(l.lockedFor(IP), 0, "one failure recorded, not the two a lock-out needs");
  const s = await l.reserve("ws", IP);
  assert(s);
  l.release(s);
  l.release(s);
  assertEquals(l.state.slots.ws.held(IP), 0);
});
