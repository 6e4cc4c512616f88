/**
 * "Go to time" (the button, or `t`): a box like Go to line that takes a
 * moment (RFC 3339, `2026-12-07T00:11Z` — no offset is UTC — or epoch
 * milliseconds) and shows the first line stamped at or after it, found by
 * the server's `/time` (docs/page.md#the-whole-log-at-any-size). What the server cannot
 * use (a time it cannot read, a file without timestamps: 400 and 422) is
 * said next to the box with the server's reason.
 * @module
 */
import type { El, Field, Focusable, KeyPress, Timers } from "./dom.ts";
import { SHOWING_MS } from "./goto.ts";
import type { TimeAnswer } from "../shared/answers.ts";
import { HttpError } from "./remote.ts";

/** The elements of Go to time (ids as src/page.ts writes them). */
export interface GoTimeDom {
  /** `#time-open` (aria-expanded), the `#time` form, its `#time-input`, and `#time-msg` (a status region). */
  button: El;
  form: El;
  input: Field;
  msg: El;
  /** Where focus goes after a line is shown (the content pane). */
  home: Focusable;
  /** The element that has the focus now (it gets it back on Esc). */
  focused(): Focusable | null;
}

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

/** The Go to time box. */
export class GoToTime {
  readonly #dom: GoTimeDom;
  readonly #hooks: GoTimeHooks;
  readonly #timers: Timers;
  #returnTo: Focusable | null = null;
  #msgTimer: number | undefined;
  #seq = 0;

  constructor(dom: GoTimeDom, hooks: GoTimeHooks, timers: Timers) {
    this.#dom = dom;
    this.#hooks = hooks;
    this.#timers = timers;
  }

  /** Whether the box is open. */
  get open(): boolean {
    return !this.#dom.form.hidden;
  }

  /** Opens the box and focuses it. */
  show(): void {
    const d = this.#dom;
    if (d.form.hidden) {
      this.#returnTo = d.focused() ?? d.home;
      this.#say("", false);
    }
    d.form.hidden = false;
    d.button.setAttribute("aria-expanded", "true");
    d.input.focus();
    d.input.select();
  }

  /** The button was pressed: opens, or closes with focus on the button. */
  toggle(): void {
    if (this.#dom.form.hidden) this.show();
    else this.#close(this.#dom.button);
  }

  /** Enter in the box: asks the server, then shows the line or says why not. */
  async submit(): Promise<void> {
    const t = this.#dom.input.value.trim();
    if (t === "") return this.#say("Type a time: 2026-12-07T00:11:49Z (no offset is UTC), or epoch ms", true);
    const seq = ++this.#seq;
    this.#say("Looking…", false);
    let found: TimeAnswer;
    try {
      found = await this.#hooks.find(t);
    } catch (e) {
      if (seq !== this.#seq) return;
      const why = e instanceof HttpError ? e.reason : `Cannot ask the server: ${(e as Error).message}`;
      return this.#say(why, true);
    }
    if (seq !== this.#seq) return;
    if (found.offset === null) return this.#say(timeMessage(found), true);
    this.#close(this.#dom.home);
    this.#hooks.go({ n: found.n, offset: found.offset, t: found.t });
    this.#say(timeMessage(found), false, SHOWING_MS);
  }

  /** A key in the box: Esc closes it without going anywhere, focus back where it was. */
  keydown(ev: KeyPress): void {
    if (ev.key !== "Escape") return;
    ev.preventDefault();
    ev.stopPropagation();
    this.#seq++;
    this.#say("", false);
    this.#close(this.#returnTo ?? this.#dom.home);
  }

  #say(message: string, bad: boolean, forMs?: number): void {
    const d = this.#dom;
    this.#timers.clearTimer(this.#msgTimer);
    d.msg.textContent = message;
    d.msg.classList.toggle("bad", bad);
    d.input.setAttribute("aria-invalid", String(bad));
    if (forMs !== undefined) this.#msgTimer = this.#timers.setTimer(() => (d.msg.textContent = ""), forMs);
  }

  #close(focus: Focusable | null): void {
    const d = this.#dom;
    d.form.hidden = true;
    d.button.setAttribute("aria-expanded", "false");
    focus?.focus({ preventScroll: true });
  }
}
