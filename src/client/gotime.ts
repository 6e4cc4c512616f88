/**
 * "Go to time" (the button, or `t`): a box like Go to line that takes a
 * moment (RFC 3339, `2026-12-07T00:11Z` — no offset is UTC — or epoch
 * milliseconds) and shows the first line stamped at or after it, found by
 * the server's `/time` (docs/page.md#the-whole-log-at-any-size). What the server cannot
 * use (a time it cannot read, a file without timestamps: 400 and 422) is
 * said next to the box with the server's reason.
 * @module
 */
import type { TimeAnswer } from "../shared/answers.ts";
import { type BoxDom, PromptBox, SHOWING_MS } from "./box.ts";
import type { KeyPress, Timers } from "./dom.ts";
import { HttpError } from "./remote.ts";

/** What Go to time asks of the page. */
export interface GoTimeHooks {
  /** Asks the server for the first line at or after `t` (as typed). */
  find(t: string): Promise<TimeAnswer>;
  /** Shows the line found. */
  go(found: { n: number | null; offset: number; t: string | null }): void;
}

/**
 * What a `/time` answer or refusal says to the reader.
 * @example
 * ```ts
 * timeMessage({ n: 120, offset: 4096, t: "2026-12-07T00:11:49.000Z" }); // "Showing line 120, stamped 2026-12-07T00:11:49.000Z"
 * ```
 */
export function timeMessage(found: TimeAnswer): string {
  if (found.offset === null) return "No line is stamped at or after that time";
  const where = found.n !== null ? `line ${found.n.toLocaleString("en")}` : "the line";
  return found.t ? `Showing ${where}, stamped ${found.t}` : `Showing ${where}`;
}

/** The Go to time box (what is typed stays when it closes). */
export class GoToTime extends PromptBox {
  readonly #hooks: GoTimeHooks;
  #seq = 0;

  /** `dom`: `#time-open`, the `#time` form, its `#time-input`, and `#time-msg`. */
  constructor(dom: BoxDom, hooks: GoTimeHooks, timers: Timers) {
    super(dom, timers, true);
    this.#hooks = hooks;
  }

  /** Enter in the box: asks the server, then shows the line or says why not. */
  async submit(): Promise<void> {
    const t = this.dom.input.value.trim();
    if (t === "") return this.say("Type a time: 2026-12-07T00:11:49Z (no offset is UTC), or epoch ms", true);
    const seq = ++this.#seq;
    this.say("Looking…", false);
    let found: TimeAnswer;
    try {
      found = await this.#hooks.find(t);
    } catch (e) {
      if (seq !== this.#seq) return;
      const why = e instanceof HttpError ? e.reason : `Cannot ask the server: ${(e as Error).message}`;
      return this.say(why, true);
    }
    if (seq !== this.#seq) return;
    if (found.offset === null) return this.say(timeMessage(found), true);
    this.close(this.dom.home);
    this.#hooks.go({ n: found.n, offset: found.offset, t: found.t });
    this.say(timeMessage(found), false, SHOWING_MS);
  }

  /** A key in the box: Esc also forgets the question in flight (its answer goes nowhere). */
  override keydown(ev: KeyPress): void {
    if (ev.key === "Escape") this.#seq++;
    super.keydown(ev);
  }
}
