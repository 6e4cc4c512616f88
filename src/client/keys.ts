/**
 * The page's keys, anywhere but in a text box: `/` filter, `g` go to line,
 * `t` go to time (the large-file view), `Esc` clear the filter
 * (docs/page.md#reading). Pure: main.ts listens and
 * acts on the command.
 * @module
 */
import type { KeyPress } from "./dom.ts";

/** What a key asks for. */
export type KeyCommand = "filter" | "goto" | "time" | "escape";

/** Input types that take no text: a key there is a command, not a character. */
const NOT_TEXT = ["checkbox", "radio", "button", "submit"];

/**
 * Whether `target` (a key's) is typing text: a text area, an editable
 * element, or an input that takes text. Read from the element's tag rather
 * than by `instanceof`, so a test's plain object will do.
 */
export function typing(target: unknown): boolean {
  if (typeof target !== "object" || target === null) return false;
  const el = target as { tagName?: unknown; type?: unknown; isContentEditable?: unknown };
  if (el.tagName === "TEXTAREA" || el.isContentEditable === true) return true;
  return el.tagName === "INPUT" && !NOT_TEXT.includes(String(el.type));
}

/**
 * The command `ev` gives, or null. `filterBox` is the filter's input, where
 * Esc is still a command (it clears the box) though the box takes text.
 * @example
 * ```ts
 * keyCommand({ key: "/", target: document.body, ... }, filterBox); // "filter"
 * ```
 */
export function keyCommand(
  ev: Omit<KeyPress, "preventDefault" | "stopPropagation">,
  filterBox: unknown,
): KeyCommand | null {
  if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.isComposing) return null;
  if (ev.key === "/" && !typing(ev.target)) return "filter";
  if (ev.key === "g" && !typing(ev.target)) return "goto";
  if (ev.key === "t" && !typing(ev.target)) return "time";
  if (ev.key === "Escape" && (ev.target === filterBox || !typing(ev.target))) return "escape";
  return null;
}
