/**
 * The page as a reader uses it (docs/page.md#reading), in Chromium against the real
 * server on every runtime, driven by typing, clicking and keys: the filter
 * (with appends arriving, and a bad regex), changed lines marked after a
 * replacement and an append (also inside the filtered view), pause with
 * three updates and resume, line links (#L120 on load, clicking a number, Go
 * to line by keys, and in tail mode), keyboard-only use, the theme toggle,
 * and axe-core on the page, filtered, dark, and in its error state.
 * Screenshots of the filter and of changed lines go to docs/ (the first
 * runtime's), at a fixed size.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { RUNTIMES, type Server, startServer, tempFile, waitFor } from "../helpers/harness.ts";
import { ARTIFACTS, launchChromium, type Watched, watchedPage } from "../helpers/chromium.ts";
import { axeViolations } from "../helpers/axe.ts";
import type { Browser, Page } from "playwright-core";
import { ROOT } from "../helpers/harness.ts";

// deno-lint-ignore no-explicit-any
declare const document: any;
// deno-lint-ignore no-explicit-any
declare const CSS: any;
// deno-lint-ignore no-explicit-any
declare const getComputedStyle: (el: unknown) => any;
// deno-lint-ignore no-explicit-any
declare const location: any;
// deno-lint-ignore no-explicit-any
declare const innerHeight: any;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const DOCS = `${ROOT}docs/`;

/** What a reader sees of the reading features. */
interface Reading {
  status: string;
  /** The lines on screen: the filtered pane's when it shows, else the content's. */
  lines: string[];
  filtered: boolean;
  count: string;
  countBad: boolean;
  invalid: string | null;
  marks: string[];
  /** Text of the ranges marked as changed (CSS highlight "fw-changed"). */
  changed: string[];
  waiting: string;
  paused: string | null;
  target: string | null;
  targetVisible: boolean;
  hash: string;
  focus: string;
}

function reading(page: Page): Promise<Reading> {
  return page.evaluate(() => {
    const $ = (id: string) => document.getElementById(id);
    const filtered = !$("filtered").hidden;
    const lines = filtered
      ? [...$("filtered").querySelectorAll(".l")].map((l: { textContent: string }) => l.textContent)
      : ($("content").textContent as string).split("\n").filter((_: string, i: number, a: string[]) =>
        i < a.length - 1 || a[i] !== ""
      );
    const hl = CSS.highlights?.get("fw-changed");
    const target = document.querySelector(".target");
    const r = target?.getBoundingClientRect();
    const a = document.activeElement;
    return {
      status: $("status").dataset.state,
      lines,
      filtered,
      count: $("filter-count").textContent,
      countBad: $("filter-count").classList.contains("bad"),
      invalid: $("filter").getAttribute("aria-invalid"),
      marks: [...document.querySelectorAll("#filtered mark")].map((m: { textContent: string }) => m.textContent),
      changed: hl ? [...hl].map((x: { toString(): string }) => x.toString()) : [],
      waiting: $("waiting").textContent,
      paused: $("pause").getAttribute("aria-pressed"),
      target: target ? target.dataset.n : null,
      targetVisible: !!r && r.top >= 0 && r.bottom <= innerHeight,
      hash: location.hash,
      focus: a ? (a.id || a.tagName) : "",
    };
  });
}

async function until(page: Page, what: string, pred: (s: Reading) => boolean, ms = 8_000): Promise<Reading> {
  let last: Reading | undefined;
  try {
    return (await waitFor(
      async () => {
        last = await reading(page);
        return pred(last) ? last : null;
      },
      ms,
      what,
    ))!;
  } catch (e) {
    const s = last ? { ...last, lines: last.lines.slice(0, 8) } : undefined;
    throw new Error(`${(e as Error).message}; last seen: ${JSON.stringify(s)}`);
  }
}

interface Case {
  w: Watched;
  page: Page;
  server: Server;
  file: string;
}

const LOG = Array.from(
  { length: 12 },
  (_, i) =>
    `2024-05-0${1 + (i % 9)}T12:00:${String(10 + i).padStart(2, "0")}Z ${i % 4 === 3 ? "ERROR" : "INFO"} worker[${
      i % 3
    }] request ${i * 37} served in ${(i * 7) % 50} ms`,
).join("\n") + "\n";

for (const rt of RUNTIMES) {
  const shots = rt === RUNTIMES[0]; // one runtime writes docs/ screenshots
  Deno.test({ name: `[${rt}] reading page in Chromium`, sanitizeOps: false, sanitizeResources: false }, async (t) => {
    const browser: Browser = await launchChromium();
    const step = async (
      name: string,
      content: string,
      fn: (c: Case) => Promise<void>,
      opts: { hash?: string; colorScheme?: "light" | "dark"; args?: string[] } = {},
    ) => {
      await t.step({
        name,
        sanitizeOps: false,
        sanitizeResources: false,
        fn: async () => {
          const file = await tempFile(content, "app.log");
          const server = await startServer(rt, { file, args: ["--poll", "200ms", ...opts.args ?? []] });
          const w = await watchedPage(browser, { colorScheme: opts.colorScheme });
          try {
            await w.page.goto(server.url + (opts.hash ?? ""));
            await waitFor(() => reading(w.page).then((s) => s.status === "connected"), 8_000, "connected");
            await fn({ w, page: w.page, server, file });
            assertEquals(w.pageErrors, [], "no uncaught errors in the page");
            assertEquals(w.cspViolations, [], "no Content-Security-Policy violations");
          } catch (e) {
            const slug = name.replace(/[^a-z0-9]+/gi, "-").slice(0, 60);
            await Deno.mkdir(ARTIFACTS, { recursive: true });
            await w.page.screenshot({ path: `${ARTIFACTS}failed-${rt}-${slug}.png` }).catch(() => {});
            throw e;
          } finally {
            await w.context.close();
            await server.stop();
            await Deno.remove(file.replace(/\/[^/]+$/, ""), { recursive: true });
          }
        },
      });
    };
    try {
      await step(
        "the filter: typing shows matching lines with marks and a count; later lines are filtered too; Esc clears",
        LOG,
        async (c) => {
          await c.page.press("#view", "/");
          assertEquals((await reading(c.page)).focus, "filter", "/ focuses the filter");
          await c.page.keyboard.type("error");
          let s = await until(c.page, "three ERROR lines", (s) => s.count === "3 of 12 lines" && s.lines.length === 3);
          assertEquals(s.count, "3 of 12 lines");
          assert(s.lines.every((l) => l.includes("ERROR")), s.lines.join("\n"));
          assertEquals(s.marks, ["ERROR", "ERROR", "ERROR"], "matches marked, case ignored");
          // Match case: "error" no longer matches "ERROR".
          await c.page.click("#case");
          s = await until(c.page, "no match with case", (s) => s.count === "0 of 12 lines");
          await c.page.click("#case");
          await until(c.page, "three again", (s) => s.count === "3 of 12 lines");
          // A regex, then lines arriving later (an append): the match joins, the rest stays out.
          await c.page.fill("#filter", "");
          await c.page.focus("#filter");
          await c.page.keyboard.type("/worker\\[2\\].*served in [0-9] ms/");
          // worker[2] is lines 2, 5, 8, 11; only line 8 was served in one digit of ms.
          s = await until(c.page, "the regex's line", (s) => s.count === "1 of 12 lines" && s.lines.length === 1);
          const before = s.lines.length;
          await sleep(20);
          await Deno.writeTextFile(
            c.file,
            "2024-05-09T12:01:00Z INFO worker[2] request 999 served in 3 ms\n2024-05-09T12:01:01Z INFO worker[1] other\n",
            { append: true },
          );
          s = await until(
            c.page,
            "the appended match",
            (s) => s.count === `${before + 1} of 14 lines` && s.lines.length === before + 1,
          );
          assertMatch(s.lines.at(-1)!, /request 999 served in 3 ms/);
          assertEquals(c.w.frames.map((f) => f.type), ["append"], "it came as an append");
          if (shots) {
            await c.page.fill("#filter", "error");
            await until(c.page, "ERROR lines", (s) => s.count === "3 of 14 lines");
            await c.page.setViewportSize({ width: 1000, height: 260 });
            await c.page.screenshot({ path: `${DOCS}filter.png` });
            await c.page.setViewportSize({ width: 1100, height: 640 });
          }
          await c.page.focus("#filter");
          await c.page.keyboard.press("Escape");
          s = await until(c.page, "all lines", (s) => !s.filtered);
          assertEquals(s.lines.length, 14);
          assertEquals(s.count, "");
          assertEquals(await c.page.inputValue("#filter"), "");
        },
      );

      await step("a bad regex says so and does not throw; all lines stay shown", LOG, async (c) => {
        await c.page.click("#filter");
        await c.page.keyboard.type("/(unclosed/");
        const s = await until(c.page, "the error", (s) => s.countBad);
        assertMatch(s.count, /^Invalid regular expression: .*(unterminated group|Unterminated group)/i);
        assertEquals(s.invalid, "true");
        assertEquals(s.filtered, false);
        assertEquals(s.lines.length, 12);
        await c.page.keyboard.press("Backspace");
        await c.page.keyboard.type(")/");
        const ok = await until(c.page, "fixed", (s) => !s.countBad && s.filtered);
        assertEquals(ok.invalid, "false");
        assertEquals(ok.count, "0 of 12 lines");
      });

      await step(
        "after a replacement the changed lines are marked for a moment; after an append the new ones",
        LOG,
        async (c) => {
          const next = LOG.split("\n");
          next[2] = next[2]!.replace("INFO", "WARN") + " (retried)";
          next[6] = "2024-05-07T12:00:16Z INFO worker[0] a line that was not there";
          next.splice(9, 0, "2024-05-01T12:00:19Z INFO worker[1] inserted line");
          await sleep(20);
          await Deno.writeTextFile(c.file, "# header changed\n" + next.slice(1).join("\n"));
          const s = await until(c.page, "marked lines", (s) => s.changed.length > 0);
          const expected = ["# header changed", next[2], next[6], next[9]];
          assertEquals(s.changed, expected, "exactly the changed and inserted lines");
          if (shots) {
            await c.page.setViewportSize({ width: 1000, height: 300 });
            await c.page.screenshot({ path: `${DOCS}changed.png` });
            await c.page.setViewportSize({ width: 1100, height: 640 });
          }
          await until(c.page, "marks gone after a moment", (s) => s.changed.length === 0, 8_000);
          await Deno.writeTextFile(c.file, "new one\nnew two\n", { append: true });
          const a = await until(c.page, "new lines marked", (s) => s.changed.length > 0);
          assertEquals(a.changed, ["new one\nnew two"]);
          assertEquals(c.w.frames.map((f) => f.type), ["content", "append"]);
        },
      );

      await step(
        "with a filter on, the matching lines that changed are marked, after a replacement and after an append",
        LOG,
        async (c) => {
          await c.page.press("#view", "/");
          await c.page.keyboard.type("ERROR");
          await until(c.page, "three ERROR lines", (s) => s.count === "3 of 12 lines");
          const next = LOG.split("\n");
          next[2] = next[2]!.replace("INFO", "WARN"); // changed, but filtered out
          next[7] = next[7]! + " (retried)"; // an ERROR line, changed
          next.splice(9, 0, "2024-05-01T12:00:19Z ERROR worker[1] inserted line");
          await sleep(20);
          await Deno.writeTextFile(c.file, next.join("\n"));
          const s = await until(c.page, "marked lines in the filter", (s) => s.changed.length > 0);
          assert(s.filtered, "still filtered");
          assertEquals(s.count, "4 of 13 lines");
          assertEquals(s.changed, [next[7], next[9]], "the changed lines that match, and only those");
          await until(c.page, "marks gone after a moment", (s) => s.changed.length === 0, 8_000);
          // Stamped like the rest: in a stamped log, a line without a time continues the entry above.
          const added = ["09T12:01:00Z ERROR new one", "09T12:01:01Z INFO not shown", "09T12:01:02Z ERROR new two"]
            .map((l) => `2024-05-${l}`);
          await Deno.writeTextFile(c.file, added.join("\n") + "\n", { append: true });
          const a = await until(c.page, "new matching lines marked", (s) => s.changed.length > 0);
          assertEquals(a.count, "6 of 16 lines");
          assertEquals(a.changed, [added[0], added[2]]);
          assertEquals(c.w.frames.map((f) => f.type), ["content", "append"]);
          // Clearing the filter while they are marked shows them marked in the whole text.
          await c.page.keyboard.press("Escape");
          const all = await until(c.page, "unfiltered", (s) => !s.filtered);
          assertEquals(all.changed, [added.join("\n")]);
        },
      );

      await step("pause holds the view through three changes, says so, and resume shows the newest", LOG, async (c) => {
        await c.page.click("#pause");
        let s = await reading(c.page);
        assertEquals(s.paused, "true");
        for (let i = 1; i <= 3; i++) {
          await sleep(20);
          if (i === 2) await Deno.writeTextFile(c.file, `replaced ${i}\n`);
          else await Deno.writeTextFile(c.file, `line ${i}\n`, { append: true });
          await waitFor(() => c.w.frames.length === i, 5_000, `update ${i} received`);
        }
        s = await until(c.page, "three waiting", (s) => s.waiting === "3 updates waiting");
        assertEquals(s.lines, LOG.trimEnd().split("\n"), "the view held still");
        assertEquals(await c.page.textContent("#pause"), "Resume");
        await c.page.click("#pause");
        s = await until(c.page, "the newest", (s) => s.lines.join("\n") === "replaced 2\nline 3");
        assertEquals(s.waiting, "");
        assertEquals(s.paused, "false");
        // And it is live again.
        await Deno.writeTextFile(c.file, "line 4\n", { append: true });
        await until(c.page, "live again", (s) => s.lines.at(-1) === "line 4");
      });

      const LONG = Array.from({ length: 400 }, (_, i) => `line ${i + 1} ${"·".repeat(i % 17)}`).join("\n") + "\n";
      await step(
        "opening #L120 shows line 120 numbered, in view and marked; clicking a number links it",
        LONG,
        async (c) => {
          const s = await until(c.page, "line 120 marked", (s) => s.target === "120" && s.targetVisible);
          assertEquals(s.hash, "#L120");
          // A line's element holds its newline, so the content's text is the file's.
          assertEquals(await c.page.textContent(".target"), "line 120 " + "·".repeat(119 % 17) + "\n");
          // Click line 150's number (the gutter at its left).
          const line = c.page.locator('#content [data-n="150"]');
          await line.scrollIntoViewIfNeeded();
          await line.click({ position: { x: 4, y: 4 } });
          const t2 = await until(c.page, "line 150 linked", (s) => s.hash === "#L150" && s.target === "150");
          assert(t2.targetVisible);
          // Clicking the text itself is not a link.
          await c.page.locator('#content [data-n="152"]').click({ position: { x: 200, y: 4 } });
          assertEquals((await reading(c.page)).hash, "#L150");
          // A number in the filtered view takes you to the line in context.
          await c.page.fill("#filter", "line 33");
          await until(c.page, "filtered", (s) => s.filtered);
          await c.page.locator('#filtered [data-n="330"]').click({ position: { x: 4, y: 4 } });
          const ctx = await until(
            c.page,
            "line 330 in context",
            (s) => !s.filtered && s.target === "330" && s.targetVisible,
          );
          assertEquals(ctx.hash, "#L330");
        },
        { hash: "#L120" },
      );

      await step(
        "Go to line by keys only: g opens a labelled box, Enter shows and links the line, bad input says why, Esc closes",
        LONG,
        async (c) => {
          const box = () =>
            c.page.evaluate(() => ({
              open: !document.getElementById("goto").hidden,
              expanded: document.getElementById("goto-open").getAttribute("aria-expanded"),
              msg: document.getElementById("goto-msg").textContent,
              invalid: document.getElementById("goto-line").getAttribute("aria-invalid"),
              label: document.getElementById("goto-line").labels?.[0]?.textContent ?? "",
            }));
          assertEquals((await reading(c.page)).focus, "view", "the page starts on the content");
          await c.page.keyboard.press("g");
          assertEquals((await reading(c.page)).focus, "goto-line", "g focuses the box");
          let b = await box();
          assertEquals([b.open, b.expanded, b.label], [true, "true", "Line number"]);
          assertEquals(await axeViolations(c.page), [], "the page with the box open");
          await c.page.keyboard.type("abc");
          await c.page.keyboard.press("Enter");
          b = await box();
          assertEquals([b.msg, b.invalid, b.open], ["“abc” is not a line number", "true", true]);
          assertEquals((await reading(c.page)).hash, "", "no link made");
          await c.page.keyboard.press("Control+A");
          await c.page.keyboard.type("401");
          await c.page.keyboard.press("Enter");
          assertEquals((await box()).msg, "There is no line 401: the file has 400 lines");
          assertEquals(await axeViolations(c.page), [], "the box saying what was wrong");
          await c.page.keyboard.press("Control+A");
          await c.page.keyboard.type("250");
          await c.page.keyboard.press("Enter");
          const s = await until(c.page, "line 250 linked", (s) => s.hash === "#L250" && s.target === "250");
          assert(s.targetVisible, "line 250 is in view");
          assertEquals(s.focus, "view", "back on the content, where PageDown scrolls");
          b = await box();
          assertEquals([b.open, b.expanded, b.msg, b.invalid], [false, "false", "Showing line 250", "false"]);
          // Esc closes it without going anywhere and gives focus back.
          await c.page.keyboard.press("g");
          await c.page.keyboard.type("7");
          await c.page.keyboard.press("Escape");
          b = await box();
          assertEquals([b.open, (await reading(c.page)).focus, (await reading(c.page)).hash], [false, "view", "#L250"]);
          // Typed in the filter, g is a letter.
          await c.page.keyboard.press("/");
          await c.page.keyboard.type("g 3");
          assertEquals(await c.page.inputValue("#filter"), "g 3");
          assertEquals((await box()).open, false, "g in the filter does not open the box");
          // From the filtered view, a line goes back to the whole file.
          await until(c.page, "filtered", (s) => s.filtered);
          await c.page.keyboard.press("Escape"); // clears the filter
          await c.page.keyboard.press("Escape"); // back to the content
          await c.page.keyboard.press("/");
          await c.page.keyboard.type("line 3");
          await until(c.page, "filtered again", (s) => s.filtered);
          await c.page.keyboard.press("Tab"); // to match case, not typing: g is a command there
          await c.page.keyboard.press("g");
          await c.page.keyboard.type("12");
          await c.page.keyboard.press("Enter");
          const t = await until(
            c.page,
            "line 12 in context",
            (s) => !s.filtered && s.target === "12" && s.targetVisible,
          );
          assertEquals(t.hash, "#L12");
        },
      );

      await step(
        "Go to line in tail mode says why line numbers make no links, and opens no box",
        LONG.repeat(20),
        async (c) => {
          await c.page.keyboard.press("g");
          const b = await c.page.evaluate(() => ({
            open: !document.getElementById("goto").hidden,
            msg: document.getElementById("goto-msg").textContent,
            role: document.getElementById("goto-msg").getAttribute("role"),
          }));
          assertEquals(b.open, false);
          assertMatch(b.msg, /^Line links are off: this page shows the last part of the file \(tail mode\)/);
          assertEquals(b.role, "status", "said in a live region");
          assertEquals((await reading(c.page)).hash, "");
          assertEquals(await axeViolations(c.page), [], "the page saying why");
        },
        { args: ["--tail", "4KiB"] },
      );

      await step("keyboard only: every control in order, buttons are buttons, focus is visible", LOG, async (c) => {
        // The page focuses the content on load; Shift+Tab from it walks the log bar and the header backwards.
        for (let i = 0; i < 11; i++) await c.page.keyboard.press("Shift+Tab");
        const order: string[] = [];
        for (let i = 0; i < 12; i++) {
          if (i > 0) await c.page.keyboard.press("Tab");
          const f = await c.page.evaluate(() => {
            const a = document.activeElement;
            return { id: a.id || a.tagName, tag: a.tagName, outline: getComputedStyle(a).outlineStyle };
          });
          order.push(f.id);
          if (f.id !== "view") assert(f.outline !== "none", `${f.id} shows its focus`);
        }
        // The log bar follows the header: the levels this log has, and Marked.
        const bar = ["level-error", "level-info", "marked-only"];
        assertEquals(order, [
          "filter",
          "case",
          "pause",
          "wrap",
          "numbers",
          "goto-open",
          "theme",
          "download",
          ...bar,
          "view",
        ]);
        const tags = await c.page.evaluate(() =>
          ["case", "pause", "goto-open", "theme"].map((id) => document.getElementById(id).tagName)
        );
        assertEquals(tags, ["BUTTON", "BUTTON", "BUTTON", "BUTTON"]);
        // Pause and resume with the keyboard.
        await c.page.focus("#pause");
        await c.page.keyboard.press("Enter");
        assertEquals((await reading(c.page)).paused, "true");
        await c.page.keyboard.press("Space");
        assertEquals((await reading(c.page)).paused, "false");
        // "/" from the content, type, Esc clears, Esc again returns to the content.
        await c.page.focus("#view");
        await c.page.keyboard.press("/");
        await c.page.keyboard.type("worker[1]");
        await until(c.page, "filtered", (s) => s.count === "4 of 12 lines");
        await c.page.keyboard.press("Escape");
        await until(c.page, "cleared", (s) => !s.filtered);
        await c.page.keyboard.press("Escape");
        assertEquals((await reading(c.page)).focus, "view");
      });

      await step("light and dark: the theme button cycles auto, light, dark and is remembered", LOG, async (c) => {
        const bg = () => c.page.evaluate(() => getComputedStyle(document.body).backgroundColor);
        assertEquals(await bg(), "rgb(13, 17, 23)", "dark by the system's setting");
        await c.page.click("#theme");
        assertEquals(await c.page.textContent("#theme"), "Theme: light");
        assertEquals(await bg(), "rgb(255, 255, 255)");
        await c.page.click("#theme");
        assertEquals(await bg(), "rgb(13, 17, 23)");
        await c.page.reload();
        assertEquals(await c.page.textContent("#theme"), "Theme: dark");
        await c.page.click("#theme");
        assertEquals(await c.page.textContent("#theme"), "Theme: auto");
      }, { colorScheme: "dark" });

      for (const scheme of ["light", "dark"] as const) {
        await step(
          `axe-core: no serious or critical violations (${scheme}), filtered, and in the error state`,
          LOG,
          async (c) => {
            assertEquals(await axeViolations(c.page), [], "the page");
            await c.page.fill("#filter", "worker");
            await until(c.page, "filtered", (s) => s.filtered);
            assertEquals(await axeViolations(c.page), [], "filtered, with marks");
            await c.page.fill("#filter", "/(/");
            await until(c.page, "bad regex", (s) => s.countBad);
            assertEquals(await axeViolations(c.page), [], "a bad regex");
            await c.page.fill("#filter", "");
            await Deno.remove(c.file);
            await waitFor(() => c.page.isVisible("#banner"), 5_000, "the error banner");
            await c.page.waitForTimeout(300);
            assertEquals(await axeViolations(c.page), [], "the error state");
          },
          { colorScheme: scheme },
        );
      }
    } finally {
      await browser.close();
    }
  });
}
