/**
 * How one line of the file becomes what its element shows: a list of
 * {@link Piece}s, which the views write as text nodes (never as HTML). Pure,
 * so a renderer is unit-tested without a browser.
 *
 * This is where per-line rendering plugs in: today {@link plainLine} shows a
 * line as it is, with the filter's matches marked; a renderer for log levels,
 * ANSI colours or JSON lines would return pieces with classes. Only lines
 * that have an element of their own (line numbers on, the filtered view) go
 * through a renderer: without numbers the text pane holds 500 lines in one
 * text node, which is what keeps a 16 MiB file cheap (docs/page.md#large-files).
 * @module
 */

/** `[start, end)` character offsets in a line, such as a filter's match. */
export type CharRange = readonly [number, number];

/**
 * One run of a line's text. `mark` shows it as a filter match (`<mark>`);
 * `cls` is a class list for a `<span>` around it (classes, not styles: the
 * page's CSP refuses style attributes).
 */
export interface Piece {
  text: string;
  mark?: boolean;
  cls?: string;
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
