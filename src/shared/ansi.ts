/**
 * ANSI escapes in log lines: SGR colours and attributes become a list of
 * spans `{ text, style }`, where a style is a small data object (never HTML,
 * never CSS text); every other escape sequence is dropped. The plain text of
 * a line (for search, filter and copy) is the concatenation of its spans'
 * texts, which {@link stripAnsi} gives directly.
 *
 * Our own parser rather than npm `anser` (2.3.5) or `ansi_up` (6.0.6):
 * `ansi_up` produces HTML, which the page must never parse; `anser` splits
 * only on `ESC [`, so it leaves OSC sequences in the text (an OSC 8
 * hyperlink's hidden URL would show, and then be linked as if it were the
 * visible text), keeps charset selections (`ESC ( B`) and lone ESC bytes,
 * and turns the colon form `38:2::r:g:b` into visible `38:2::r:g:bm` text.
 * What we need is one small state machine over ECMA-48's sequence shapes,
 * which is this file.
 *
 * Each line is parsed on its own, starting plain: a log line is read alone
 * (filtered, windowed, appended), so a colour never leaks into the next line.
 * @module
 */

/** A colour: an xterm palette index 0–255 (0–15 are the 16 named colours), or `"#rrggbb"`. */
export type Color = number | string;

/**
 * What SGR set for a run of text. Only set attributes are present, so the
 * plain style is `{}`. `inverse` is kept as a flag (the renderer swaps
 * colours); blink and conceal (SGR 5, 6, 8) are ignored on purpose: a log
 * viewer never hides text.
 */
export interface Style {
  readonly fg?: Color;
  readonly bg?: Color;
  readonly bold?: true;
  readonly dim?: true;
  readonly italic?: true;
  readonly underline?: true;
  readonly inverse?: true;
  readonly strike?: true;
}

/** A run of text in one style. */
export interface Span {
  readonly text: string;
  readonly style: Style;
}

/** The style of text no SGR touched. */
export const PLAIN: Style = Object.freeze({});

const ESC = 0x1b;
const BEL = 0x07;
const C1_ST = 0x9c;
/** Anything that makes a line need the scanner: ESC, or a C1 control (U+0080–U+009F). */
// deno-lint-ignore no-control-regex -- finding control characters is the point
const NEEDS_SCAN = /[\x1b\x80-\x9f]/;
/** The same, to step from one to the next (the scanner never re-enters, so one shared lastIndex is safe). */
// deno-lint-ignore no-control-regex -- as above
const NEXT = /[\x1b\x80-\x9f]/g;
/** A parameter larger than this is as invalid as any above 255; capping keeps 1e6-digit numbers cheap. */
const PARAM_CAP = 100_000;

/** True when the line holds an escape or C1 control, i.e. {@link parseAnsi} would change it. */
export function hasEscapes(line: string): boolean {
  return NEEDS_SCAN.test(line);
}

/**
 * Splits a line into styled spans. Adjacent text in the same style is one
 * span; empty spans are never produced (an empty line gives `[]`).
 * @example
 * ```ts
 * parseAnsi("\x1b[1;31mERROR\x1b[0m disk full");
 * // [{ text: "ERROR", style: { fg: 1, bold: true } }, { text: " disk full", style: {} }]
 * ```
 */
export function parseAnsi(line: string): Span[] {
  if (!NEEDS_SCAN.test(line)) return line === "" ? [] : [{ text: line, style: PLAIN }];
  const spans: Span[] = [];
  scan(line, spans);
  return spans;
}

/** The line without escapes: exactly the concatenation of {@link parseAnsi}'s span texts. */
export function stripAnsi(line: string): string {
  if (!NEEDS_SCAN.test(line)) return line;
  return scan(line, null);
}

/** The text of spans, joined. */
export function spansText(spans: readonly Span[]): string {
  let s = "";
  for (const sp of spans) s += sp.text;
  return s;
}

/**
 * The `#rrggbb` xterm gives palette colour `n` (0–255): its 16 defaults, the
 * 6×6×6 cube, the 24 greys. The page may draw 0–15 from its own theme-aware
 * palette instead (they are the colours a program chose by name).
 */
export function xtermColor(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 255) throw new RangeError(`Cannot name palette colour ${n}: expected 0–255`);
  if (n < 16) return BASE16[n]!;
  if (n >= 232) return hex(8 + (n - 232) * 10, 8 + (n - 232) * 10, 8 + (n - 232) * 10);
  const c = n - 16;
  return hex(CUBE[Math.floor(c / 36)]!, CUBE[Math.floor(c / 6) % 6]!, CUBE[c % 6]!);
}

const BASE16 = [
  "#000000",
  "#cd0000",
  "#00cd00",
  "#cdcd00",
  "#0000ee",
  "#cd00cd",
  "#00cdcd",
  "#e5e5e5",
  "#7f7f7f",
  "#ff0000",
  "#00ff00",
  "#ffff00",
  "#5c5cff",
  "#ff00ff",
  "#00ffff",
  "#ffffff",
];
const CUBE = [0, 95, 135, 175, 215, 255];

function hex(r: number, g: number, b: number): string {
  return "#" + ((1 << 24) | (r << 16) | (g << 8) | b).toString(16).slice(1);
}

/** The attributes while scanning; frozen into a {@link Style} when text follows a change. */
class Pen {
  fg: Color | undefined;
  bg: Color | undefined;
  bold = false;
  dim = false;
  italic = false;
  underline = false;
  inverse = false;
  strike = false;

  reset(): void {
    this.fg = this.bg = undefined;
    this.bold =
      this.dim =
      this.italic =
      this.underline =
      this.inverse =
      this.strike =
        false;
  }

  style(): Style {
    const s: { -readonly [K in keyof Style]: Style[K] } = {};
    if (this.fg !== undefined) s.fg = this.fg;
    if (this.bg !== undefined) s.bg = this.bg;
    if (this.bold) s.bold = true;
    if (this.dim) s.dim = true;
    if (this.italic) s.italic = true;
    if (this.underline) s.underline = true;
    if (this.inverse) s.inverse = true;
    if (this.strike) s.strike = true;
    return Object.keys(s).length === 0 ? PLAIN : Object.freeze(s);
  }

  same(s: Style): boolean {
    return s.fg === this.fg && s.bg === this.bg && (s.bold ?? false) === this.bold && (s.dim ?? false) === this.dim &&
      (s.italic ?? false) === this.italic && (s.underline ?? false) === this.underline &&
      (s.inverse ?? false) === this.inverse && (s.strike ?? false) === this.strike;
  }
}

/**
 * The one scanner behind both entry points: with `spans`, it fills them and
 * returns ""; with null, it returns the plain text.
 */
function scan(line: string, spans: Span[] | null): string {
  const pen = spans ? new Pen() : null;
  let style: Style = PLAIN;
  let plain = "";
  let from = 0;
  let i = 0;
  const n = line.length;
  const emit = (end: number) => {
    if (end <= from) return;
    const text = line.slice(from, end);
    if (!spans) {
      plain += text;
      return;
    }
    if (pen && !pen.same(style)) style = pen.style();
    const last = spans[spans.length - 1];
    if (last && last.style === style) spans[spans.length - 1] = { text: last.text + text, style };
    else spans.push({ text, style });
  };
  // Text runs are skipped by a regular expression (native speed), not by a loop in JavaScript.
  while (i < n) {
    NEXT.lastIndex = i;
    const m = NEXT.exec(line);
    if (!m) break;
    i = m.index;
    emit(i);
    if (line.charCodeAt(i) === ESC) {
      i = escape(line, i, pen);
    } else {
      // A C1 control in decoded text: dropped alone, never read as an 8-bit CSI/OSC
      // (UTF-8 terminals do not), so at worst its parameters show as text.
      i++;
    }
    from = i;
  }
  emit(n);
  return plain;
}

/** Reads the escape sequence at `i` (an ESC), applies it if it is SGR, and returns where text resumes. */
function escape(line: string, i: number, pen: Pen | null): number {
  const n = line.length;
  if (i + 1 >= n) return n; // a lone ESC at the end
  const c = line.charCodeAt(i + 1);
  if (c === 0x5b) return csi(line, i + 2, pen); // [
  // OSC ] , DCS P, SOS X, PM ^, APC _: a control string up to its terminator.
  if (c === 0x5d || c === 0x50 || c === 0x58 || c === 0x5e || c === 0x5f) return controlString(line, i + 2);
  if (c >= 0x20 && c <= 0x2f) {
    // nF: intermediates then a final (charset selection ESC ( B, ESC # 8, ESC % G, …).
    let j = i + 1;
    while (j < n && line.charCodeAt(j) >= 0x20 && line.charCodeAt(j) <= 0x2f) j++;
    if (j < n && line.charCodeAt(j) >= 0x30 && line.charCodeAt(j) <= 0x7e) j++;
    return j;
  }
  if (c >= 0x30 && c <= 0x7e) return i + 2; // a two-character escape (ESC 7, ESC =, ESC M, ESC c, a stray ESC \)
  return i + 1; // ESC before a control or non-ASCII character: the ESC alone goes
}

/**
 * A control sequence after `ESC [`: parameter bytes 0x30–0x3F, intermediate
 * bytes 0x20–0x2F, one final byte 0x40–0x7E. Only a plain `m` (no private
 * marker, no intermediates) is SGR. A sequence cut short (by the end of the
 * line or a byte that cannot be in it) is dropped up to that point, and that
 * byte is read as what it is.
 */
function csi(line: string, start: number, pen: Pen | null): number {
  const n = line.length;
  let j = start;
  while (j < n && line.charCodeAt(j) >= 0x30 && line.charCodeAt(j) <= 0x3f) j++;
  const paramsEnd = j;
  while (j < n && line.charCodeAt(j) >= 0x20 && line.charCodeAt(j) <= 0x2f) j++;
  if (j >= n) return n;
  const f = line.charCodeAt(j);
  if (f < 0x40 || f > 0x7e) return j;
  if (f === 0x6d && paramsEnd === j && pen) sgr(line, start, paramsEnd, pen);
  return j + 1;
}

/**
 * A control string (OSC, DCS, …) ends at BEL, `ESC \` or C1 ST; an ESC that
 * starts anything else cancels it, as in a terminal. The whole string goes,
 * so an OSC 8 hyperlink's URL is never text. One that never ends on this line
 * loses only its introducer: its contents stay visible rather than hiding
 * the rest of the line.
 */
function controlString(line: string, start: number): number {
  const n = line.length;
  for (let j = start; j < n; j++) {
    const c = line.charCodeAt(j);
    if (c === BEL || c === C1_ST) return j + 1;
    if (c === ESC) return j + 1 < n && line.charCodeAt(j + 1) === 0x5c ? j + 2 : j;
  }
  return start;
}

/** Default (empty) parameter. */
const NONE = -1;

/**
 * Parses SGR parameters `line[a, b)` (`;`-separated, each possibly with
 * `:` sub-parameters) and applies them. A private marker (`<=>?`) makes the
 * whole sequence not SGR.
 */
function sgr(line: string, a: number, b: number, pen: Pen): void {
  if (a === b) {
    pen.reset();
    return;
  }
  // params[k] is a number, or for the colon form the list of its sub-parameters.
  const params: (number | number[])[] = [];
  let cur = NONE;
  let subs: number[] | null = null;
  for (let j = a; j <= b; j++) {
    const c = j < b ? line.charCodeAt(j) : 0x3b;
    if (c >= 0x30 && c <= 0x39) {
      const d = c - 0x30;
      cur = cur === NONE ? d : cur < PARAM_CAP ? cur * 10 + d : PARAM_CAP;
    } else if (c === 0x3a) {
      (subs ??= []).push(cur);
      cur = NONE;
    } else if (c === 0x3b) {
      if (subs) {
        subs.push(cur);
        params.push(subs);
        subs = null;
      } else params.push(cur);
      cur = NONE;
    } else return; // < = > ?: a private sequence
  }
  for (let k = 0; k < params.length; k++) {
    const p = params[k]!;
    if (typeof p !== "number") {
      colonParam(p, pen);
      continue;
    }
    const code = p === NONE ? 0 : p;
    if (code === 38 || code === 48 || code === 58) {
      // Semicolon form: 38;5;n or 38;2;r;g;b.
      const mode = params[k + 1];
      let color: Color | undefined;
      if (mode === 5) {
        color = paletteIndex(orZero(params[k + 2]));
        k += 2;
      } else if (mode === 2) {
        color = rgb(orZero(params[k + 2]), orZero(params[k + 3]), orZero(params[k + 4]));
        k += 4;
      } else {
        k += 1;
      }
      if (color !== undefined && code !== 58) setColor(pen, code === 38, color);
      continue;
    }
    simple(code, pen);
  }
}

function simple(code: number, pen: Pen): void {
  if (code >= 30 && code <= 37) pen.fg = code - 30;
  else if (code >= 40 && code <= 47) pen.bg = code - 40;
  else if (code >= 90 && code <= 97) pen.fg = code - 90 + 8;
  else if (code >= 100 && code <= 107) pen.bg = code - 100 + 8;
  else {
    switch (code) {
      case 0:
        pen.reset();
        break;
      case 1:
        pen.bold = true;
        break;
      case 2:
        pen.dim = true;
        break;
      case 3:
        pen.italic = true;
        break;
      case 4:
      case 21: // double underline (ECMA-48); some terminals read it as "bold off", rarer in logs
        pen.underline = true;
        break;
      case 7:
        pen.inverse = true;
        break;
      case 9:
        pen.strike = true;
        break;
      case 22:
        pen.bold = pen.dim = false;
        break;
      case 23:
        pen.italic = false;
        break;
      case 24:
        pen.underline = false;
        break;
      case 27:
        pen.inverse = false;
        break;
      case 29:
        pen.strike = false;
        break;
      case 39:
        pen.fg = undefined;
        break;
      case 49:
        pen.bg = undefined;
        break;
    }
  }
}

/** One colon-form parameter: `38:5:n`, `38:2:[cs]:r:g:b`, `4:3` (curly underline), or a code with sub-parameters. */
function colonParam(p: number[], pen: Pen): void {
  const code = p[0] === NONE ? 0 : p[0]!;
  if (code === 38 || code === 48 || code === 58) {
    let color: Color | undefined;
    if (p[1] === 5) color = paletteIndex(orZero(p[2]));
    else if (p[1] === 2) {
      // ITU T.416 puts a colour-space id before r:g:b (usually empty: 38:2::r:g:b);
      // many programs write 38:2:r:g:b. Five or more sub-parameters after 2 is the former.
      const o = p.length >= 6 ? 3 : 2;
      color = rgb(orZero(p[o]), orZero(p[o + 1]), orZero(p[o + 2]));
    }
    if (color !== undefined && code !== 58) setColor(pen, code === 38, color);
    return;
  }
  if (code === 4) {
    pen.underline = p[1] !== 0;
    return;
  }
  simple(code, pen);
}

/** An empty parameter inside a colour counts as 0, as xterm reads it. */
function orZero<T>(v: T): T | 0 {
  return v === NONE ? 0 : v;
}

function setColor(pen: Pen, fg: boolean, color: Color): void {
  if (fg) pen.fg = color;
  else pen.bg = color;
}

function paletteIndex(v: number | number[] | undefined): number | undefined {
  return typeof v === "number" && v >= 0 && v <= 255 ? v : undefined;
}

function rgb(
  r: number | number[] | undefined,
  g: number | number[] | undefined,
  b: number | number[] | undefined,
): string | undefined {
  if (typeof r !== "number" || typeof g !== "number" || typeof b !== "number") return undefined;
  if (r < 0 || r > 255 || g < 0 || g > 255 || b < 0 || b > 255) return undefined;
  return hex(r, g, b);
}

/**
 * A text of several lines without escapes, each line read on its own (as
 * {@link stripAnsi} reads one): what the page writes for text it has not
 * drawn line by line yet, so no escape shows, is found or is copied there.
 */
export function stripAnsiLines(text: string): string {
  if (!NEEDS_SCAN.test(text)) return text;
  return text.split("\n").map(stripAnsi).join("\n");
}
