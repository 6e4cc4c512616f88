/**
 * How one line of the file becomes what its element shows, as data: its
 * displayed text as {@link Segment}s (text with classes: ANSI colours, a
 * summary's parts), cut at the filter's matches and at its links into
 * {@link Piece}s ({@link overlay}). Pure, so it is unit-tested without a
 * browser; src/client/draw.ts writes pieces into the DOM, and
 * src/client/logview.ts decides what a line's segments are.
 *
 * ANSI colours are classes, never styles: the page's CSP refuses style
 * attributes, and a colour a program chose for its own terminal may be
 * unreadable on the page's background. The 16 named colours are drawn from
 * a palette per theme that passes WCAG AA on every line background
 * (src/shared/palette.ts); palette indexes 16–255 and 24-bit colours are
 * drawn as the nearest of those 16. The exact hue is lost; what the program
 * meant by it (red: a failure, green: fine) stays, readable in both themes.
 * A background colour is drawn as a tint of its hue under the theme's own
 * text colour, for the same reason.
 * @module
 */
import { type Color, hasEscapes, parseAnsi, type Style, xtermColor } from "../shared/ansi.ts";
import type { UrlRange } from "../shared/urls.ts";
import { type Structured, summaryParts } from "../shared/structured.ts";

/** `[start, end)` character offsets in a line, such as a filter's match. */
export type CharRange = readonly [number, number];

/**
 * One run of a line's text. `mark` shows it as a filter match (`<mark>`);
 * `cls` is a class list for a `<span>` around it (classes, not styles: the
 * page's CSP refuses style attributes); `href` makes it (part of) a link.
 */
export interface Piece {
  text: string;
  mark?: boolean;
  cls?: string;
  href?: string;
}

/** Turns a line and the ranges to mark in it (sorted, disjoint) into pieces. */
export type LineRenderer = (line: string, marks: readonly CharRange[]) => Piece[];

/**
 * The line as it is, with `marks` as marked pieces; no empty piece.
 * @example
 * ```ts
 * plainLine("an error here", [[3, 8]]); // [{ text: "an " }, { text: "error", mark: true }, { text: " here" }]
 * ```
 */
export const plainLine: LineRenderer = (line, marks) => {
  const out: Piece[] = [];
  let at = 0;
  for (const [a, b] of marks) {
    if (a > at) out.push({ text: line.slice(at, a) });
    out.push({ text: line.slice(a, b), mark: true });
    at = b;
  }
  if (at < line.length) out.push({ text: line.slice(at) });
  return out;
};

/** A run of displayed text and the classes it is drawn with ("" for none). */
export interface Segment {
  text: string;
  cls: string;
}

/**
 * Cuts `segments` (their texts joined are what the line shows) where the
 * filter's `marks` and the `links` start and end: each piece keeps its
 * segment's classes, is marked when inside a mark and carries the link's
 * `href` when inside a link. Both lists are sorted and disjoint; no piece is
 * empty.
 * @example
 * ```ts
 * overlay([{ text: "see https://x.org now", cls: "" }], [[0, 3]], [{ start: 4, end: 17, href: "https://x.org/" }]);
 * // [{ text: "see", mark: true }, { text: " " }, { text: "https://x.org", href: "https://x.org/" }, { text: " now" }]
 * ```
 */
export function overlay(
  segments: readonly Segment[],
  marks: readonly CharRange[],
  links: readonly UrlRange[],
): Piece[] {
  const out: Piece[] = [];
  // Every place a piece may end, in order.
  const cuts: number[] = [];
  for (const [a, b] of marks) cuts.push(a, b);
  for (const l of links) cuts.push(l.start, l.end);
  cuts.sort((x, y) => x - y);
  let mi = 0;
  let li = 0;
  let ci = 0;
  let at = 0;
  for (const seg of segments) {
    const end = at + seg.text.length;
    let from = at;
    while (from < end) {
      while (ci < cuts.length && cuts[ci]! <= from) ci++;
      const to = Math.min(end, cuts[ci] ?? end);
      while (mi < marks.length && marks[mi]![1] <= from) mi++;
      while (li < links.length && links[li]!.end <= from) li++;
      const piece: Piece = { text: seg.text.slice(from - at, to - at) };
      if (seg.cls) piece.cls = seg.cls;
      const m = marks[mi];
      if (m && m[0] <= from) piece.mark = true;
      const l = links[li];
      if (l && l.start <= from) piece.href = l.href;
      out.push(piece);
      from = to;
    }
    at = end;
  }
  return out;
}

/** The line's text as segments with its ANSI styles as classes; escapes dropped. */
export function ansiSegments(line: string): Segment[] {
  if (!hasEscapes(line)) return line === "" ? [] : [{ text: line, cls: "" }];
  return parseAnsi(line).map((s) => ({
    text: s.text,
    cls: styleClass(s.style),
  }));
}

/**
 * The classes for an ANSI style: `c-fN` a text colour and `c-bN` a
 * background (N the nearest of the 16 named colours, see the module), `c-inv`
 * inverse video without colours, `c-bold`, `c-dim`, `c-it`, `c-ul`, `c-st`.
 * Over a background the text keeps the theme's colour (so it stays readable);
 * inverse draws the text colour as the background.
 * @example
 * ```ts
 * styleClass({ fg: 1, bold: true }); // "c-f1 c-bold"
 * styleClass({ fg: "#ff0000" });     // "c-f9": bright red
 * ```
 */
export function styleClass(style: Style): string {
  const out: string[] = [];
  let { fg, bg } = style;
  if (style.inverse) [fg, bg] = [bg, fg];
  if (bg !== undefined) out.push(`c-b${nearestAnsi(bg)}`);
  else if (style.inverse) out.push("c-inv");
  else if (fg !== undefined) out.push(`c-f${nearestAnsi(fg)}`);
  else if (style.dim) out.push("c-dim");
  if (style.bold) out.push("c-bold");
  if (style.italic) out.push("c-it");
  if (style.underline) out.push("c-ul");
  if (style.strike) out.push("c-st");
  return out.join(" ");
}

/** The 16 named colours' RGB as xterm draws them, to measure distances against. */
const NAMED = Array.from({ length: 16 }, (_, i) => rgbOf(xtermColor(i)));
const nearestCache = new Map<string, number>();

function rgbOf(hex: string): [number, number, number] {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/**
 * The named colour (0–15) nearest to `color`: itself for 0–15, else by a
 * weighted RGB distance (the "redmean" approximation of perceived
 * difference) to xterm's defaults for them.
 */
export function nearestAnsi(color: Color): number {
  if (typeof color === "number" && color < 16) return color;
  const hex = typeof color === "number" ? xtermColor(color) : color.toLowerCase();
  const known = nearestCache.get(hex);
  if (known !== undefined) return known;
  const [r, g, b] = rgbOf(hex);
  let best = 0;
  let bestD = Infinity;
  for (let i = 0; i < 16; i++) {
    const [r2, g2, b2] = NAMED[i]!;
    const rm = (r + r2) / 2;
    const d = (2 + rm / 256) * (r - r2) ** 2 + 4 * (g - g2) ** 2 +
      (2 + (255 - rm) / 256) * (b - b2) ** 2;
    if (d < bestD) {
      bestD = d;
      best = i;
    }
  }
  if (nearestCache.size < 4096) nearestCache.set(hex, best);
  return best;
}

/**
 * The parts of a summary (`time LEVEL message key=value …`) as segments: the
 * time and the keys soft, the level bold, the message's ANSI colours kept.
 */
export function summarySegments(s: Structured): Segment[] {
  const out: Segment[] = [];
  for (const part of summaryParts(s)) {
    if (out.length > 0) out.push({ text: " ", cls: "" });
    if (part.kind === "time") out.push({ text: part.text, cls: "s-time" });
    else if (part.kind === "level") {
      out.push({ text: part.text, cls: "s-level" });
    } else if (part.kind === "message") out.push(...ansiSegments(part.text));
    else {
      const k = part.key ?? 0;
      if (k > 0) out.push({ text: part.text.slice(0, k), cls: "s-key" });
      if (k < part.text.length) {
        out.push({ text: part.text.slice(k), cls: k > 0 ? "" : "s-key" });
      }
    }
  }
  return out;
}

/** The width of the gutter's columns, in `ch`: the mark column and the toggle column after the numbers. */
export const MARK_CH = 2;
export const TOGGLE_CH = 2;
/** The number column's padding after the digits, in `ch` (as the style sheet's `--num-w`). */
export const NUMBER_PAD_CH = 1.4;

/**
 * Which column of a line's gutter `x` (pixels from the line's left edge)
 * falls in: the number, the mark, the toggle, or the text. `padding` is the
 * line's left padding in pixels (the whole gutter), `digits` the width of the
 * number column in digits, 0 when numbers are not shown.
 * @example
 * ```ts
 * gutterColumn(3, 72, 0);  // "mark": no numbers, the first 2ch
 * gutterColumn(3, 148, 4); // "number"
 * ```
 */
export function gutterColumn(
  x: number,
  padding: number,
  digits: number,
): "number" | "mark" | "toggle" | "text" {
  const numCh = digits > 0 ? digits + NUMBER_PAD_CH : 0;
  const ch = padding / (numCh + MARK_CH + TOGGLE_CH);
  if (x >= padding || x < 0) return "text";
  if (x < numCh * ch) return "number";
  if (x < (numCh + MARK_CH) * ch) return "mark";
  return "toggle";
}
