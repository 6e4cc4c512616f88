/**
 * The Theme button: auto (the system's `prefers-color-scheme`), light, dark,
 * set as `data-theme` on `<html>` (the style sheet reads it) and remembered.
 * @module
 */
import type { El } from "./dom.ts";
import type { Prefs } from "./prefs.ts";

/** The themes in the order the button cycles through them. */
export const THEMES = ["auto", "light", "dark"] as const;
/** A theme the button can show. */
export type Theme = typeof THEMES[number];

/** The theme after `current`; anything unknown (a stored value from elsewhere) is followed by "auto". */
export function nextTheme(current: string): Theme {
  return THEMES[(THEMES.indexOf(current as Theme) + 1) % THEMES.length]!;
}

/** What the theme controller touches: the button, and `<html>`. */
export interface ThemeDom {
  button: El;
  root: { readonly dataset: { [key: string]: string | undefined } };
}

/** The Theme button, starting from what was saved. */
export class ThemeButton {
  readonly #dom: ThemeDom;
  readonly #prefs: Prefs;
  /** As saved (may be a value this version does not know: it shows as auto). */
  #theme: string;

  constructor(dom: ThemeDom, prefs: Prefs) {
    this.#dom = dom;
    this.#prefs = prefs;
    this.#theme = prefs.text("theme") ?? "auto";
    this.#apply();
  }

  /** The theme shown. */
  get theme(): Theme {
    return this.#theme === "light" || this.#theme === "dark" ? this.#theme : "auto";
  }

  /** The button was pressed: the next theme, remembered. */
  cycle(): void {
    this.#theme = nextTheme(this.#theme);
    this.#apply();
    this.#prefs.save("theme", this.#theme);
  }

  #apply(): void {
    const theme = this.theme;
    if (theme === "auto") delete this.#dom.root.dataset.theme;
    else this.#dom.root.dataset.theme = theme;
    this.#dom.button.textContent = `Theme: ${theme}`;
  }
}
