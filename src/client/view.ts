/**
 * The text on screen: `<pre id="content">` as blocks of {@link CHUNK_LINES}
 * lines, each a `<span class="chunk">`.
 *
 * A chunk is held one of two ways. Drawn, each line is an element of its
 * own (levels, colours, links, marks, folds: a {@link LineDraw} draws it);
 * not drawn yet, its lines are one text node, which is what keeps a 16 MiB
 * file cheap: the server writes its first paint that way, and the page
 * takes those chunks over as they are. Such a text node's escapes are
 * dropped soon after (in slices, {@link TIDY_MS} at a time), so they are
 * not found or copied.
 * A chunk is drawn when it comes near the screen (an IntersectionObserver),
 * or when a line of it is asked for; the last chunk, where a log grows, is
 * always drawn.
 *
 * Growth is applied in place: new lines are drawn after the last ones and
 * further chunks are added after it (not drawn, but for the new last one);
 * dropped lines leave from the front. Lines already on screen are never
 * rebuilt for an append (only a line that was still open is drawn again), so
 * a reader's selection and the browser's layout of them survive. File data
 * only ever goes into text nodes, never through innerHTML.
 * @module
 */
import { hasEscapes, stripAnsiLines } from "../shared/ansi.ts";
import { CHUNK_LINES, chunkStarts, countNewlines, lineCountDigits } from "../shared/chunks.ts";
import { type LineDraw, lineTextEnd } from "./draw.ts";

export { fillLine } from "./draw.ts";

/** How far from the screen a chunk is drawn: far enough that scrolling does not show one being drawn. */
export const DRAW_MARGIN = "1500px";

/** The longest slice of work dropping the escapes of chunks not drawn, before the page takes its turn again. */
export const TIDY_MS = 8;

/** One chunk on screen. */
interface Chunk {
  el: HTMLElement;
  /** The lines it holds; the last chunk's last line may be open (no newline yet). */
  lines: number;
  /** Its lines are elements of their own (else one text node). */
  drawn: boolean;
}

/** The content pane's DOM, kept equal to the text it is given. */
export class TextView {
  readonly #pre: HTMLElement;
  readonly #reader: LineDraw;
  readonly #observer: IntersectionObserver | null;
  #chunks: Chunk[] = [];
  #byEl = new WeakMap<Element, Chunk>();
  /** Line number of the first line on screen, minus one: lines dropped since the last full render. */
  #base = 0;
  /** Lines on screen (an open last line counted). */
  #count = 0;
  /** The last line on screen has no newline yet: the next text continues it. */
  #open = false;
  /** A slice of dropping escapes is scheduled. */
  #tidying = false;

  /** `scroller` is the element that scrolls the pane (chunks are drawn as they come near its view). */
  constructor(
    pre: HTMLElement,
    reader: LineDraw,
    scroller: HTMLElement | null = null,
  ) {
    this.#pre = pre;
    this.#reader = reader;
    this.#observer = typeof IntersectionObserver === "undefined" ? null : new IntersectionObserver((entries) => {
      for (const e of entries) {
        const chunk = e.isIntersecting ? this.#byEl.get(e.target) : undefined;
        if (chunk) this.#draw(chunk);
      }
    }, { root: scroller, rootMargin: `${DRAW_MARGIN} 0px` });
  }

  /** Shows `text` instead of whatever is on screen. */
  render(text: string): void {
    this.#observer?.disconnect();
    this.#chunks = [];
    this.#byEl = new WeakMap();
    this.#base = 0;
    this.#count = 0;
    this.#open = false;
    this.#pre.replaceChildren();
    this.append(text);
    this.#paintDigits();
  }

  /**
   * Takes over the chunks already in the `<pre>` (the server's HTML) as if
   * {@link render} had built them from `text`, without rebuilding a node: on
   * a 16 MiB file a re-render costs the page hundreds of milliseconds before
   * it answers a key, and makes the browser lay out again what it just laid
   * out. Returns false, changing nothing, when what is there is not exactly
   * what `render(text)` would build (then call that): one `span.chunk` per
   * block of {@link CHUNK_LINES} lines, each holding at most one text node,
   * the plain text of its lines (and, when that differs from them, the lines
   * as they are in `data-raw`). The last chunk is then drawn.
   */
  adopt(text: string): boolean {
    const starts = chunkStarts(text, CHUNK_LINES);
    const els = this.#pre.children;
    if (
      this.#pre.childNodes.length !== els.length || els.length !== starts.length
    ) return false;
    const chunks: Chunk[] = [];
    let count = 0;
    for (let i = 0; i < els.length; i++) {
      const el = els[i] as HTMLElement;
      if (el.tagName !== "SPAN" || el.className !== "chunk" || el.childNodes.length > 1) return false;
      const node = el.firstChild;
      if (node !== null && !(node instanceof Text)) return false;
      const raw = text.slice(starts[i], starts[i + 1] ?? text.length);
      const data = node?.data ?? "";
      // A chunk the server wrote without escapes carries its text as it is in data-raw.
      if (el.dataset.raw === undefined ? data !== raw : el.dataset.raw !== raw || data !== stripAnsiLines(raw)) {
        return false;
      }
      const lines = countNewlines(raw) +
        (raw !== "" && !raw.endsWith("\n") ? 1 : 0);
      chunks.push({ el, lines, drawn: false });
      count += lines;
    }
    this.#observer?.disconnect();
    // The script holds the text as it is now: the page need not.
    for (const c of chunks) delete c.el.dataset.raw;
    this.#chunks = chunks;
    this.#byEl = new WeakMap(chunks.map((c) => [c.el, c]));
    this.#base = 0;
    this.#count = count;
    this.#open = text !== "" && !text.endsWith("\n");
    for (const c of chunks.slice(0, -1)) this.#observer?.observe(c.el);
    const last = chunks.at(-1);
    if (last) this.#draw(last);
    this.#paintDigits();
    this.#tidy();
    return true;
  }

  /** Adds `text` at the end, leaving every line already on screen as it is (but an open last line, drawn again). */
  append(text: string): void {
    if (text === "") return;
    let rest = text;
    if (this.#open) {
      // The first piece finishes (or grows) the open line: drawn again whole.
      const nl = text.indexOf("\n");
      this.#open = nl === -1;
      this.redrawLine(this.#count - 1);
      if (nl === -1) return;
      rest = text.slice(nl + 1);
      if (rest === "") return;
    }
    const added = countNewlines(rest) + (rest.endsWith("\n") ? 0 : 1);
    this.#open = !rest.endsWith("\n");
    const doc = this.#pre.ownerDocument;
    let first = this.#count;
    this.#count += added;
    let left = added;
    let at = 0;
    // The last chunk (drawn) takes lines up to CHUNK_LINES.
    const last = this.#chunks.at(-1);
    if (last && last.lines < CHUNK_LINES) {
      const take = Math.min(left, CHUNK_LINES - last.lines);
      if (!last.drawn) this.#draw(last);
      for (let k = 0; k < take; k++) {
        last.el.append(this.#line(first + k));
        at = rest.indexOf("\n", at) + 1;
      }
      last.lines += take;
      first += take;
      left -= take;
    }
    if (left === 0) return this.#paintDigits();
    // Further chunks: the plain text of their lines, but for the new last one, drawn.
    const tail = rest.slice(at);
    const starts = chunkStarts(tail, CHUNK_LINES);
    const frag = doc.createDocumentFragment();
    for (let i = 0; i < starts.length; i++) {
      const part = tail.slice(starts[i], starts[i + 1] ?? tail.length);
      const lines = countNewlines(part) + (part.endsWith("\n") ? 0 : 1);
      const el = doc.createElement("span");
      el.className = "chunk";
      const chunk: Chunk = { el, lines, drawn: false };
      this.#byEl.set(el, chunk);
      if (i === starts.length - 1) {
        chunk.drawn = true;
        for (let k = 0; k < lines; k++) el.append(this.#line(first + k));
      } else {
        el.append(part);
        this.#observer?.observe(el);
      }
      first += lines;
      this.#chunks.push(chunk);
      frag.append(el);
    }
    this.#pre.append(frag);
    this.#paintDigits();
    this.#tidy();
  }

  /**
   * Removes `text`, which must be what the screen starts with, from the
   * start: whole chunks go, then the first lines of the chunk left; a cut
   * inside a line (one line longer than the page keeps) draws what is left
   * of it again.
   */
  dropFront(text: string): void {
    if (text === "") return;
    const whole = countNewlines(text);
    const cut = !text.endsWith("\n");
    let n = whole;
    while (
      this.#chunks.length > 0 && n >= this.#chunks[0]!.lines &&
      (n > 0 || this.#chunks[0]!.lines === 0)
    ) {
      const c = this.#chunks.shift()!;
      n -= c.lines;
      this.#observer?.unobserve(c.el);
      c.el.remove();
    }
    const first = this.#chunks[0];
    if (first && n > 0) {
      if (first.drawn) {
        for (let i = 0; i < n; i++) first.el.firstElementChild?.remove();
      } else {
        const node = first.el.firstChild as Text;
        let at = 0;
        for (let i = 0; i < n; i++) at = node.data.indexOf("\n", at) + 1;
        node.deleteData(0, at);
      }
      first.lines -= n;
    }
    this.#base += whole;
    this.#count -= whole;
    if (this.#chunks.length === 0) {
      this.#count = 0;
      this.#open = false;
    } else if (cut && first) {
      if (first.drawn) this.redrawLine(0);
      else this.#draw(first);
    }
    // The numbers of the lines left stay as they are: renumbering would rebuild them.
  }

  /** Number of the first line on screen, minus one (lines dropped since the last full render). */
  get base(): number {
    return this.#base;
  }

  /** Draws line `index` (0-based, on screen) again, if its chunk is drawn (else it is drawn when its chunk is). */
  redrawLine(index: number): void {
    const at = this.#locate(index);
    if (!at?.chunk.drawn || !at.el) return;
    this.#fillLine(at.el, index);
  }

  /** Draws every drawn line again (how lines are drawn changed). */
  redraw(): void {
    let first = 0;
    for (const chunk of this.#chunks) {
      if (chunk.drawn) {
        let k = first;
        for (const el of chunk.el.children) {
          this.#fillLine(el as HTMLElement, k++);
        }
      }
      first += chunk.lines;
    }
  }

  /**
   * Where line `index` (0-based, on screen) starts: its chunk, and in it the
   * element of the line (drawn) or the offset in the chunk's text node.
   */
  #locate(
    index: number,
  ): {
    chunk: Chunk;
    first: number;
    node: Node;
    offset: number;
    el: HTMLElement | null;
  } | null {
    let first = 0;
    for (const chunk of this.#chunks) {
      if (index < first + chunk.lines) {
        const k = index - first;
        if (chunk.drawn) {
          const el = chunk.el.children[k] as HTMLElement | undefined;
          return el ? { chunk, first, node: el, offset: 0, el } : null;
        }
        const node = chunk.el.firstChild;
        if (!(node instanceof Text)) return null;
        let at = 0;
        for (let i = 0; i < k; i++) at = node.data.indexOf("\n", at) + 1;
        return { chunk, first, node, offset: at, el: null };
      }
      first += chunk.lines;
    }
    return null;
  }

  /**
   * A Range over lines `from`..`to` (0-based on screen, `to` exclusive), for
   * the CSS Custom Highlight API: marking lines this way changes no node, so
   * the text, a selection and the browser's find stay as they are.
   */
  lineRange(from: number, to: number): Range | null {
    if (to <= from) return null;
    const a = this.#locate(from);
    const b = this.#locate(to - 1);
    if (!a || !b) return null;
    const range = this.#pre.ownerDocument.createRange();
    if (a.el) range.setStart(a.el, 0);
    else range.setStart(a.node, a.offset);
    if (b.el) {
      const end = lineTextEnd(b.el);
      range.setEnd(end.node, end.offset);
    } else {
      const data = (b.node as Text).data;
      const nl = data.indexOf("\n", b.offset);
      range.setEnd(b.node, nl === -1 ? data.length : nl);
    }
    return range;
  }

  /** The element of line `index` (0-based, on screen), its chunk drawn first if need be; null when there is no such line. */
  lineElement(index: number): HTMLElement | null {
    const at = this.#locate(index);
    if (!at) return null;
    if (at.el) return at.el;
    this.#draw(at.chunk, at.first);
    return at.chunk.el.children[index - at.first] as HTMLElement | undefined ??
      null;
  }

  /** The chunk element holding line `index`, to scroll to before it is laid out. */
  chunkOf(index: number): HTMLElement | null {
    return this.#locate(index)?.chunk.el ?? null;
  }

  /** Draws `chunk` (a chunk element of this pane) if it is not; false when it is no chunk of ours. */
  drawChunk(el: Element): boolean {
    const chunk = this.#byEl.get(el);
    if (!chunk) return false;
    this.#draw(chunk);
    return true;
  }

  /** Draws, now, the chunks within the pane's view (and its margin): a frame never shows them undrawn. */
  drawVisible(scroller: HTMLElement): void {
    // A pane not shown (the filter's is) has nothing on screen: its chunks all measure 0 × 0 at the top.
    if (this.#pre.hidden || !this.#pre.isConnected) return;
    const view = scroller.getBoundingClientRect();
    const margin = parseFloat(DRAW_MARGIN);
    for (const chunk of this.#chunks) {
      if (chunk.drawn) continue;
      const r = chunk.el.getBoundingClientRect();
      if (r.bottom >= view.top - margin && r.top <= view.bottom + margin) {
        this.#draw(chunk);
      }
    }
  }

  /**
   * Drops the escapes of chunks not drawn, a slice at a time: written as
   * they are (for speed), they would otherwise be found by the browser's
   * find and copied with a selection of the whole text.
   */
  #tidy(): void {
    if (this.#tidying) return;
    this.#tidying = true;
    const slice = () => {
      const end = performance.now() + TIDY_MS;
      let more = false;
      for (const c of this.#chunks) {
        if (c.drawn) continue;
        const node = c.el.firstChild;
        if (!(node instanceof Text) || !hasEscapes(node.data)) continue;
        if (performance.now() > end) {
          more = true;
          break;
        }
        node.data = stripAnsiLines(node.data);
      }
      this.#tidying = more;
      if (more) setTimeout(slice, 0);
    };
    setTimeout(slice, 0);
  }

  /** A new line element for line `index`. */
  #line(index: number): HTMLElement {
    const span = this.#pre.ownerDocument.createElement("span");
    this.#fillLine(span, index);
    return span;
  }

  #fillLine(el: HTMLElement, index: number): void {
    el.replaceChildren();
    el.className = "ln";
    // A number in an attribute shown by ::before is never selected or copied.
    el.dataset.n = String(this.#base + index + 1);
    this.#reader.draw(el, index, null);
  }

  /** Replaces a chunk's text node with its lines, drawn; `first` is its first line's index when known. */
  #draw(chunk: Chunk, first?: number): void {
    if (chunk.drawn) return;
    if (first === undefined) {
      first = 0;
      for (const c of this.#chunks) {
        if (c === chunk) break;
        first += c.lines;
      }
    }
    const frag = this.#pre.ownerDocument.createDocumentFragment();
    for (let k = 0; k < chunk.lines; k++) frag.append(this.#line(first + k));
    chunk.el.replaceChildren(frag);
    chunk.drawn = true;
    this.#observer?.unobserve(chunk.el);
  }

  #paintDigits(): void {
    // CSSOM, not a style attribute: the CSP forbids the latter.
    this.#pre.style.setProperty(
      "--digits",
      String(Math.max(2, lineCountDigits(this.#base + this.#count))),
    );
  }
}
