/**
 * "Go to line" (the button, or `g`): the keyboard's way to a line link. One
 * box, not a tab stop per line number (a 200k-line file would have 200k of
 * them); where line numbers make no links it opens no box and says why
 * instead (docs/page.md#reading).
 * @module
 */
import { type BoxDom, PromptBox, SHOWING_MS } from "./box.ts";
import { CHANGED_MS } from "./changes.ts";
import type { Timers } from "./dom.ts";
import { parseLineInput } from "./links.ts";

/** How long the reason no box opens stays: longer, since it is a sentence to read. */
export const REASON_MS = 3 * CHANGED_MS;

/** What Go to line asks of the page. */
export interface GoToHooks {
  /** Why line numbers make no links now (null: they do). */
  linksOff(): string | null;
  /** How many lines the page holds. */
  lines(): number;
  /** Show and mark line `n`, and make the URL name it. */
  go(n: number): void;
}

/** The Go to line box (what is typed is cleared when it closes). */
export class GoTo extends PromptBox {
  readonly #hooks: GoToHooks;

  /** `dom`: `#goto-open`, the `#goto` form, its `#goto-line` box, and `#goto-msg`. */
  constructor(dom: BoxDom, hooks: GoToHooks, timers: Timers) {
    super(dom, timers, false);
    this.#hooks = hooks;
  }

  /** Opens the box and focuses it, or, where lines make no links, says why. */
  override show(): void {
    const why = this.#hooks.linksOff();
    if (why !== null) {
      // No box to type in: the reason instead, until it is read.
      this.say(why, false, REASON_MS);
      return;
    }
    super.show();
  }

  /** Enter in the box: goes to the line typed, or says what is wrong with it. */
  submit(): void {
    const why = this.#hooks.linksOff(); // the page may have dropped lines since the box opened
    const got = why === null
      ? parseLineInput(this.dom.input.value, this.#hooks.lines())
      : { ok: false as const, message: why };
    if (!got.ok) return this.say(got.message, true);
    this.close(this.dom.home);
    this.#hooks.go(got.line);
    this.say(`Showing line ${got.line.toLocaleString("en")}`, false, SHOWING_MS);
  }

  /** Says `message` beside the box for a while (the large-file view: a line past the end, found only on asking). */
  tell(message: string, bad: boolean): void {
    this.say(message, bad, bad ? REASON_MS : SHOWING_MS);
  }
}
