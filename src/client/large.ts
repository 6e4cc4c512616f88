/**
 * The large-file view's wiring (docs/page.md#the-whole-log-at-any-size), kept out of
 * main.ts: it finds the elements only that view has (the file's scrollbar,
 * the search's panel, Go to time), hands them to {@link BigView},
 * {@link SearchPanel} and {@link GoToTime} with the server's routes from
 * `<body>`'s `data-lines`, `data-search` and `data-time`, and turns their
 * elements' events into calls. main.ts still wires what both views share.
 * @module
 */
import { BigView } from "./bigview.ts";
import { browserTimers, wireBox } from "./browser.ts";
import type { WindowDraw } from "./draw.ts";
import type { GoTo } from "./goto.ts";
import { GoToTime } from "./gotime.ts";
import type { Prefs } from "./prefs.ts";
import { getJson, linesUrl, parseLinesAnswer, parseTimeAnswer, searchEvents, timeUrl } from "./remote.ts";
import { SearchPanel } from "./search.ts";
import type { StatusBar } from "./status.ts";
import type { ReadingTools } from "./tools.ts";

/** What the large-file view needs of the page's other parts. */
export interface LargeDeps {
  body: HTMLElement;
  byId(id: string): HTMLElement;
  prefs: Prefs;
  status: StatusBar;
  /** Late-bound (they are made after this view): the filter box's tools and Go to line. */
  tools(): ReadingTools;
  goTo(): GoTo;
  /** Makes the URL name line `n` (`#L120`). */
  linkTo(n: number): void;
  /** How the window's lines are drawn (reading real logs: src/client/windowlog.ts); plain text when absent. */
  draw?: WindowDraw;
  /** The level the server's search keeps (`&level=`: that level and worse), if any. */
  searchLevel?: () => string | undefined;
}

/** The large-file view's controllers. */
export interface Large {
  view: BigView;
  search: SearchPanel;
  time: GoToTime;
}

/** Builds the large-file view over the page's elements and wires their events. */
export function largeView(deps: LargeDeps): Large {
  const { body, byId } = deps;
  const data = body.dataset;
  const linesPath = data.lines || "lines";
  const view = byId("view");
  const filterBox = byId("filter") as HTMLInputElement;
  body.classList.add("large");

  const big: BigView = new BigView(
    {
      body,
      view,
      pre: byId("content"),
      bar: byId("bar"),
      thumb: byId("thumb"),
      loading: byId("loading"),
      below: byId("below"),
      wrap: byId("wrap") as HTMLInputElement,
      numbers: byId("numbers") as HTMLInputElement,
    },
    {
      shown: (size, total, lastMod) => deps.status.showExtent(size, total, lastMod),
      linked: deps.linkTo,
      said: (message, bad) => deps.goTo().tell(message, bad),
      appended: (lines) => search.appended(lines),
    },
    deps.prefs,
    { lines: (q, signal) => getJson(linesUrl(linesPath, q), parseLinesAnswer, signal) },
    deps.draw,
  );

  const search: SearchPanel = new SearchPanel(
    {
      panel: byId("results"),
      list: byId("matches"),
      progress: byId("results-progress"),
      more: byId("results-more"),
    },
    {
      say: (text, bad) => deps.tools().say(text, bad),
      show: (line) => big.goToOffset(line.offset, line.n),
      marks: (re) => big.setMarks(re),
      resized: () => big.resized(),
    },
    (ask, signal) => searchEvents(data.search || "search", { ...ask, level: deps.searchLevel?.() }, signal),
    browserTimers,
  );

  const time = wireBox(
    byId,
    { button: "time-open", form: "time", input: "time-input", msg: "time-msg" },
    view,
    (dom) =>
      new GoToTime(dom, {
        find: (t) => getJson(timeUrl(data.time || "time", t), parseTimeAnswer),
        go(found) {
          if (found.n !== null) deps.linkTo(found.n);
          big.goToOffset(found.offset, found.n);
        },
      }, browserTimers),
  );

  // ---- events of the elements only this view has ---------------------------
  const bar = byId("bar");
  bar.addEventListener("pointerdown", (ev) => big.barDown(ev));
  bar.addEventListener("pointermove", (ev) => big.barMove(ev));
  bar.addEventListener("pointerup", () => big.barUp());
  bar.addEventListener("pointercancel", () => big.barUp());
  bar.addEventListener("keydown", (ev) => big.barKey(ev));
  view.addEventListener("keydown", (ev) => {
    if (ev.target === view) big.keydown(ev);
  });
  new ResizeObserver(() => big.resized()).observe(view);

  const list = byId("matches");
  list.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") {
      ev.preventDefault();
      ev.stopPropagation();
      filterBox.focus();
    } else search.listKey(ev);
  });
  list.addEventListener("focus", () => search.focused());
  list.addEventListener("click", (ev) => search.clicked(ev));
  byId("results-more").addEventListener("click", () => search.more());
  // From the box: Enter shows the active (at first the newest) match, Down goes into the list.
  filterBox.addEventListener("keydown", (ev) => {
    if (!search.on) return;
    if (ev.key === "Enter") {
      ev.preventDefault();
      search.enter();
    } else if (ev.key === "ArrowDown") {
      ev.preventDefault();
      list.focus();
    }
  });

  return { view: big, search, time };
}
