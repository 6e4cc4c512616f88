/**
 * The parts of the DOM the page's controllers touch, as plain interfaces: a
 * real `HTMLElement` is an {@link El}, and so is a test's plain object, so the
 * controllers that need no layout (status, reading tools, go-to, theme) are
 * unit-tested without a browser. Events are not here: main.ts listens and
 * calls the controllers' methods.
 * @module
 */

/** An element as the controllers use it. */
export interface El {
  /** Set as a boolean; the DOM may read back "until-found", which is hidden too. */
  hidden: boolean | "until-found";
  textContent: string | null;
  title: string;
  readonly dataset: { [key: string]: string | undefined };
  readonly classList: {
    add(token: string): void;
    remove(token: string): void;
    toggle(token: string, force?: boolean): boolean;
    contains(token: string): boolean;
  };
  setAttribute(name: string, value: string): void;
  getAttribute(name: string): string | null;
  focus(options?: { preventScroll?: boolean }): void;
}

/** A text box. */
export interface Field extends El {
  value: string;
  select(): void;
}

/** What can take the focus back (the content pane, a button). */
export interface Focusable {
  focus(options?: { preventScroll?: boolean }): void;
}

/** Timers, the browser's or a test's. */
export interface Timers {
  setTimer(fn: () => void, ms: number): number;
  clearTimer(id: number | undefined): void;
}

/** A key press as the shortcuts read it. */
export interface KeyPress {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
  isComposing: boolean;
  target: unknown;
  preventDefault(): void;
  stopPropagation(): void;
}
