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
