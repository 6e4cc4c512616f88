/**
 * The line the keyboard is on, and clicks on a line's gutter and buttons
 * (docs/page.md#reading-real-logs). `j` and `k` move to the next and the
 * previous line shown (folded lines skipped); the line takes the focus, so a
 * screen reader reads it. `m` marks it; `Enter` opens a JSON or logfmt line
 * pretty-printed (again: closes it), or folds the entry the line is in. A
 * click on the gutter's mark column marks the line, on a button works it,
 * on a line's text puts the keyboard there (and opens a JSON line).
 *
 * Lines do not take Tab: 200k tab stops would trap a keyboard user in the
 * text. The pane does (its `tabindex="0"`), and `j` starts from the first
 * line on screen.
 * @module
 */
import { typing } from "./keys.ts";
import type { KeyPress } from "./dom.ts";
import { gutterColumn } from "./render.ts";

/** What the cursor asks of the pane and of the reader. */
export interface CursorHooks {
  /** The pane shown (`#content` or `#filtered`). */
  pane(): HTMLElement;
  /** The digits of the number column shown in the pane's gutter; 0 when lines are not numbered. */
  digits(): number;
  /** Draws the chunk or block `el`, if it is one not drawn yet. */
  drawBlock(el: Element): void;
  /** Held line index of the line numbered `n`. */
  indexOf(n: number): number;
  /** Whether the line at `index` is structured (opens as JSON). */
  structured(index: number): boolean;
  toggleMark(index: number): void;
  /** Folds or unfolds `index`'s entry; its first line, or -1 when nothing folds. */
  toggleFold(index: number): number;
  toggleOpen(index: number): void;
}

/** The keyboard's line in the pane. */
export class LineCursor {
  readonly #view: HTMLElement;
  readonly #hooks: CursorHooks;
  #line: HTMLElement | null = null;

  /** `view` is the scroller (`#view`) the panes are in. */
  constructor(view: HTMLElement, hooks: CursorHooks) {
    this.#view = view;
    this.#hooks = hooks;
  }

  /** The line the cursor is on, if it is still shown. */
  get line(): HTMLElement | null {
    const l = this.#line;
    return l && l.isConnected && this.#hooks.pane().contains(l) &&
        !l.classList.contains("folded")
      ? l
      : null;
  }

  /** A key: true when it was the cursor's (`j`, `k`, `m`, `Enter` on a line). */
  keydown(ev: KeyPress): boolean {
    if (
      ev.ctrlKey || ev.metaKey || ev.altKey || ev.isComposing ||
      typing(ev.target)
    ) return false;
    const target = ev.target as Element | null;
    // Keys in the header's controls are theirs (Enter presses a button).
    if (
      target && target !== this.#view && !this.#view.contains(target) &&
      target !== this.#view.ownerDocument.body
    ) {
      return false;
    }
    if (
      target instanceof HTMLElement && target.closest("button, a") &&
      target !== this.#line
    ) return false;
    switch (ev.key) {
      case "j":
        this.move(1);
        return true;
      case "k":
        this.move(-1);
        return true;
      case "m": {
        const line = this.line ?? this.#first();
        if (!line) return false;
        this.#set(line);
        this.#hooks.toggleMark(this.#index(line));
        this.#arm(line);
        return true;
      }
      case "Enter": {
        const line = this.line;
        if (!line || target !== line) return false;
        this.#act(line);
        return true;
      }
    }
    return false;
  }

  /** Moves to the next (`dir` 1) or previous (-1) line shown; from none, to the first line on screen. */
  move(dir: 1 | -1): void {
    const from = this.line;
    const to = from ? this.#next(from, dir) : this.#first();
    if (to) this.#set(to);
  }

  /**
   * A click in the pane: a button works, the mark column marks, the text
   * puts the cursor there (and opens a JSON line). True when it was the
   * cursor's; false leaves it to the pane (a line number makes a link).
   */
  click(ev: MouseEvent): boolean {
    const target = ev.target as Element;
    const line = target.closest?.(".ln");
    if (!(line instanceof HTMLElement) || !this.#hooks.pane().contains(line)) {
      return false;
    }
    const index = this.#index(line);
    const button = target.closest("button.tg");
    if (button) {
      if (button.classList.contains("fold")) this.#fold(line, index);
      else this.#hooks.toggleOpen(index);
      return true;
    }
    if (target.closest("a, .pretty")) return false;
    const rect = line.getBoundingClientRect();
    const padding = parseFloat(getComputedStyle(line).paddingLeft);
    const column = gutterColumn(
      ev.clientX - rect.left,
      padding,
      this.#hooks.digits(),
    );
    if (column === "mark") {
      this.#set(line, false);
      this.#hooks.toggleMark(index);
      return true;
    }
    if (column !== "text") return false;
    // A click that selected text is reading, not choosing a line.
    const sel = line.ownerDocument.getSelection();
    if (sel && !sel.isCollapsed) return false;
    this.#set(line, false);
    if (this.#hooks.structured(index)) this.#hooks.toggleOpen(index);
    return false;
  }

  #act(line: HTMLElement): void {
    const index = this.#index(line);
    if (this.#hooks.structured(index)) this.#hooks.toggleOpen(index);
    else this.#fold(line, index);
    if (this.line) this.#arm(this.line);
  }

  /** Folds the entry of `line`; the cursor goes to its first line (the one that stays shown). */
  #fold(line: HTMLElement, index: number): void {
    const head = this.#hooks.toggleFold(index);
    if (head < 0 || head === index) return;
    let el: Element | null = line;
    while (el && el.classList.contains("cont")) {
      el = this.#next(el as HTMLElement, -1, true);
    }
    if (el instanceof HTMLElement) this.#set(el);
  }

  /** The links of the keyboard's line take Tab (those of other lines do not: see src/client/draw.ts). */
  #arm(line: HTMLElement): void {
    for (const a of line.querySelectorAll("a")) a.removeAttribute("tabindex");
  }

  #index(line: HTMLElement): number {
    return this.#hooks.indexOf(Number(line.dataset.n));
  }

  #set(line: HTMLElement, scroll = true): void {
    const old = this.#line;
    if (old && old !== line) {
      old.classList.remove("cur");
      old.removeAttribute("tabindex");
      for (const a of old.querySelectorAll("a")) a.tabIndex = -1;
    }
    this.#line = line;
    line.classList.add("cur");
    line.tabIndex = -1;
    this.#arm(line);
    line.focus({ preventScroll: true });
    if (scroll) line.scrollIntoView({ block: "nearest" });
  }

  /** The line after (or before) `from` in the pane, drawing blocks on the way; `all` counts folded lines too. */
  #next(from: HTMLElement, dir: 1 | -1, all = false): HTMLElement | null {
    let el: Element | null = from;
    let block: Element | null = from.parentElement;
    while (block) {
      el = el ? (dir > 0 ? el.nextElementSibling : el.previousElementSibling) : null;
      if (!el) {
        do block = dir > 0 ? block.nextElementSibling : block.previousElementSibling; while (
          block && !block.classList.contains("chunk") &&
          !block.classList.contains("fchunk")
        );
        if (!block) return null;
        this.#hooks.drawBlock(block);
        el = dir > 0 ? block.firstElementChild : block.lastElementChild;
        if (!el) continue;
      }
      if (
        el instanceof HTMLElement && el.classList.contains("ln") &&
        (all || !el.classList.contains("folded"))
      ) {
        return el;
      }
    }
    return null;
  }

  /** The first line shown at the top of the pane's view. */
  #first(): HTMLElement | null {
    const r = this.#view.getBoundingClientRect();
    const doc = this.#view.ownerDocument;
    const pane = this.#hooks.pane();
    for (let y = r.top + 2; y < r.bottom; y += 6) {
      let hit = doc.elementFromPoint(r.left + 8, y);
      const block = hit?.closest(".chunk, .fchunk");
      if (block && !hit?.closest(".ln")) {
        this.#hooks.drawBlock(block);
        hit = doc.elementFromPoint(r.left + 8, y);
      }
      const line = hit?.closest(".ln");
      if (
        line instanceof HTMLElement && pane.contains(line) &&
        !line.classList.contains("folded")
      ) return line;
    }
    const any = pane.querySelector(".ln:not(.folded)");
    return any instanceof HTMLElement ? any : null;
  }
}
