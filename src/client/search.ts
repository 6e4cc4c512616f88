/**
 * The filter box on a large file: a search of the whole file on the server
 * (`/search`, streamed as NDJSON), newest matches first, listed with their
 * line numbers as they arrive, with a count and how far the scan has got
 * (docs/page.md#the-whole-log-at-any-size). Enter or a click shows a match in context in
 * the large-file view; lines that arrive later are filtered here, in the
 * page, and listed on top. A new query cancels the running search (its
 * fetch is aborted, which stops the server's scan).
 *
 * The list is one tab stop (a listbox whose active option moves with the
 * arrow keys), not one per match.
 * @module
 */
import type { Timers } from "./dom.ts";
import { askOf, matchesLabel, progressLabel } from "./ask.ts";
import { type Filter, matches, matchRanges } from "./filter.ts";
import type { Line } from "../shared/answers.ts";
import { HttpError, type SearchAsk, type SearchEvent } from "./remote.ts";
import { type LineRenderer, plainLine } from "./render.ts";
import { fillLine } from "./view.ts";
import { lineCountDigits } from "../shared/chunks.ts";

/** Typing pauses this long before a search starts (each keystroke would cancel the last one anyway). */
export const SEARCH_DEBOUNCE_MS = 250;
/** Matches asked of the server at a time; "Search further back" asks for as many again. */
export const SEARCH_LIMIT = 1_000;
/** The most matches listed; past it the oldest leave the list (the count still counts them). */
export const LIST_MAX = 2_000;
/** How many times a search refused for load (429) is tried again, each after the server's Retry-After. */
export const RETRIES = 5;
/** While a search runs, its count is said at most this often (the count is a live region). */
export const COUNT_EVERY_MS = 1_000;

/** Where the search's events come from: `/search` (src/client/remote.ts), or a test's fake. */
export type SearchSource = (ask: SearchAsk, signal: AbortSignal) => AsyncIterable<SearchEvent>;

/** The search's elements (ids as src/page.ts writes them). */
export interface SearchDom {
  /** `#results`: the panel; `#matches`, the listbox; `#results-progress`; `#results-more`. */
  panel: HTMLElement;
  list: HTMLElement;
  progress: HTMLElement;
  more: HTMLElement;
}

/** What the search tells, or asks of, the rest of the page. */
export interface SearchHooks {
  /** The count beside the filter box (`bad`: why there is no search). */
  say(text: string, bad: boolean): void;
  /** Show `line` in its context, marked. */
  show(line: Line): void;
  /** The query to mark in the lines shown (null: none). */
  marks(re: RegExp | null): void;
  /** The panel opened, closed or changed height. */
  resized(): void;
}

/** The server search and its list of matches. */
export class SearchPanel {
  readonly #dom: SearchDom;
  readonly #hooks: SearchHooks;
  readonly #source: SearchSource;
  readonly #timers: Timers;
  readonly #render: LineRenderer;
  #ask: SearchAsk | null = null;
  /** The query as a JavaScript RegExp: marks matches, and filters lines that arrive later. */
  #re: RegExp | null = null;
  #ctl: AbortController | null = null;
  #timer: number | undefined;
  /** Newest first: what the list shows. */
  #items: { line: Line; el: HTMLElement }[] = [];
  #pending: Line[] = [];
  #flushQueued = false;
  #active = -1;
  #count = 0;
  #running = false;
  #next: number | undefined;
  #said = 0;
  #seq = 0;

  constructor(dom: SearchDom, hooks: SearchHooks, source: SearchSource, timers: Timers, render = plainLine) {
    this.#dom = dom;
    this.#hooks = hooks;
    this.#source = source;
    this.#timers = timers;
    this.#render = render;
  }

  /** Whether a query is on (the panel shows). */
  get on(): boolean {
    return this.#ask !== null;
  }

  /** How many matches are counted (found, plus those that arrived later). */
  get count(): number {
    return this.#count;
  }

  /** The filter box changed: search for what it says, after a pause in typing (none: close). */
  run(filter: Filter, text: string, matchCase: boolean): void {
    const ask = askOf(filter, text, matchCase);
    this.#timers.clearTimer(this.#timer);
    if (filter.kind === "error") {
      this.stop();
      this.#hooks.say(
        `Invalid regular expression: ${filter.message.replace(/^Invalid regular expression: /, "")}`,
        true,
      );
      return;
    }
    if (!ask || filter.kind !== "ok") {
      this.stop();
      this.#hooks.say("", false);
      return;
    }
    this.#ctl?.abort();
    this.#re = filter.re;
    this.#hooks.say("Searching…", false);
    this.#timer = this.#timers.setTimer(() => this.#start(ask, undefined), SEARCH_DEBOUNCE_MS);
  }

  /** Stops the search and closes the panel. */
  stop(): void {
    this.#timers.clearTimer(this.#timer);
    this.#ctl?.abort();
    this.#ctl = null;
    this.#ask = null;
    this.#re = null;
    this.#items = [];
    this.#pending = [];
    this.#active = -1;
    this.#count = 0;
    this.#running = false;
    this.#dom.list.replaceChildren();
    this.#dom.list.removeAttribute("aria-activedescendant");
    const wasOpen = !this.#dom.panel.hidden;
    this.#dom.panel.hidden = true;
    this.#hooks.marks(null);
    if (wasOpen) this.#hooks.resized();
  }

  /** "Search further back": the next matches from where the limit stopped the last search. */
  more(): void {
    if (this.#ask && this.#next !== undefined && !this.#running) this.#start(this.#ask, this.#next);
  }

  /** Lines the file gained (newest last): those that match go on top of the list. */
  appended(lines: readonly Line[]): void {
    const re = this.#re;
    if (!re || !this.#ask) return;
    const fresh = lines.filter((l) => matches(re, l.text));
    if (fresh.length === 0) return;
    // A grown last line may be listed already: it is listed once, as it is now.
    const known = new Set(fresh.map((l) => l.offset));
    this.#items = this.#items.filter((it) => {
      if (!known.has(it.line.offset)) return true;
      it.el.remove();
      this.#count--;
      return false;
    });
    const added = fresh.reverse().map((line) => ({ line, el: this.#item(line) }));
    this.#dom.list.prepend(...added.map((a) => a.el));
    this.#items = [...added, ...this.#items];
    if (this.#active >= 0) this.#active += added.length;
    this.#count += added.length;
    this.#trim();
    this.#digits();
    this.#sayCount(true);
  }

  /** Enter in the filter box: shows the active match (the newest when none is). */
  enter(): void {
    if (this.#items.length === 0) return;
    this.#activate(Math.max(0, this.#active));
    this.#showActive();
  }

  /** Keys on the list: arrows, Page keys, Home and End move the active match; Enter shows it. */
  listKey(ev: KeyboardEvent): void {
    const n = this.#items.length;
    if (n === 0) return;
    const page = 10;
    const at = this.#active;
    let to: number | null = null;
    if (ev.key === "ArrowDown") to = at + 1;
    else if (ev.key === "ArrowUp") to = at - 1;
    else if (ev.key === "PageDown") to = at + page;
    else if (ev.key === "PageUp") to = at - page;
    else if (ev.key === "Home") to = 0;
    else if (ev.key === "End") to = n - 1;
    else if (ev.key === "Enter") {
      ev.preventDefault();
      if (at < 0) this.#activate(0);
      this.#showActive();
      return;
    }
    if (to === null) return;
    ev.preventDefault();
    this.#activate(Math.max(0, Math.min(n - 1, to)));
  }

  /** The list got the focus: some match is active, so the arrow keys have somewhere to start. */
  focused(): void {
    if (this.#active < 0 && this.#items.length > 0) this.#activate(0);
  }

  /** A click on a match: it becomes active and is shown. */
  clicked(ev: MouseEvent): void {
    const li = (ev.target as Element).closest?.("[role=option]");
    if (!li) return;
    const i = this.#items.findIndex((it) => it.el === li);
    if (i < 0) return;
    this.#activate(i);
    this.#showActive();
  }

  #start(ask: SearchAsk, from: number | undefined): void {
    this.#ctl?.abort();
    const ctl = new AbortController();
    this.#ctl = ctl;
    const seq = ++this.#seq;
    if (from === undefined) {
      this.#ask = ask;
      this.#items = [];
      this.#pending = [];
      this.#active = -1;
      this.#count = 0;
      this.#dom.list.replaceChildren();
      this.#dom.list.removeAttribute("aria-activedescendant");
      this.#hooks.marks(this.#re);
    }
    this.#next = undefined;
    this.#running = true;
    this.#dom.more.hidden = true;
    this.#dom.progress.textContent = "searching…";
    if (this.#dom.panel.hidden) {
      this.#dom.panel.hidden = false;
      this.#hooks.resized();
    }
    void this.#stream({ ...ask, from, limit: SEARCH_LIMIT }, ctl, seq, 0);
  }

  async #stream(ask: SearchAsk, ctl: AbortController, seq: number, tries: number): Promise<void> {
    const mine = () => seq === this.#seq && !ctl.signal.aborted;
    try {
      for await (const ev of this.#source(ask, ctl.signal)) {
        if (!mine()) return;
        if (ev.kind === "match") this.#found(ev.line);
        else if (ev.kind === "progress") this.#dom.progress.textContent = progressLabel(ev.scanned, ev.size);
        else {
          this.#flush();
          this.#running = false;
          this.#next = ev.next;
          this.#dom.more.hidden = ev.next === undefined;
          this.#dom.progress.textContent = ev.error
            ? `stopped: ${ev.error}`
            : ev.next !== undefined
            ? "the newest matches; more further back"
            : "searched the whole file";
          this.#sayCount(true);
          return;
        }
      }
      if (!mine()) return;
      this.#flush();
      this.#running = false;
      this.#dom.progress.textContent = "the search ended early";
      this.#sayCount(true);
    } catch (e) {
      if (!mine()) return;
      this.#flush();
      this.#running = false;
      if (e instanceof HttpError && e.status === 429 && tries < RETRIES) {
        // Too many searches at once (this address's, or the server's): the server says why and when to come back.
        const wait = Math.max(1_000, e.retryAfterMs ?? 2_000);
        this.#hooks.say(`${e.reason}; trying again in ${Math.ceil(wait / 1000)} s`, true);
        this.#dom.progress.textContent = "waiting for the server";
        this.#timer = this.#timers.setTimer(() => {
          if (mine()) {
            this.#running = true;
            void this.#stream(ask, ctl, seq, tries + 1);
          }
        }, wait);
        return;
      }
      const why = e instanceof Error ? e.message : String(e);
      this.#hooks.say(e instanceof HttpError && e.status === 400 ? why : `Search failed: ${why}`, true);
      this.#dom.progress.textContent = "";
    }
  }

  /** A match from the stream: listed at the bottom (the stream goes from newer to older). */
  #found(line: Line): void {
    this.#count++;
    this.#pending.push(line);
    this.#sayCount(false);
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    // One DOM update per frame, however fast the matches come.
    requestAnimationFrame(() => this.#flush());
  }

  #flush(): void {
    this.#flushQueued = false;
    if (this.#pending.length === 0) return;
    const room = LIST_MAX - this.#items.length;
    const add = this.#pending.slice(0, Math.max(0, room));
    this.#pending = [];
    const items = add.map((line) => ({ line, el: this.#item(line) }));
    this.#dom.list.append(...items.map((it) => it.el));
    this.#items.push(...items);
    this.#digits();
  }

  #trim(): void {
    for (const it of this.#items.splice(LIST_MAX)) it.el.remove();
    if (this.#active >= this.#items.length) this.#activate(this.#items.length - 1);
  }

  #item(line: Line): HTMLElement {
    const li = this.#dom.list.ownerDocument.createElement("li");
    li.id = `match-${++this.#ids}`;
    li.setAttribute("role", "option");
    li.setAttribute("aria-selected", "false");
    li.className = "l";
    li.dataset.n = line.n === null ? "" : String(line.n);
    fillLine(li, this.#render(line.text, this.#re ? matchRanges(this.#re, line.text) : []));
    return li;
  }
  #ids = 0;

  #activate(i: number): void {
    const old = this.#items[this.#active];
    if (old) {
      old.el.classList.remove("active");
      old.el.setAttribute("aria-selected", "false");
    }
    this.#active = i;
    const it = this.#items[i];
    if (!it) return this.#dom.list.removeAttribute("aria-activedescendant");
    it.el.classList.add("active");
    it.el.setAttribute("aria-selected", "true");
    this.#dom.list.setAttribute("aria-activedescendant", it.el.id);
    it.el.scrollIntoView?.({ block: "nearest" });
  }

  #showActive(): void {
    const it = this.#items[this.#active];
    if (it) this.#hooks.show(it.line);
  }

  #sayCount(now: boolean): void {
    const t = Date.now();
    if (!now && t - this.#said < COUNT_EVERY_MS) return;
    this.#said = t;
    const label = matchesLabel(this.#count);
    this.#hooks.say(this.#running ? `${label} so far…` : label, false);
  }

  #digits(): void {
    const widest = this.#items.reduce((m, it) => Math.max(m, it.line.n ?? 0), 0);
    this.#dom.list.style.setProperty("--digits", String(Math.max(2, lineCountDigits(widest))));
  }
}
