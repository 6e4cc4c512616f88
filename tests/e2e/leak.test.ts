/**
 * Leak check: 10 cycles of connecting 1,000 clients and disconnecting them
 * against a real server on each runtime, once with close handshakes and once
 * by dropping TCP (as phones and crashed tabs do), each on a fresh server.
 * After every cycle the server's open sockets must come back to where they
 * were, and the RSS after the last cycles must be within 5 % of the RSS after
 * the first ones.
 *
 * RSS of a garbage-collected runtime is a saw (Bun swings ~25 % between
 * collections) and V8 lets its heap grow lazily towards its default limit
 * (Deno: +90 MiB over 20,000 connections that leave nothing behind). Left
 * alone, RSS would measure GC policy, not leaks. So the servers here run
 * with eager collection where the runtime allows it (GC_ENV: Deno's old
 * space capped at 24 MiB, where a leak of the core's objects ends in an
 * out-of-memory crash instead of a slow rise, and its young generation
 * held at its smallest size), WARMUP cycles run
 * first, uncounted, and growth compares the lowest RSS of the last 3
 * measured cycles with the lowest of the first 3: a leak raises the floor,
 * garbage does not. Bun's RSS still climbs ~1 MiB per 1,000 connections
 * between its full collections and then drops back (a saw of 12-15 cycles
 * here), so when the floor is over the bound after the last cycle, up to
 * EXTRA more cycles run until RSS comes back within it: garbage comes back,
 * a leak does not.
 *
 * One runtime finding is an explicit expectation (RSS_GROWTH below): Deno
 * 2.9's server WebSocket keeps heap for every connection that had a message
 * listener and ended without a close handshake (reproduced without filewatch
 * or Hono: Deno.upgradeWebSocket + `onmessage` + clients that drop TCP runs
 * out of a 32 MiB heap; with close handshakes, or without a message
 * listener, it does not). filewatch needs the listener (read limit), so on
 * Deno abrupt disconnects cost a bounded amount each; see RELIABILITY.md.
 *
 * Measured through /proc (fd table and VmRSS), which works whatever the
 * server exposes; /metrics' client gauge is checked too when present.
 * Set FILEWATCH_REPORT_DIR to write the figures as JSON.
 * @module
 */
import assert from "node:assert/strict";
import { type RuntimeName, RUNTIMES, type Server, startServer, tempFile } from "../helpers/harness.ts";
import { httpGet, OP, procStats, RawWs } from "../helpers/rawws.ts";

const CYCLES = Number(Deno.env.get("FILEWATCH_LEAK_CYCLES") ?? 10);
const WARMUP = 10;
/** Cycles at each end whose lowest RSS is compared. */
const WINDOW = 3;
/**
 * At most this many cycles more, waiting for a collection to bring RSS back:
 * two of Bun's saw periods (12-15 cycles here; 12 extra cycles once ended
 * before the drop on a fresh clone, +9.8 %). A passing run rarely needs any.
 */
const EXTRA = 30;
const CLIENTS = 1000;
/** Connections opened at once while filling a cycle. */
const BATCH = 100;
type Mode = "handshake" | "abrupt";
/**
 * Allowed RSS growth (floor of the last cycles over floor of the first, see
 * above). 5 % everywhere except the Deno leak above, measured at ~8-10 MiB
 * per 1,000 abrupt disconnects over a ~160 MiB floor; the bound (0.8) fails
 * if it gets worse and still passes once Deno fixes it.
 */
/**
 * Environment for the servers under test (see the module doc). Not for Deno
 * with abrupt disconnects: its known leak would end in the capped heap's
 * out-of-memory crash, and there the figure to watch is the growth itself.
 */
const GC_ENV: Record<Mode, Record<RuntimeName, Record<string, string>>> = {
  handshake: {
    // V8 also grows its young generation (semi-spaces 1 -> 16 MiB) as a
    // server allocates: RSS rises in ~12 MiB steps until it is fully grown,
    // while the heap left after each full collection stays where it was
    // (--trace-gc: 7.4-7.6 MB). With less garbage per connection (the
    // adapter on Deno.upgradeWebSocket) the last steps fell inside the
    // measured cycles: +22 % with a flat live heap. Held at 1 MiB, the
    // floor is flat from the first cycle and ~40 MiB lower, so a leak of a
    // given size shows as a larger share of it (DENO_V8_FLAGS is comma-separated).
    // The old space at 24 MiB (the live heap stays under 8 MB between cycles):
    // at 48 it kept taking ~0.2 MiB of RSS per cycle for 20 cycles before a
    // full collection (garbage, not a leak: it comes back), which once put a
    // fresh-clone run at +6.7 %; at 24 the floor is flat after the warm-up.
    deno: { DENO_V8_FLAGS: "--max-old-space-size=24,--min-semi-space-size=1,--max-semi-space-size=1" },
    // Bun's collector offers no such knob that changed the saw here
    // (BUN_GARBAGE_COLLECTOR_LEVEL, BUN_JSC_forceRAMSize tried; `bun --smol`
    // makes the saw larger, 57 -> 77 -> 61 MiB): EXTRA does.
    bun: {},
  },
  abrupt: { deno: {}, bun: {} },
};

const RSS_GROWTH: Record<Mode, Record<RuntimeName, number>> = {
  handshake: { deno: 0.05, bun: 0.05 },
  abrupt: { deno: 0.8, bun: 0.05 },
};
/** Every cycle must finish in this time (connect, content, disconnect, settle). */
const CYCLE_DEADLINE_MS = 20_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface CycleFigures {
  cycle: number;
  ms: number;
  upgraded: number;
  gotContent: number;
  /** Server sockets at the peak of the cycle and after it settled. */
  peakSockets: number;
  socketsAfter: number;
  rssMiB: number;
  clientsGauge: number | null;
}

async function clientsGauge(server: Server): Promise<number | null> {
  const r = await httpGet(server.port, "/metrics");
  const m = r && /^filewatch_clients (\d+)$/m.exec(r.body);
  return m ? Number(m[1]) : null;
}

async function cycle(server: Server, mode: Mode, n: number, baseSockets: number): Promise<CycleFigures> {
  const t0 = Date.now();
  const clients: RawWs[] = [];
  let gotContent = 0;
  try {
    for (let i = 0; i < CLIENTS && Date.now() - t0 < CYCLE_DEADLINE_MS; i += BATCH) {
      const batch = await Promise.all(Array.from({ length: Math.min(BATCH, CLIENTS - i) }, async () => {
        const c = await RawWs.connect("127.0.0.1", server.port);
        // Every client gets the file at once (no lastMod): wait for it, so
        // each connection really went through the hub.
        if (c.upgraded && (await c.nextOf([OP.TEXT], 5000))) gotContent++;
        return c;
      }));
      clients.push(...batch);
    }
    const upgraded = clients.filter((c) => c.upgraded).length;
    const peakSockets = procStats(server.pid).sockets;
    await Promise.all(clients.map(async (c) => {
      if (mode === "handshake") {
        c.sendClose(1000);
        await c.waitClose(3000);
      }
      c.destroy();
    }));
    let socketsAfter = procStats(server.pid).sockets;
    while (socketsAfter > baseSockets && Date.now() - t0 < CYCLE_DEADLINE_MS) {
      await sleep(50);
      socketsAfter = procStats(server.pid).sockets;
    }
    return {
      cycle: n,
      ms: Date.now() - t0,
      upgraded,
      gotContent,
      peakSockets,
      socketsAfter,
      rssMiB: Math.round(procStats(server.pid).rssKiB / 102.4) / 10,
      clientsGauge: await clientsGauge(server),
    };
  } finally {
    for (const c of clients) c.destroy();
  }
}

async function measure(runtime: RuntimeName, mode: Mode) {
  const file = await tempFile("leak check\n");
  const server = await startServer(runtime, {
    file,
    args: ["--max-clients-per-ip", "0", "--max-clients", String(CLIENTS * 2), "--quiet"],
    env: GC_ENV[mode][runtime],
  });
  try {
    // One client first, so lazily created parts (watcher, timers) exist.
    const warm = await RawWs.connect("127.0.0.1", server.port);
    await warm.nextOf([OP.TEXT], 3000);
    warm.destroy();
    await sleep(300);
    const before = procStats(server.pid);
    const warmup: CycleFigures[] = [];
    for (let n = 1; n <= WARMUP; n++) warmup.push(await cycle(server, mode, n - WARMUP, before.sockets));
    const cycles: CycleFigures[] = [];
    for (let n = 1; n <= CYCLES; n++) cycles.push(await cycle(server, mode, n, before.sockets));
    const floor = (cs: CycleFigures[]) => Math.min(...cs.map((c) => c.rssMiB));
    const first = floor(cycles.slice(0, WINDOW));
    let last = floor(cycles.slice(-WINDOW));
    const bound = RSS_GROWTH[mode][runtime];
    for (let n = CYCLES + 1; n <= CYCLES + EXTRA && (last - first) / first > bound; n++) {
      const c = await cycle(server, mode, n, before.sockets);
      cycles.push(c);
      last = c.rssMiB;
    }
    const figures = {
      runtime,
      mode,
      socketsBefore: before.sockets,
      fdsBefore: before.fds,
      rssBeforeMiB: Math.round(before.rssKiB / 102.4) / 10,
      rssWarmupMiB: warmup.map((c) => c.rssMiB),
      rssFirstFloorMiB: first,
      rssLastFloorMiB: last,
      rssGrowth: (last - first) / first,
      extraCycles: cycles.length - CYCLES,
      fdsAfter: procStats(server.pid).fds,
      cycles: [...warmup, ...cycles],
    };
    const dir = Deno.env.get("FILEWATCH_REPORT_DIR");
    if (dir) await Deno.writeTextFile(`${dir}/leak-${runtime}-${mode}.json`, JSON.stringify(figures, null, 1));
    return figures;
  } finally {
    await server.stop();
  }
}

for (const runtime of RUNTIMES) {
  for (const mode of ["handshake", "abrupt"] as const) {
    const bound = RSS_GROWTH[mode][runtime];
    Deno.test(`leak check on ${runtime}, ${mode} disconnects: ${CYCLES} cycles of ${CLIENTS} clients leave no sockets, RSS growth <= ${bound * 100} %`, async (t) => {
      const f = await measure(runtime, mode);
      console.log(
        `${runtime} ${mode}: RSS ${f.rssBeforeMiB} MiB before, floor ${f.rssFirstFloorMiB} in the first ` +
          `${WINDOW} cycles, ${f.rssLastFloorMiB} at the end (${(f.rssGrowth * 100).toFixed(1)} %, ` +
          `${f.extraCycles} extra cycles); ` +
          `cycle ms ${f.cycles.map((c) => c.ms).join(" ")}`,
      );
      for (const c of f.cycles) {
        await t.step(
          `${
            c.cycle > 0 ? "cycle" : "warm-up cycle"
          } ${c.cycle}: ${CLIENTS} upgraded and served, sockets back to ${f.socketsBefore}`,
          () => {
            assert.equal(c.upgraded, CLIENTS);
            assert.equal(c.gotContent, CLIENTS);
            assert.ok(c.peakSockets >= f.socketsBefore + CLIENTS, `peak ${c.peakSockets} sockets`);
            assert.ok(c.socketsAfter <= f.socketsBefore, `${c.socketsAfter} sockets after, ${f.socketsBefore} before`);
            if (c.clientsGauge !== null) assert.equal(c.clientsGauge, 0);
          },
        );
      }
      await t.step(`RSS floor of the last ${WINDOW} cycles within ${bound * 100} % of the first ${WINDOW}`, () => {
        assert.ok(f.rssGrowth <= bound, `grew ${(f.rssGrowth * 100).toFixed(1)} %`);
      });
    });
  }
}
