/**
 * A colour per level, for the light and the dark theme, each readable (WCAG
 * AA, 4.5:1) on every background the page draws lines on: the page, the
 * header bar (level toggles), a changed line and the target line. Data
 * only: the page turns it into CSS.
 *
 * Hues follow what log viewers have taught people: fatal magenta, error
 * red, warn amber, info green, debug blue, trace grey.
 * @module
 */
import type { Level } from "./levels.ts";

/** The page's two themes. */
export type Theme = "light" | "dark";

/** The minimum contrast for normal text in WCAG 2 AA. */
export const WCAG_AA = 4.5;

/**
 * The backgrounds level colours must be read on, per theme, as the page's
 * style sheet declares them (`--bg`, `--bar`, `--changed`, `--target`); a
 * unit test holds these to the page's own values.
 */
export const THEME_BACKGROUNDS: Readonly<Record<Theme, Readonly<Record<string, string>>>> = Object.freeze({
  light: Object.freeze({ bg: "#ffffff", bar: "#f6f8fa", changed: "#dafbe1", target: "#ddf4ff" }),
  dark: Object.freeze({ bg: "#0d1117", bar: "#151b23", changed: "#12361f", target: "#0c2d6b" }),
});

/** Each level's text colour in each theme. */
export const LEVEL_COLORS: Readonly<Record<Level, Readonly<Record<Theme, string>>>> = Object.freeze({
  fatal: Object.freeze({ light: "#99286e", dark: "#f778ba" }),
  error: Object.freeze({ light: "#cf222e", dark: "#ff7b72" }),
  warn: Object.freeze({ light: "#8a5c00", dark: "#d29922" }),
  info: Object.freeze({ light: "#116329", dark: "#3fb950" }),
  debug: Object.freeze({ light: "#0550ae", dark: "#79c0ff" }),
  trace: Object.freeze({ light: "#59636e", dark: "#b1bac4" }),
});

/** WCAG 2 relative luminance of `#rrggbb`. */
export function luminance(hex: string): number {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) throw new TypeError(`Cannot read colour "${hex}": expected #rrggbb`);
  const [r, g, b] = [m[1]!, m[2]!, m[3]!].map((h) => {
    const c = parseInt(h, 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/**
 * The WCAG 2 contrast ratio of two `#rrggbb` colours, 1 to 21.
 * @example
 * ```ts
 * contrast("#000000", "#ffffff"); // 21
 * ```
 */
export function contrast(a: string, b: string): number {
  const la = luminance(a);
  const lb = luminance(b);
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}

/**
 * The 16 ANSI colours (SGR 30–37 and 90–97: black, red, green, yellow,
 * blue, magenta, cyan, white, then their bright forms) as the page draws
 * text in them, per theme: each passes WCAG AA on the page's line
 * backgrounds ({@link THEME_BACKGROUNDS} but the bar). A program that writes
 * "white" meant "light on a dark terminal": in the light theme it is drawn
 * dark enough to read, and "black" in the dark theme light enough. Palette
 * indexes 16–255 and 24-bit colours are drawn as the nearest of these
 * (src/client/render.ts says why).
 */
export const ANSI_FG: Readonly<Record<Theme, readonly string[]>> = Object
  .freeze({
    light: Object.freeze([
      "#1f2328",
      "#cf222e",
      "#116329",
      "#7d4e00",
      "#0550ae",
      "#6639ba",
      "#1b6b73",
      "#59636e",
      "#59636e",
      "#a40e26",
      "#0f6d31",
      "#8a5c00",
      "#0969da",
      "#a8306f",
      "#0a6870",
      "#1f2328",
    ]),
    dark: Object.freeze([
      "#9ea7b3",
      "#ff7b72",
      "#3fb950",
      "#d29922",
      "#58a6ff",
      "#bc8cff",
      "#39c5cf",
      "#c9d1d9",
      "#9ea7b3",
      "#ffa198",
      "#56d364",
      "#e3b341",
      "#79c0ff",
      "#f778ba",
      "#56d4dd",
      "#ffffff",
    ]),
  });

/**
 * The 16 ANSI background colours (SGR 40–47, 100–107) as tints of their
 * hue, per theme: text on them is drawn in the theme's own text colour
 * ({@link THEME_TEXT}), which passes WCAG AA on every one, whatever colour
 * the program chose for it.
 */
export const ANSI_BG: Readonly<Record<Theme, readonly string[]>> = Object
  .freeze({
    light: Object.freeze([
      "#d1d9e0",
      "#ffebe9",
      "#dafbe1",
      "#fff8c5",
      "#ddf4ff",
      "#fbefff",
      "#d6f5f7",
      "#eff2f5",
      "#d1d9e0",
      "#ffcecb",
      "#aceebb",
      "#fae17d",
      "#b6e3ff",
      "#ffd3eb",
      "#b3ecef",
      "#ffffff",
    ]),
    dark: Object.freeze([
      "#010409",
      "#490202",
      "#033a16",
      "#4b2900",
      "#0c2d6b",
      "#3c1e70",
      "#053b40",
      "#30363d",
      "#3d444d",
      "#67060c",
      "#04260f",
      "#5c3d00",
      "#0d419d",
      "#5e103e",
      "#0b4f55",
      "#484f58",
    ]),
  });

/** The page's text colour per theme (`--fg`), drawn on {@link ANSI_BG}. */
export const THEME_TEXT: Readonly<Record<Theme, string>> = Object.freeze({
  light: "#1f2328",
  dark: "#e6edf3",
});
