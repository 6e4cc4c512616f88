/**
 * The text on screen: `<pre id="content">` as blocks of {@link CHUNK_LINES}
 * lines, each a `<span class="chunk">` holding one text node, or one span per
 * line when line numbers are on.
 *
 * Growth is applied in place: new text joins the last chunk's last text node
 * (`appendData`) and further chunks are added after it; dropped lines leave
 * from the front. Nodes already on screen are never rebuilt for an append,
 * so a reader's selection and the browser's layout of them survive. File
 * data only ever goes into text nodes, never through innerHTML.
 *
 * A line with an element of its own (numbers on) is drawn by a
 * {@link LineRenderer} (src/client/render.ts).
 * @module
 */
import { CHUNK_LINES, chunkStarts, countNewlines, lineCountDigits } from "../shared/chunks.ts";
import { type LineRenderer, type Piece, plainLine } from "./render.ts";

/**
 * Writes `pieces` (a {@link LineRenderer}'s) into `el`, which is empty: text as
 * text nodes, marked pieces in `<mark>`, classed ones in `<span class>`.
 */
export function fillLine(el: HTMLElement, pieces: readonly Piece[]): void {
  const doc = el.ownerDocument;
  for (const p of pieces) {
    if (!p.mark && !p.cls) {
      el.append(p.text);
      continue;
    }
    const wrap = doc.createElement(p.mark ? "mark" : "span");
    if (p.cls) wrap.className = p.cls;
    wrap.textContent = p.text;
    el.append(wrap);
  }
}

/** One chunk on screen: its element, how many characters and newlines it holds. */
interface Chunk {
  el: HTMLElement;
  length: number;
  newlines: number;
}

/** The last child of `el` as a text node to append to, added when there is none (an empty element has none). */
function lastText(el: Element): Text {
  const last = el.lastChild;
  if (last instanceof Text) return last;
  const t = el.ownerDocument.createTextNode("");
  el.append(t);
  return t;
}

/** The content pane's DOM, kept equal to the text it is given. */
export class TextView {
  readonly #pre: HTMLElement;
  readonly #render: LineRenderer;
  #chunks: Chunk[] = [];
  #numbers = false;
  /** Line number of the first line on screen, minus one: lines dropped since the last full render. */
  #base = 0;
  /** Newlines on screen. */
  #newlines = 0;
  /** The text on screen is not empty and does not end with a newline: its last line is still open. */
  #open = false;

  constructor(pre: HTMLElement, render: LineRenderer = plainLine) {
    this.#pre = pre;
    this.#render = render;
  }

  /** Whether lines are rendered one span each, numbered. */
  get numbers(): boolean {
    return this.#numbers;
  }

  /** Shows `text` instead of whatever is on screen; `numbers` renders one numbered span per line. */
  render(text: string, numbers: boolean): void {
    this.#numbers = numbers;
    this.#chunks = [];
    this.#base = 0;
    this.#newlines = 0;
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
   * what `render(text, false)` would build (then call that): each child a
   * `span.chunk` with at most one text node, every chunk but the
   * last holding {@link CHUNK_LINES} lines, their text `text`.
   */
  adopt(text: string): boolean {
    const chunks: Chunk[] = [];
    let at = 0;
    let newlines = 0;
    const els = this.#pre.children;
    if (this.#pre.childNodes.length !== els.length) return false; // stray text between chunks
    for (let i = 0; i < els.length; i++) {
      const el = els[i] as HTMLElement;
      if (el.tagName !== "SPAN" || el.className !== "chunk" || el.childNodes.length > 1) return false;
      const node = el.firstChild;
      if (node !== null && !(node instanceof Text)) return false;
      const data = node?.data ?? "";
      if (text.startsWith(data, at) === false) return false;
      const n = countNewlines(data);
      const last = i === els.length - 1;
      if (!last && (n !== CHUNK_LINES || !data.endsWith("\n"))) return false;
      chunks.push({ el, length: data.length, newlines: n });
      at += data.length;
      newlines += n;
    }
    if (at !== text.length) return false;
    // render("") leaves no chunk; the server writes one empty chunk: either is fine to append to.
    this.#numbers = false;
    this.#chunks = chunks;
    this.#base = 0;
    this.#newlines = newlines;
    this.#open = text !== "" && !text.endsWith("\n");
    this.#paintDigits();
    return true;
  }

  /** Adds `text` at the end, leaving every node already on screen as it is (but the last, which grows). */
  append(text: string): void {
    if (text === "") return;
    let at = 0;
    const last = this.#chunks.at(-1);
    if (last && last.newlines < CHUNK_LINES) {
      // Fill the last chunk up to its CHUNK_LINES-th newline.
      let i = -1;
      let room = CHUNK_LINES - last.newlines;
      while (room > 0 && (i = text.indexOf("\n", i + 1)) !== -1) room--;
      const end = room === 0 ? i + 1 : text.length;
      this.#fill(last, text.slice(0, end));
      at = end;
    }
    const rest = text.slice(at);
    if (rest === "") return this.#paintDigits();
    const starts = chunkStarts(rest, CHUNK_LINES);
    const doc = this.#pre.ownerDocument;
    const frag = doc.createDocumentFragment();
    for (let i = 0; i < starts.length; i++) {
      const el = doc.createElement("span");
      el.className = "chunk";
      const chunk: Chunk = { el, length: 0, newlines: 0 };
      this.#fill(chunk, rest.slice(starts[i], starts[i + 1] ?? rest.length));
      this.#chunks.push(chunk);
      frag.append(el);
    }
    this.#pre.append(frag);
    this.#paintDigits();
  }

  /**
   * Removes `text`, which must be what the screen starts with, from the
   * start: whole chunks go, and the first one left loses its first lines
   * (or, for a cut inside a line, its first characters).
   */
  dropFront(text: string): void {
    let n = text.length;
    if (n === 0) return;
    const dropped = countNewlines(text);
    while (this.#chunks.length > 0 && this.#chunks[0]!.length <= n) {
      const c = this.#chunks.shift()!;
      n -= c.length;
      c.el.remove();
    }
    const first = this.#chunks[0];
    if (first && n > 0) {
      const part = text.slice(text.length - n);
      const lines = countNewlines(part);
      if (!this.#numbers) {
        (first.el.firstChild as Text).deleteData(0, n);
      } else {
        // Each whole line is one span; a cut inside a line shortens the next one.
        for (let i = 0; i < lines; i++) first.el.firstElementChild!.remove();
        const cut = part.length - (part.lastIndexOf("\n") + 1);
        if (cut > 0) {
          (first.el.firstElementChild!.firstChild as Text).deleteData(0, cut);
        }
      }
      first.length -= n;
      first.newlines -= lines;
    }
    if (this.#chunks.length === 0) this.#open = false;
    this.#newlines -= dropped;
    // The numbers of the lines left stay as they are: renumbering would rebuild them.
    this.#base += dropped;
  }

  /** Puts `part` at the end of `chunk`: into its text node, or as numbered line spans. */
  #fill(chunk: Chunk, part: string): void {
    if (part === "") return;
    const newlines = countNewlines(part);
    if (!this.#numbers) {
      lastText(chunk.el).appendData(part);
    } else {
      const doc = this.#pre.ownerDocument;
      const lines = part.split("\n");
      if (lines[lines.length - 1] === "") lines.pop(); // a final newline ends a line, it does not start one
      let i = 0;
      if (this.#open && chunk.el.lastElementChild) {
        // The first piece finishes the line left open by the last append. (A
        // renderer that reads the whole line would draw that line again here.)
        lastText(chunk.el.lastElementChild).appendData(lines[0]!);
        i = 1;
      }
      let n = this.#base + this.#newlines + (this.#open ? 1 : 0);
      for (; i < lines.length; i++) {
        const span = doc.createElement("span");
        // A number in an attribute shown by ::before is never selected or copied.
        span.dataset.n = String(++n);
        fillLine(span, this.#render(lines[i]!, []));
        chunk.el.append(span);
      }
    }
    chunk.length += part.length;
    chunk.newlines += newlines;
    this.#newlines += newlines;
    this.#open = !part.endsWith("\n");
  }

  /** Number of the first line on screen, minus one (lines dropped since the last full render). */
  get base(): number {
    return this.#base;
  }

  /**
   * Where line `index` (0-based, on screen) starts: its chunk, and in it the
   * element of the line (numbers on) or the offset in the chunk's text node.
   */
  #locate(index: number): { chunk: Chunk; node: Node; offset: number; el: HTMLElement | null } | null {
    let first = 0;
    for (const chunk of this.#chunks) {
      const lines = chunk.newlines + (chunk === this.#chunks.at(-1) && this.#open ? 1 : 0);
      if (index < first + lines) {
        const k = index - first;
        if (this.#numbers) {
          const el = chunk.el.children[k] as HTMLElement | undefined;
          return el ? { chunk, node: el, offset: 0, el } : null;
        }
        const node = chunk.el.firstChild;
        if (!(node instanceof Text)) return null;
        let at = 0;
        for (let i = 0; i < k; i++) at = node.data.indexOf("\n", at) + 1;
        return { chunk, node, offset: at, el: null };
      }
      first += lines;
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
    if (b.el) range.setEndAfter(b.el);
    else {
      const data = (b.node as Text).data;
      const nl = data.indexOf("\n", b.offset);
      range.setEnd(b.node, nl === -1 ? data.length : nl);
    }
    return range;
  }

  /** The element of line `index` when lines are numbered (null otherwise, or when there is no such line). */
  lineElement(index: number): HTMLElement | null {
    return this.#numbers ? this.#locate(index)?.el ?? null : null;
  }

  /** The chunk element holding line `index`, to scroll to before it is laid out. */
  chunkOf(index: number): HTMLElement | null {
    return this.#locate(index)?.chunk.el ?? null;
  }

  #paintDigits(): void {
    // CSSOM, not a style attribute: the CSP forbids the latter.
    const lines = this.#base + this.#newlines + (this.#open ? 1 : 0);
    this.#pre.style.setProperty(
      "--digits",
      String(Math.max(2, lineCountDigits(lines))),
    );
  }
}
