/**
 * "Go to line" (the button, or `g`): the keyboard's way to a line link. One
 * box, not a tab stop per line number (a 200k-line file would have 200k of
 * them); where line numbers make no links it opens no box and says why
 * instead (docs/page.md#reading).
 * @module
 */
import { CHANGED_MS } from "./changes.ts";
import type { El, Field, Focusable, KeyPress, Timers } from "./dom.ts";
import { parseLineInput } from "./links.ts";

/** How long "Showing line 250" stays: as long as the line's changed-mark would. */
export const SHOWING_MS = CHANGED_MS;
/** How long the reason no box opens stays: longer, since it is a sentence to read. */
export const REASON_MS = 3 * CHANGED_MS;

/** The elements of Go to line (ids as src/page.ts writes them). */
export interface GoToDom {
  /** `#goto-open` (aria-expanded), the `#goto` form, its `#goto-line` box, and `#goto-msg` (a status region). */
  button: El;
  form: El;
  input: Field;
  msg: El;
  /** Where focus goes after a line is shown (the content pane). */
  home: Focusable;
  /** The element that has the focus now, if one other than `<body>` does: it gets it back on Esc. */
  focused(): Focusable | null;
}

/** What Go to line asks of the page. */
export interface GoToHooks {
  /** Why line numbers make no links now (null: they do). */
  linksOff(): string | null;
  /** How many lines the page holds. */
  lines(): number;
  /** Show and mark line `n`, and make the URL name it. */
  go(n: number): void;
}

/** The Go to line box. */
export class GoTo {
  readonly #dom: GoToDom;
  readonly #hooks: GoToHooks;
  readonly #timers: Timers;
  #returnTo: Focusable | null = null;
  #msgTimer: number | undefined;

  constructor(dom: GoToDom, hooks: GoToHooks, timers: Timers) {
    this.#dom = dom;
    this.#hooks = hooks;
    this.#timers = timers;
  }

  /** Whether the box is open. */
  get open(): boolean {
    return !this.#dom.form.hidden;
  }

  /** Opens the box and focuses it, or, where lines make no links, says why. */
  show(): void {
    const d = this.#dom;
    const why = this.#hooks.linksOff();
    if (why !== null) {
      // No box to type in: the reason instead, until it is read.
      this.#say(why, false, REASON_MS);
      return;
    }
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

  /** Enter in the box: goes to the line typed, or says what is wrong with it. */
  submit(): void {
    const why = this.#hooks.linksOff(); // the page may have dropped lines since the box opened
    const got = why === null
      ? parseLineInput(this.#dom.input.value, this.#hooks.lines())
      : { ok: false as const, message: why };
    if (!got.ok) return this.#say(got.message, true);
    this.#close(this.#dom.home);
    this.#hooks.go(got.line);
    this.#say(`Showing line ${got.line.toLocaleString("en")}`, false, SHOWING_MS);
  }

  /** A key in the box: Esc closes it without going anywhere, focus back where it was. */
  keydown(ev: KeyPress): void {
    if (ev.key !== "Escape") return;
    ev.preventDefault();
    ev.stopPropagation();
    this.#say("", false);
    this.#close(this.#returnTo ?? this.#dom.home);
  }

  /** Says `message` beside the box for a while (the large-file view: a line past the end, found only on asking). */
  tell(message: string, bad: boolean): void {
    this.#say(message, bad, bad ? REASON_MS : SHOWING_MS);
  }

  /** Says `message` beside the box; with `forMs`, takes it away after that long. */
  #say(message: string, bad: boolean, forMs?: number): void {
    const d = this.#dom;
    this.#timers.clearTimer(this.#msgTimer);
    d.msg.textContent = message;
    d.msg.classList.toggle("bad", bad);
    d.input.setAttribute("aria-invalid", String(bad));
    if (forMs !== undefined) {
      this.#msgTimer = this.#timers.setTimer(() => (d.msg.textContent = ""), forMs);
    }
  }

  #close(focus: Focusable | null): void {
    const d = this.#dom;
    d.form.hidden = true;
    d.button.setAttribute("aria-expanded", "false");
    d.input.value = "";
    focus?.focus({ preventScroll: true });
  }
}
