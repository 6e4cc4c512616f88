/**
 * The line the keyboard is on, and clicks on a line's gutter and buttons
 * (docs/page.md#reading-real-logs). `j` and `k` move to the next and the
 * previous line shown (folded and hidden lines skipped); the line takes the
 * focus, so a screen reader reads it. `m` marks it; `Enter` opens a JSON or
 * logfmt line pretty-printed (again: closes it), or folds the entry the line
 * is in. A click on the gutter's mark column marks the line, on a button
 * works it, on a line's text puts the keyboard there (and opens a JSON line).
 *
 * Lines do not take Tab: 200k tab stops would trap a keyboard user in the
 * text. The pane does (its `tabindex="0"`), and `j` starts from the first
 * line on screen. The cursor works on the lines' elements, whichever view
 * drew them: the page that holds the whole text, or the large-file view.
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
  /** Whether the line drawn as `line` is structured (opens as JSON). */
  structured(line: HTMLElement): boolean;
  toggleMark(line: HTMLElement): void;
  /** Folds or unfolds the entry `line` is in; false when it has nothing to fold. */
  toggleFold(line: HTMLElement): boolean;
  toggleOpen(line: HTMLElement): void;
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
    return l && l.isConnected && this.#hooks.pane().contains(l) && shown(l) ? l : null;
  }

  /** A key: true when it was the cursor's (`j`, `k`, `m`, `Enter` on a line). */
  keydown(ev: KeyPress): boolean {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.isComposing || typing(ev.target)) return false;
    const target = ev.target as Element | null;
    // Keys in the header's controls are theirs (Enter presses a button).
    const body = this.#view.ownerDocument.body;
    if (target && target !== this.#view && !this.#view.contains(target) && target !== body) return false;
    if (target instanceof HTMLElement && target.closest("button, a") && target !== this.#line) return false;
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
        this.#hooks.toggleMark(line);
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
    if (!(line instanceof HTMLElement) || !this.#hooks.pane().contains(line)) return false;
    const button = target.closest("button.tg");
    if (button) {
      if (button.classList.contains("fold")) this.#fold(line);
      else this.#hooks.toggleOpen(line);
      return true;
    }
    if (target.closest("a, .pretty")) return false;
    const x = ev.clientX - line.getBoundingClientRect().left;
    const column = gutterColumn(x, parseFloat(getComputedStyle(line).paddingLeft), this.#hooks.digits());
    if (column === "mark") {
      this.#set(line, false);
      this.#hooks.toggleMark(line);
      return true;
    }
    if (column !== "text") return false;
    // A click that selected text is reading, not choosing a line.
    const sel = line.ownerDocument.getSelection();
    if (sel && !sel.isCollapsed) return false;
    this.#set(line, false);
    if (this.#hooks.structured(line)) this.#hooks.toggleOpen(line);
    return false;
  }

  #act(line: HTMLElement): void {
    if (this.#hooks.structured(line)) this.#hooks.toggleOpen(line);
    else this.#fold(line);
    if (this.line) this.#arm(this.line);
  }

  /** Folds the entry of `line`; the cursor goes to its first line (the one that stays shown). */
  #fold(line: HTMLElement): void {
    const cont = line.classList.contains("cont");
    if (!this.#hooks.toggleFold(line) || !cont) return;
    let el: HTMLElement | null = line;
    while (el && el.classList.contains("cont")) el = this.#next(el, -1, true);
    if (el) this.#set(el);
  }

  /** The links of the keyboard's line take Tab (those of other lines do not: see src/client/draw.ts). */
  #arm(line: HTMLElement): void {
    for (const a of line.querySelectorAll("a")) a.removeAttribute("tabindex");
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
          block && !block.classList.contains("chunk") && !block.classList.contains("fchunk")
        );
        if (!block) return null;
        this.#hooks.drawBlock(block);
        el = dir > 0 ? block.firstElementChild : block.lastElementChild;
        if (!el) continue;
      }
      if (el instanceof HTMLElement && el.classList.contains("ln") && (all || shown(el))) return el;
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
      if (line instanceof HTMLElement && pane.contains(line) && shown(line)) return line;
    }
    for (const l of pane.querySelectorAll<HTMLElement>(".ln")) if (shown(l)) return l;
    return null;
  }
}

/** Whether a line is shown: not folded away, nor hidden at no height (a level hidden in the large-file view). */
function shown(line: HTMLElement): boolean {
  return !line.classList.contains("folded") && line.offsetHeight > 0;
}
