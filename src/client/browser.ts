/**
 * The real browser behind the controllers' plain interfaces: {@link LiveEnv}
 * (WebSocket, timers, the clock, randomness and `navigator.onLine`), the
 * timers, and a box's elements and events ({@link wireBox}). Tests give the
 * controllers fakes instead.
 * @module
 */
import type { BoxDom, PromptBox } from "./box.ts";
import type { Timers } from "./dom.ts";
import type { LiveEnv } from "./live.ts";

/** The browser's timers. */
export const browserTimers: Timers = {
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (id) => clearTimeout(id),
};

/** The browser as the connection needs it; `socketPath` is the server's `data-socket` ("" or absent: `/ws`). */
export function browserEnv(socketPath: string | undefined): LiveEnv {
  return {
    location,
    socketPath: socketPath || "/ws",
    open(url, protocols, on) {
      const ws = new WebSocket(url, [...protocols]);
      // filewatch.bin.v1 frames are binary: as ArrayBuffers they decode at once (a Blob would need a read).
      ws.binaryType = "arraybuffer";
      ws.onopen = () => on.open();
      ws.onmessage = (ev) => on.message(ev.data);
      ws.onclose = (ev) => on.close(ev.code, ev.reason);
      return ws;
    },
    ...browserTimers,
    now: () => Date.now(),
    random: () => Math.random(),
    onLine: () => navigator.onLine,
  };
}

/** The ids of a box's elements (as src/page.ts writes them): its button, form, input and message. */
export interface BoxIds {
  button: string;
  form: string;
  input: string;
  msg: string;
}

/**
 * Makes a box (`make`) over its elements, found by `ids`, with the focus
 * going to `home` after a line is shown, and turns the elements' events into
 * the box's calls: the button toggles it, Enter submits it, keys in its input
 * go to it (Esc).
 */
export function wireBox<B extends PromptBox>(
  byId: (id: string) => HTMLElement,
  ids: BoxIds,
  home: HTMLElement,
  make: (dom: BoxDom) => B,
): B {
  const box = make({
    button: byId(ids.button),
    form: byId(ids.form),
    input: byId(ids.input) as HTMLInputElement,
    msg: byId(ids.msg),
    home,
    focused: () => {
      const el = document.activeElement;
      return el instanceof HTMLElement && el !== document.body ? el : null;
    },
  });
  byId(ids.button).addEventListener("click", () => box.toggle());
  byId(ids.form).addEventListener("submit", (ev) => {
    ev.preventDefault();
    void box.submit();
  });
  byId(ids.input).addEventListener("keydown", (ev) => box.keydown(ev));
  return box;
}
