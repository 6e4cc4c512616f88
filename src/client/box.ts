/**
 * What Go to line (goto.ts) and Go to time (gotime.ts) have in common: a
 * small form behind a button that opens it and takes the focus, closes on Esc
 * with the focus back where it was (or on its button, with the focus on the
 * button), and says how it went in a status region beside it for a while.
 * Each box adds what it reads from the input and where it goes.
 * @module
 */
import { CHANGED_MS } from "./changes.ts";
import type { El, Field, Focusable, KeyPress, Timers } from "./dom.ts";

/** How long "Showing line 250" stays: as long as the line's changed-mark would. */
export const SHOWING_MS = CHANGED_MS;

/** The elements of a box (ids as src/page.ts writes them). */
export interface BoxDom {
  /** The button that opens it (aria-expanded), the form, its input, and the message beside it (a status region). */
  button: El;
  form: El;
  input: Field;
  msg: El;
  /** Where focus goes after a line is shown (the content pane). */
  home: Focusable;
  /** The element that has the focus now, if one other than `<body>` does: it gets it back on Esc. */
  focused(): Focusable | null;
}

/** A box that opens, closes and speaks; its subclass reads what was typed ({@link PromptBox.submit}). */
export abstract class PromptBox {
  protected readonly dom: BoxDom;
  readonly #timers: Timers;
  readonly #keepsInput: boolean;
  #returnTo: Focusable | null = null;
  #msgTimer: number | undefined;

  /** `keepsInput`: what was typed stays in the box when it closes (otherwise the box is emptied). */
  constructor(dom: BoxDom, timers: Timers, keepsInput: boolean) {
    this.dom = dom;
    this.#timers = timers;
    this.#keepsInput = keepsInput;
  }

  /** Whether the box is open. */
  get open(): boolean {
    return !this.dom.form.hidden;
  }

  /** Opens the box and focuses it. */
  show(): void {
    const d = this.dom;
    if (d.form.hidden) {
      this.#returnTo = d.focused() ?? d.home;
      this.say("", false);
    }
    d.form.hidden = false;
    d.button.setAttribute("aria-expanded", "true");
    d.input.focus();
    d.input.select();
  }

  /** The button was pressed: opens, or closes with focus on the button. */
  toggle(): void {
    if (this.dom.form.hidden) this.show();
    else this.close(this.dom.button);
  }

  /** Enter in the box. */
  abstract submit(): void | Promise<void>;

  /** A key in the box: Esc closes it without going anywhere, focus back where it was. */
  keydown(ev: KeyPress): void {
    if (ev.key !== "Escape") return;
    ev.preventDefault();
    ev.stopPropagation();
    this.say("", false);
    this.close(this.#returnTo ?? this.dom.home);
  }

  /** Says `message` beside the box; with `forMs`, takes it away after that long. */
  protected say(message: string, bad: boolean, forMs?: number): void {
    const d = this.dom;
    this.#timers.clearTimer(this.#msgTimer);
    d.msg.textContent = message;
    d.msg.classList.toggle("bad", bad);
    d.input.setAttribute("aria-invalid", String(bad));
    if (forMs !== undefined) {
      this.#msgTimer = this.#timers.setTimer(
        () => (d.msg.textContent = ""),
        forMs,
      );
    }
  }

  /** Closes the box and puts the focus on `focus`. */
  protected close(focus: Focusable | null): void {
    const d = this.dom;
    d.form.hidden = true;
    d.button.setAttribute("aria-expanded", "false");
    if (!this.#keepsInput) d.input.value = "";
    focus?.focus({ preventScroll: true });
  }
}
