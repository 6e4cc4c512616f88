/**
 * The real browser behind {@link LiveEnv}: WebSocket, timers, the clock,
 * randomness and `navigator.onLine`. Tests give {@link Live} a fake instead.
 * @module
 */
import type { LiveEnv } from "./live.ts";

/** The browser as the connection needs it; `socketPath` is the server's `data-socket` ("" or absent: `/ws`). */
export function browserEnv(socketPath: string | undefined): LiveEnv {
  return {
    location,
    socketPath: socketPath || "/ws",
    open(url, protocol, on) {
      const ws = new WebSocket(url, protocol);
      ws.onopen = () => on.open();
      ws.onmessage = (ev) => on.message(ev.data);
      ws.onclose = (ev) => on.close(ev.code, ev.reason);
      return ws;
    },
    setTimer: (fn, ms) => setTimeout(fn, ms),
    clearTimer: (id) => clearTimeout(id),
    now: () => Date.now(),
    random: () => Math.random(),
    onLine: () => navigator.onLine,
  };
}
