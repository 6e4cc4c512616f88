/**
 * The reading tools in the header: the filter box, match case, and Pause
 * (docs/page.md#reading). They hold what the reader asked for; what is shown
 * follows through {@link ToolsHooks}: the content pane applies the filter,
 * and resuming hands it what waited.
 * @module
 */
import type { El, Field } from "./dom.ts";
import { countLabel, type Filter, parseFilter } from "./filter.ts";
import { PauseQueue, type Shown, waitingLabel } from "./pause.ts";

/** The elements of the reading tools (ids as src/page.ts writes them). */
export interface ToolsDom {
  /** `#filter`, `#case` (aria-pressed), and `#filter-count` (the count, or why the regex is bad). */
  box: Field;
  caseButton: El;
  count: El;
  /** `#pause` (aria-pressed, "Pause"/"Resume"), `#waiting` ("3 updates waiting"). */
  pause: El;
  waiting: El;
  /** `<body>`: the class `paused`. */
  body: El;
}

/** What the tools ask of the rest of the page. */
export interface ToolsHooks {
  /** The filter changed: show the lines it keeps (the pane then reports its count through {@link ReadingTools.count}). */
  filter(filter: Filter): void;
  /** Resumed: show `newest` (everything that arrived while paused, as one change; null when nothing did). */
  resume(newest: Shown | null): void;
}

/** The tools' state as plain data: what a URL could carry, or a test compare. */
export interface ToolsState {
  /** The filter box's text. */
  filter: string;
  matchCase: boolean;
  paused: boolean;
}

/** The filter box, match case and Pause. */
export class ReadingTools {
  readonly #dom: ToolsDom;
  readonly #hooks: ToolsHooks;
  readonly #queue = new PauseQueue();
  #filter: Filter = { kind: "none" };

  constructor(dom: ToolsDom, hooks: ToolsHooks) {
    this.#dom = dom;
    this.#hooks = hooks;
  }

  /** The filter as read from the box. */
  get filter(): Filter {
    return this.#filter;
  }

  get state(): ToolsState {
    return {
      filter: this.#dom.box.value,
      matchCase: this.#matchCase(),
      paused: this.#queue.paused,
    };
  }

  /** Sets the box and match case (as a URL could) and applies them. */
  setFilter(text: string, matchCase: boolean): void {
    this.#dom.box.value = text;
    this.#dom.caseButton.setAttribute("aria-pressed", String(matchCase));
    this.apply();
  }

  /** Reads the box and match case again and applies the filter (the box's `input`). */
  apply(): void {
    this.#filter = parseFilter(this.#dom.box.value, this.#matchCase());
    // A bad regular expression leaves every line shown and says why.
    if (this.#filter.kind !== "ok") this.count(0, 0);
    this.#hooks.filter(this.#filter);
  }

  /** Match case was pressed. */
  toggleCase(): void {
    this.#dom.caseButton.setAttribute("aria-pressed", String(!this.#matchCase()));
    this.apply();
  }

  /** Empties the box; false when it was empty already (Esc then does something else). */
  clear(): boolean {
    if (this.#dom.box.value === "") return false;
    this.#dom.box.value = "";
    this.apply();
    return true;
  }

  /** Puts the cursor in the box with its text selected (the `/` key). */
  focusFilter(): void {
    this.#dom.box.focus();
    this.#dom.box.select();
  }

  /** Paints the count next to the box: `hits` of `total` lines match, or why the filter is not one. */
  count(hits: number, total: number): void {
    const f = this.#filter;
    const d = this.#dom;
    d.count.classList.toggle("bad", f.kind === "error");
    d.box.setAttribute("aria-invalid", String(f.kind === "error"));
    d.count.textContent = f.kind === "error"
      ? `Invalid regular expression: ${f.message.replace(/^Invalid regular expression: /, "")}`
      : f.kind === "ok"
      ? countLabel(hits, total)
      : "";
  }

  /**
   * Paints `text` as the count (the large-file view's search says "12
   * matches", or why it could not search); `bad` marks the box invalid.
   */
  say(text: string, bad: boolean): void {
    const d = this.#dom;
    d.count.classList.toggle("bad", bad);
    d.box.setAttribute("aria-invalid", String(bad));
    d.count.textContent = text;
  }

  /** Pause or Resume was pressed. */
  togglePause(): void {
    const d = this.#dom;
    if (!this.#queue.paused) {
      this.#queue.pause();
      d.pause.setAttribute("aria-pressed", "true");
      d.pause.textContent = "Resume";
      d.body.classList.add("paused");
      return;
    }
    const newest = this.#queue.resume();
    d.pause.setAttribute("aria-pressed", "false");
    d.pause.textContent = "Pause";
    d.waiting.textContent = "";
    d.body.classList.remove("paused");
    this.#hooks.resume(newest);
  }

  /** Keeps `change` while paused (and says how many wait); false: not paused, show it now. */
  hold(change: Shown): boolean {
    if (!this.#queue.push(change)) return false;
    this.#dom.waiting.textContent = waitingLabel(this.#queue.waiting);
    return true;
  }

  #matchCase(): boolean {
    return this.#dom.caseButton.getAttribute("aria-pressed") === "true";
  }
}
