import { assertEquals } from "../helpers/assert.ts";
import { EventEmitter } from "node:events";
import { handleSignals } from "../../src/main.ts";
import { createLogger } from "../../src/log.ts";
import type { Hub } from "../../src/hub.ts";

function fakeProcess() {
  const ee = new EventEmitter();
  const exits: number[] = [];
  return {
    ee,
    exits,
    proc: { on: (ev: string, fn: () => void) => ee.on(ev, fn), exit: (code: number) => void exits.push(code) },
  };
}

Deno.test("handleSignals() stops listening, shuts the hub down, then exits 0", async () => {
  const { ee, exits, proc } = fakeProcess();
  let stopped = 0;
  let release!: (ok: boolean) => void;
  const hub = { sessions: new Set(), shutdown: () => new Promise<boolean>((r) => (release = r)) } as unknown as Hub;
  handleSignals({ hub, log: createLogger("text", true, () => {}) }, () => stopped++, proc as never);
  ee.emit("SIGTERM");
  assertEquals([stopped, exits], [1, []]);
  release(true);
  await new Promise((r) => setTimeout(r, 0));
  assertEquals(exits, [0]);
});

Deno.test("handleSignals(): a second signal during shutdown exits at once with 130", () => {
  const { ee, exits, proc } = fakeProcess();
  const hub = { sessions: new Set(), shutdown: () => new Promise<boolean>(() => {}) } as unknown as Hub;
  handleSignals({ hub, log: createLogger("text", true, () => {}) }, () => {}, proc as never);
  ee.emit("SIGINT");
  assertEquals(exits, []);
  ee.emit("SIGTERM");
  assertEquals(exits, [130]);
});
