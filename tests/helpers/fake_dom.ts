/**
 * Stand-ins for the page's elements and timers, for the controllers' unit
 * tests (tests/unit/client_*.test.ts): the controllers take their elements as
 * small interfaces (src/client/dom.ts), so plain objects do.
 * @module
 */
import type { Field } from "../../src/client/dom.ts";

/** An element as a plain object; `focused` records who took the focus, in order. */
export class FakeEl implements Field {
  static focused: string[] = [];
  hidden: boolean | "until-found" = false;
  textContent: string | null = "";
  title = "";
  value = "";
  dateTime = "";
  dataset: { [key: string]: string | undefined } = {};
  attrs = new Map<string, string>();
  classes = new Set<string>();
  selected = 0;
  classList = {
    add: (t: string) => void this.classes.add(t),
    remove: (t: string) => void this.classes.delete(t),
    toggle: (t: string, force?: boolean) => {
      const on = force ?? !this.classes.has(t);
      if (on) this.classes.add(t);
      else this.classes.delete(t);
      return on;
    },
    contains: (t: string) => this.classes.has(t),
  };
  constructor(readonly id: string) {}
  setAttribute(name: string, value: string) {
    this.attrs.set(name, value);
  }
  getAttribute(name: string) {
    return this.attrs.get(name) ?? null;
  }
  focus() {
    FakeEl.focused.push(this.id);
  }
  select() {
    this.selected++;
  }
}

/** Timers the test fires by moving the clock. */
export class FakeTimers {
  now = 1_000_000;
  #timers = new Map<number, { at: number; fn: () => void }>();
  #next = 1;
  setTimer = (fn: () => void, ms: number) => {
    this.#timers.set(this.#next, { at: this.now + ms, fn });
    return this.#next++;
  };
  clearTimer = (id: number | undefined) => void (id !== undefined && this.#timers.delete(id));
  advance(ms: number) {
    this.now += ms;
    for (const [id, t] of [...this.#timers]) {
      if (t.at <= this.now) {
        this.#timers.delete(id);
        t.fn();
      }
    }
  }
}
