/**
 * Drawing a line's pieces into the DOM (src/client/render.ts makes them):
 * {@link fillLine} writes text nodes, `<span class>`, `<mark>` and `<a>`,
 * never HTML, so a line's text only ever reaches the page as text, whatever
 * it holds. The views give each line an element of their own and ask a
 * {@link LineDraw} to draw it; a {@link LineReader} adds what they need to
 * know of the lines held (which to show). src/client/logview.ts is the
 * page's; {@link PlainReader} draws lines as they are, for a view given none.
 * @module
 */
import { hasEscapes, stripAnsi } from "../shared/ansi.ts";
import type { Structured } from "../shared/structured.ts";
import { findUrls } from "../shared/urls.ts";
import { matchRanges } from "./filter.ts";
import type { Lines } from "./lines.ts";
import { ansiSegments, overlay, type Piece, plainLine, summarySegments } from "./render.ts";

/**
 * Writes `pieces` into `el`: text as text nodes, classed pieces in
 * `<span class>`, marked ones in `<mark>`, and consecutive pieces with the
 * same `href` in one `<a>` that opens in a new tab without telling the
 * target where it came from (and that Tab skips unless its line has the
 * keyboard). Only http and https hrefs are made links
 * (src/shared/urls.ts gives no other; anything else is written as text).
 */
export function fillLine(el: HTMLElement, pieces: readonly Piece[]): void {
  const doc = el.ownerDocument;
  let link: HTMLAnchorElement | null = null;
  for (const p of pieces) {
    let into: HTMLElement = el;
    if (p.href !== undefined && /^https?:\/\//i.test(p.href)) {
      if (!link || link.href !== p.href) {
        link = doc.createElement("a");
        link.href = p.href;
        link.rel = "noopener noreferrer";
        link.target = "_blank";
        // Out of the tab order: a screen of log lines may hold hundreds of links. The keyboard's
        // line (src/client/cursor.ts) puts its own back in.
        link.tabIndex = -1;
        el.append(link);
      }
      into = link;
    } else link = null;
    if (!p.mark && !p.cls) {
      into.append(p.text);
      continue;
    }
    const wrap = doc.createElement(p.mark ? "mark" : "span");
    if (p.cls) wrap.className = p.cls;
    wrap.textContent = p.text;
    into.append(wrap);
  }
}

/**
 * Adds a disclosure button (`fold` an entry, `open` a line as JSON) to line
 * element `el` and returns it: out of the tab order, since the line is what
 * takes the focus (Enter works it).
 */
export function toggleButton(
  el: HTMLElement,
  kind: "fold" | "open",
  expanded: boolean,
  label: string,
): HTMLButtonElement {
  const b = el.ownerDocument.createElement("button");
  b.type = "button";
  b.className = `tg ${kind}`;
  b.tabIndex = -1;
  b.setAttribute("aria-expanded", String(expanded));
  b.setAttribute("aria-label", label);
  el.append(b);
  return b;
}

/**
 * Draws a log line's text into `el`: the summary of its fields when it is a
 * structured line (`s`) and `fields` is on, otherwise its text with ANSI
 * colours as classes; matches of `re` marked and URLs made links over either.
 */
export function fillLogLine(
  el: HTMLElement,
  raw: string,
  s: Structured | null,
  fields: boolean,
  re: RegExp | null,
): void {
  const segments = s && fields ? summarySegments(s) : ansiSegments(raw);
  let text = "";
  for (const seg of segments) text += seg.text;
  fillLine(el, overlay(segments, re ? matchRanges(re, text) : [], findUrls(text)));
}

/** Appends an opened line's pretty-printed `text` to `el`: a region named `label`, its id `id` (a button controls it). */
export function appendPretty(el: HTMLElement, id: string, label: string, text: string): void {
  const block = el.ownerDocument.createElement("span");
  block.className = "pretty";
  block.id = id;
  block.setAttribute("role", "region");
  block.setAttribute("aria-label", label);
  block.textContent = text;
  el.append(block);
}

/** Draws the lines a view shows, each into an element of its own. */
export interface LineDraw {
  /**
   * Draws held line `index` (0 = the first line the view holds) into `el`,
   * an empty line element, its text followed by a newline; `re` is the
   * filter whose matches to mark (null: none).
   */
  draw(el: HTMLElement, index: number, re: RegExp | null): void;
}

/** What a view needs to know of the lines it holds: how to draw them, and which to show. */
export interface LineReader extends LineDraw {
  /** The view now holds `lines` (a new text); the first starts at byte `offset` of the file. */
  reset(lines: Lines, offset: number): void;
  /** Lines from `firstChanged` on were added (or the open last line grew). */
  extended(firstChanged: number): void;
  /** The first `count` lines left; the first left starts at byte `offset`; `cut`: it lost its start. */
  dropped(count: number, offset: number, cut: boolean): void;
  /** Whether lines are left out even without a filter (a level hidden, marked lines only). */
  readonly selecting: boolean;
  /**
   * The indexes of the lines to show with the filter `re` (null: none), from
   * the entry holding line `from` on; `from` in the answer is where they
   * replace what was shown.
   */
  select(re: RegExp | null, from?: number): { from: number; hits: number[] };
}

/** Lines as they are (escapes dropped), each matched alone: what a view given no other reader shows. */
export class PlainReader implements LineReader {
  #lines: Lines | null = null;
  readonly selecting = false;

  reset(lines: Lines): void {
    this.#lines = lines;
  }

  extended(): void {}

  dropped(): void {}

  draw(el: HTMLElement, index: number, re: RegExp | null): void {
    const raw = this.#lines?.lines[index] ?? "";
    const text = hasEscapes(raw) ? stripAnsi(raw) : raw;
    fillLine(el, plainLine(text, re ? matchRanges(re, text) : []));
    el.append("\n");
  }

  select(re: RegExp | null, from = 0): { from: number; hits: number[] } {
    const lines = this.#lines?.lines ?? [];
    const hits: number[] = [];
    for (let i = from; i < lines.length; i++) {
      if (!re) hits.push(i);
      else {
        re.lastIndex = 0;
        if (re.test(lines[i]!)) hits.push(i);
      }
    }
    return { from, hits };
  }
}

/**
 * Where a drawn line's text ends in `el`: before the newline that ends it
 * (a pretty-printed block may follow), as a Range boundary, for marks that
 * cover the line and not its line break.
 */
export function lineTextEnd(el: HTMLElement): { node: Node; offset: number } {
  const nodes = el.childNodes;
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i]!;
    if (n.nodeType === 3 && (n as Text).data === "\n") {
      return { node: el, offset: i };
    }
  }
  return { node: el, offset: nodes.length };
}

/** A line of the file as the large-file view holds it (src/shared/answers.ts's `Line` is one). */
export interface WindowLine {
  readonly text: string;
  readonly n: number | null;
  readonly offset: number;
}

/**
 * How the large-file view draws the lines of its window (src/client/windowlog.ts
 * is the page's): each line alone as it arrives, then the window as a whole
 * whenever it changed, for what needs a line's neighbours (entries).
 */
export interface WindowDraw {
  /** Draws `line` into `el`, an empty line element; `re` is the filter whose matches to mark (null: none). */
  line(el: HTMLElement, line: WindowLine, re: RegExp | null): void;
  /** The window is now `lines`, drawn as `els` in the same order. */
  window(lines: readonly WindowLine[], els: readonly HTMLElement[]): void;
}
