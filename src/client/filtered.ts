/**
 * The filtered view: only the lines shown (those that match the filter, of
 * the levels shown, marked: whole entries at a time), numbered, with the
 * matches marked. A filter that matches 200k lines must not build 200k
 * elements per keystroke: the lines go into blocks of {@link FILTER_CHUNK},
 * and a block's lines are built only when it comes near the screen (an
 * IntersectionObserver); until then an empty block holds their height.
 * @module
 */
import { inRanges, type LineRange } from "./changes.ts";
import { lineCountDigits } from "../shared/chunks.ts";
import { type LineDraw, lineTextEnd } from "./draw.ts";
import { DRAW_MARGIN } from "./view.ts";

/** Matching lines per block of the filtered view. */
export const FILTER_CHUNK = 200;

/** The `<pre id="filtered">` pane. */
export class FilteredView {
  readonly #pre: HTMLElement;
  readonly #observer: IntersectionObserver;
  readonly #reader: LineDraw;
  /** Line indexes (on screen, 0-based) shown, in order. */
  hits: number[] = [];
  #base = 0;
  #re: RegExp | null = null;
  #blocks: HTMLElement[] = [];
  #built = new WeakSet<Element>();
  #target: number | null = null;
  /** Called after a block's lines were built (they were not on screen before): the page re-marks changed lines. */
  onBuild: () => void = () => {};

  constructor(pre: HTMLElement, scroller: HTMLElement, reader: LineDraw) {
    this.#pre = pre;
    this.#reader = reader;
    this.#observer = new IntersectionObserver((entries) => {
      for (const e of entries) if (e.isIntersecting) this.#build(e.target as HTMLElement);
    }, { root: scroller, rootMargin: `${DRAW_MARGIN} 0px` });
  }

  /** Shows the lines at `hits`, marking `re`'s matches (null: none); `base` + index + 1 is a line's number. */
  show(base: number, hits: number[], re: RegExp | null): void {
    this.#observer.disconnect();
    this.#base = base;
    this.#re = re;
    this.hits = hits;
    this.#blocks = [];
    this.#built = new WeakSet();
    this.#pre.replaceChildren();
    this.#add(0);
    this.#digits();
  }

  /**
   * The lines from index `from` on changed or arrived (an append): hits at or
   * after `from` are replaced by `more`; only the blocks from the first
   * touched are rebuilt.
   */
  extend(from: number, more: number[]): void {
    let keep = this.hits.length;
    while (keep > 0 && this.hits[keep - 1]! >= from) keep--;
    const firstTouched = Math.floor(keep / FILTER_CHUNK);
    // Blocks from the one holding the first removed hit are rebuilt.
    for (const el of this.#blocks.splice(firstTouched)) {
      this.#observer.unobserve(el);
      el.remove();
    }
    this.hits.length = keep;
    for (const h of more) this.hits.push(h);
    this.#add(firstTouched * FILTER_CHUNK);
    this.#digits();
  }

  /** Marks the line numbered `n` (null: none) in the blocks built and to be built. */
  setTarget(n: number | null): void {
    this.#target = n;
    for (const el of this.#pre.querySelectorAll(".target")) el.classList.remove("target");
    if (n !== null) this.#pre.querySelector(`[data-n="${n}"]`)?.classList.add("target");
  }

  /**
   * Ranges over the built lines whose index (on screen, as in `hits`) is in
   * `ranges` (sorted, disjoint), for the changed-lines highlight. Lines not
   * built yet have no nodes: {@link onBuild} says when they come.
   */
  lineRanges(ranges: readonly LineRange[]): Range[] {
    const out: Range[] = [];
    if (ranges.length === 0) return out;
    const doc = this.#pre.ownerDocument;
    for (const el of this.#blocks) {
      if (!this.#built.has(el)) continue;
      const from = Number(el.dataset.from);
      const first = this.hits[from];
      const last = this.hits[Math.min(from + FILTER_CHUNK, this.hits.length) - 1];
      if (first === undefined || last === undefined) continue;
      // A block whose lines all lie outside the ranges costs two look-ups.
      if (!ranges.some(([s, e]) => s <= last && e > first)) continue;
      let k = from;
      for (const line of el.children) {
        if (inRanges(ranges, this.hits[k++]!)) {
          const r = doc.createRange();
          const end = lineTextEnd(line as HTMLElement);
          r.setStart(line, 0);
          r.setEnd(end.node, end.offset);
          out.push(r);
        }
      }
    }
    return out;
  }

  /** Builds `block` (a block element of this pane) if it is not; false when it is no block of ours. */
  buildBlock(block: Element): boolean {
    if (!this.#blocks.includes(block as HTMLElement)) return false;
    this.#build(block as HTMLElement);
    return true;
  }

  /** The element of line `index` (on screen) when it is shown, its block built first if need be. */
  lineElement(index: number): HTMLElement | null {
    const i = this.hits.indexOf(index);
    const block = i < 0 ? undefined : this.#blocks[Math.floor(i / FILTER_CHUNK)];
    if (!block) return null;
    this.#build(block);
    return block.children[i % FILTER_CHUNK] as HTMLElement | undefined ?? null;
  }

  /** Draws line `index` again where it is built. */
  redrawLine(index: number): void {
    const el = this.#pre.querySelector(`.fchunk.built > [data-n="${this.#base + index + 1}"]`);
    if (el instanceof HTMLElement) this.#fill(el, index);
  }

  /** Draws every built line again (how lines are drawn changed). */
  redraw(): void {
    for (const el of this.#blocks) {
      if (!this.#built.has(el)) continue;
      let k = Number(el.dataset.from);
      for (const line of el.children) this.#fill(line as HTMLElement, this.hits[k++]!);
    }
  }

  /** Empties the pane. */
  clear(): void {
    this.#observer.disconnect();
    this.hits = [];
    this.#blocks = [];
    this.#pre.replaceChildren();
  }

  /** Adds blocks for the hits from `from` on. */
  #add(from: number): void {
    const doc = this.#pre.ownerDocument;
    const frag = doc.createDocumentFragment();
    if (this.hits.length === 0) {
      const p = doc.createElement("span");
      p.className = "empty";
      p.textContent = "No lines match.";
      frag.append(p);
    } else {
      this.#pre.querySelector(".empty")?.remove();
    }
    for (let i = from; i < this.hits.length; i += FILTER_CHUNK) {
      const el = doc.createElement("span");
      el.className = "fchunk";
      el.dataset.from = String(i);
      // CSSOM, not a style attribute: the CSP forbids the latter.
      el.style.setProperty("--n", String(Math.min(FILTER_CHUNK, this.hits.length - i)));
      this.#blocks.push(el);
      frag.append(el);
    }
    this.#pre.append(frag);
    for (const el of this.#blocks.slice(Math.floor(from / FILTER_CHUNK))) this.#observer.observe(el);
  }

  #build(el: HTMLElement): void {
    if (this.#built.has(el)) return;
    this.#built.add(el);
    this.#observer.unobserve(el);
    const doc = this.#pre.ownerDocument;
    const from = Number(el.dataset.from);
    const frag = doc.createDocumentFragment();
    for (let i = from; i < Math.min(from + FILTER_CHUNK, this.hits.length); i++) {
      const span = doc.createElement("span");
      this.#fill(span, this.hits[i]!);
      frag.append(span);
    }
    el.replaceChildren(frag);
    el.classList.add("built");
    this.onBuild();
  }

  #fill(el: HTMLElement, index: number): void {
    el.replaceChildren();
    el.className = "l ln";
    const n = this.#base + index + 1;
    el.dataset.n = String(n);
    if (n === this.#target) el.classList.add("target");
    this.#reader.draw(el, index, this.#re);
  }

  #digits(): void {
    const last = this.hits.at(-1);
    this.#pre.style.setProperty("--digits", String(Math.max(2, lineCountDigits(this.#base + (last ?? 0) + 1))));
  }
}
