/**
 * Reading real logs in Chromium (docs/page.md#reading-real-logs), against
 * the real server on every runtime: levels drawn in colours that look
 * different and pass contrast, and toggles that hide exactly their entries;
 * ANSI colours as styles with no escape left in what is shown, copied or
 * filtered, and no element made from the text; a JSON log as fields or raw,
 * and a line opened; a stack trace kept with its entry by the filter and the
 * level toggles, folded and unfolded; http(s) links and nothing else; the
 * view's state in a URL that a fresh page reproduces (under --base-path
 * too); marks that survive a reload (in tail mode too, and per file); the
 * hidden tab's title; the keyboard alone; appends; and axe-core in both
 * themes with all of it on. Screenshots of levels, ANSI colours and a JSON
 * line opened go to docs/ (the first runtime's).
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { ROOT, RUNTIMES, type Server, startServer, tempFile, waitFor } from "../helpers/harness.ts";
import { ARTIFACTS, launchChromium, type Watched, watchedPage } from "../helpers/chromium.ts";
import { axeViolations } from "../helpers/axe.ts";
import type { Browser, Page } from "playwright-core";
import { contrast, WCAG_AA } from "../../src/shared/palette.ts";

// deno-lint-ignore no-explicit-any
declare const document: any;
// deno-lint-ignore no-explicit-any
declare const getComputedStyle: (el: unknown, pseudo?: string) => any;
// deno-lint-ignore no-explicit-any
declare const getSelection: () => any;
// deno-lint-ignore no-explicit-any
declare const location: any;

const DOCS = `${ROOT}docs/`;
const E = "\x1b";

/** A log of every level, colours, a stack trace, links and things that must not become links. */
const LOG = [
  "2024-06-12T10:00:00.000Z INFO  server started on https://example.com/app (pid 4242)",
  "2024-06-12T10:00:01.000Z DEBUG config read from file:///etc/app.yaml",
  `2024-06-12T10:00:02.000Z ${E}[33mWARN${E}[0m  slow query ${E}[1;31m<script>alert(1)</script>${E}[0m took ${E}[38;2;255;135;0m812 ms${E}[0m`,
  "2024-06-12T10:00:03.000Z ERROR request failed: try javascript:alert(2) or data:text/html,x",
  "java.lang.IllegalStateException: pool exhausted",
  "\tat com.example.Pool.acquire(Pool.java:88)",
  "Caused by: java.net.SocketTimeoutException: connect timed out",
  "\t... 12 more",
  "2024-06-12T10:00:04.000Z TRACE entering handler",
  "2024-06-12T10:00:05.000Z FATAL out of memory",
  `2024-06-12T10:00:06.000Z INFO  ${E}]8;;https://evil.example/${E}\\click here${E}]8;;${E}\\ ${E}[41mon red${E}[0m ${E}(B${E}[?25lok ${E}[7minverse${E}[0m`,
].join("\n") + "\n";

/** Lines before LOG that make it a file over 1 KiB, for the large-file view. */
const FILLER_LINES = 20;
const FILLER = Array.from(
  { length: FILLER_LINES },
  (_, i) => `2024-06-12T09:59:${String(i).padStart(2, "0")}Z INFO  filler ${i}\n`,
)
  .join("");

/** The log up to its stack trace, which is last: lines appended continue it. */
const TRACE_LOG = LOG.split("\n").slice(0, 8).join("\n") + "\n";

/** A JSON-lines log. */
const JSON_LOG = ["info", "warn", "error", "info"].map((level, i) =>
  JSON.stringify({
    time: `2024-06-12T10:00:0${i}Z`,
    level,
    msg: `request ${i} served`,
    path: "/api/orders",
    ms: 10 + i * 7,
    user: { id: 42, tags: ["a", "b"] },
  })
).join("\n") + "\n";

/** A line as the page shows it. */
interface Shown {
  n: string;
  text: string;
  cls: string;
}

/** The lines shown in the pane that shows (folded ones left out), their text without the newline. */
function shownLines(page: Page): Promise<Shown[]> {
  return page.evaluate(() => {
    const filtered = document.getElementById("filtered");
    const pane = filtered.hidden ? document.getElementById("content") : filtered;
    return [...pane.querySelectorAll(".ln")]
      // Not shown: no box (display: none), or none of height (the large-file view's hidden lines).
      .filter((l: { getClientRects(): unknown[]; offsetHeight: number }) =>
        l.getClientRects().length > 0 && l.offsetHeight > 0
      )
      .map((l: { dataset: { n: string }; className: string; firstChild: unknown; childNodes: unknown[] }) => {
        // The line's own text: its pieces, without the newline and a pretty-printed block.
        let text = "";
        for (
          const c of l.childNodes as {
            nodeType: number;
            classList?: { contains(c: string): boolean };
            textContent: string;
          }[]
        ) {
          if (c.nodeType === 1 && c.classList!.contains("pretty")) continue;
          text += c.textContent;
        }
        return { n: l.dataset.n, text: text.replace(/\n$/, ""), cls: l.className };
      });
  });
}

async function until<T>(
  page: Page,
  what: string,
  fn: () => T | null | false | Promise<T | null | false>,
  ms = 8_000,
): Promise<T> {
  try {
    return await waitFor(fn, ms, what) as T;
  } catch (e) {
    const lines = await shownLines(page).catch(() => []);
    throw new Error(`${(e as Error).message}; lines: ${JSON.stringify(lines.slice(0, 12))}`);
  }
}

/** `rgb(r, g, b)` as `#rrggbb`. */
function hex(rgb: string): string {
  const m = /rgba?\((\d+), (\d+), (\d+)/.exec(rgb);
  if (!m) throw new Error(`not a colour: ${rgb}`);
  return "#" + [m[1], m[2], m[3]].map((x) => Number(x).toString(16).padStart(2, "0")).join("");
}

/** The text colour and the background under `selector` (the first opaque one up its ancestors). */
function colours(page: Page, selector: string): Promise<{ fg: string; bg: string; bar: string; weight: string }> {
  return page.evaluate((sel: string) => {
    const el = document.querySelector(sel);
    let bgEl = el;
    let bg = "rgba(0, 0, 0, 0)";
    while (bgEl) {
      bg = getComputedStyle(bgEl).backgroundColor;
      if (!/rgba\(.*, 0\)$/.test(bg) && bg !== "transparent") break;
      bgEl = bgEl.parentElement;
    }
    const s = getComputedStyle(el);
    return { fg: s.color, bg, bar: s.getPropertyValue("--lvc").trim(), weight: s.fontWeight };
  }, selector);
}

interface Case {
  w: Watched;
  page: Page;
  server: Server;
  file: string;
}

for (const rt of RUNTIMES) {
  const shots = rt === RUNTIMES[0]; // one runtime writes docs/ screenshots
  Deno.test(
    { name: `[${rt}] reading real logs in Chromium`, sanitizeOps: false, sanitizeResources: false },
    async (t) => {
      const browser: Browser = await launchChromium();
      const step = async (
        name: string,
        content: string,
        fn: (c: Case) => Promise<void>,
        opts: { path?: string; colorScheme?: "light" | "dark"; args?: string[]; name?: string } = {},
      ) => {
        await t.step({
          name,
          sanitizeOps: false,
          sanitizeResources: false,
          fn: async () => {
            const file = await tempFile(content, opts.name ?? "app.log");
            const server = await startServer(rt, { file, args: ["--poll", "200ms", ...opts.args ?? []] });
            const w = await watchedPage(browser, { colorScheme: opts.colorScheme });
            try {
              await w.page.goto(server.url + (opts.path ?? ""));
              await until(
                w.page,
                "connected",
                async () => (await w.page.getAttribute("#status", "data-state")) === "connected",
              );
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
        for (const scheme of ["light", "dark"] as const) {
          await step(
            `levels look different and pass contrast (${scheme}); a toggle hides exactly its entries`,
            LOG,
            async (c) => {
              const byLevel: Record<string, { fg: string; bar: string }> = {};
              for (
                const [level, n] of [["info", 1], ["debug", 2], ["warn", 3], ["error", 4], ["trace", 9], ["fatal", 10]]
              ) {
                const sel = `#content [data-n="${n}"]`;
                assertMatch(await c.page.getAttribute(sel, "class") ?? "", new RegExp(`\\blv-${level}\\b`));
                const col = await colours(c.page, sel);
                byLevel[level as string] = { fg: hex(col.fg), bar: col.bar };
                const r = contrast(hex(col.fg), hex(col.bg));
                assert(r >= WCAG_AA, `${level} text ${hex(col.fg)} on ${hex(col.bg)}: ${r.toFixed(2)}`);
              }
              const bars = Object.values(byLevel).map((x) => x.bar);
              assertEquals(new Set(bars).size, 6, `six bar colours: ${bars.join(" ")}`);
              const inks = Object.entries(byLevel).filter(([l]) => l !== "info").map(([, x]) => x.fg);
              assertEquals(new Set(inks).size, 5, "the five levels but info have text colours of their own");
              // The level toggles: counts, and hiding exactly an entry, its trace included.
              const count = (l: string) => c.page.textContent(`#level-${l} .n`);
              assertEquals(await count("info"), "2");
              assertEquals(await count("error"), "1");
              assertEquals(await c.page.isHidden("#level-other"), true, "no toggle for what the log has none of");
              const all = (await shownLines(c.page)).map((l) => l.n);
              assertEquals(all.length, 11);
              await c.page.click("#level-error");
              assertEquals(await c.page.getAttribute("#level-error", "aria-pressed"), "false");
              const noErr = await until(c.page, "error entry hidden", async () => {
                const s = (await shownLines(c.page)).map((l) => l.n);
                return s.length === 6 ? s : null;
              });
              assertEquals(noErr, all.filter((n) => !["4", "5", "6", "7", "8"].includes(n)));
              // By keyboard: Space on a toggle.
              await c.page.focus("#level-info");
              await c.page.keyboard.press("Space");
              const neither = await until(c.page, "info hidden too", async () => {
                const s = (await shownLines(c.page)).map((l) => l.n);
                return s.length === 4 ? s : null;
              });
              assertEquals(neither, ["2", "3", "9", "10"]);
              await c.page.click("#level-error");
              await c.page.click("#level-info");
              await until(c.page, "all again", async () => (await shownLines(c.page)).length === 11);
              // Appended lines are counted and drawn in their level's colour.
              await Deno.writeTextFile(c.file, "2024-06-12T10:00:07.000Z WARN disk 91% full\n", { append: true });
              await until(c.page, "the new warning", async () => (await count("warn")) === "2");
              assertMatch(await c.page.getAttribute('#content [data-n="12"]', "class") ?? "", /\blv-warn\b/);
              if (shots && scheme === "light") {
                await c.page.setViewportSize({ width: 1100, height: 400 });
                await c.page.screenshot({ path: `${DOCS}levels.png` });
              }
            },
            { colorScheme: scheme },
          );
        }

        await step(
          "ANSI colours are styles: no escape shown, copied or filtered, and nothing built from the text",
          LOG,
          async (c) => {
            const text: string = await c.page.evaluate(() => document.getElementById("content").textContent);
            assertEquals(
              text.includes(E) || /\[\d+(;\d+)*m|\]8;;|\[\?25l/.test(text),
              false,
              `escapes in: ${JSON.stringify(text)}`,
            );
            assert(text.includes("slow query <script>alert(1)</script> took 812 ms"), text);
            assert(text.includes("click here on red ok inverse"), "an OSC 8 link shows its text only");
            assertEquals(text.includes("evil.example"), false);
            assertEquals(await c.page.evaluate(() => document.querySelectorAll("#view script, #view img").length), 0);
            // Bold red, as a class: the text's colour is the palette's red, and passes contrast.
            const red = await colours(c.page, '#content [data-n="3"] .c-f1');
            assertEquals(await c.page.textContent('#content [data-n="3"] .c-f1'), "<script>alert(1)</script>");
            assertEquals(red.weight, "700");
            assert(contrast(hex(red.fg), hex(red.bg)) >= WCAG_AA, `${red.fg} on ${red.bg}`);
            // 24-bit orange is drawn as the nearest named colour; a background as a tint under the theme's text.
            assertMatch(await c.page.getAttribute('#content [data-n="3"] span:last-child', "class") ?? "", /^c-f\d+$/);
            const tint = await colours(c.page, '#content [data-n="11"] .c-b1');
            assert(contrast(hex(tint.fg), hex(tint.bg)) >= WCAG_AA, `${tint.fg} on ${tint.bg}`);
            assertEquals(
              await c.page.evaluate(() => document.querySelectorAll("#content [style]").length),
              0,
              "no style attribute",
            );
            // What is copied: the selection's text.
            const copied: string = await c.page.evaluate(() => {
              const r = document.createRange();
              r.selectNodeContents(document.getElementById("content"));
              getSelection().removeAllRanges();
              getSelection().addRange(r);
              return getSelection().toString();
            });
            assertEquals(copied.includes(E), false);
            assert(copied.includes("<script>alert(1)</script> took 812 ms"), copied);
            // What is filtered: the plain text, never an escape.
            await c.page.fill("#filter", "33m");
            await until(
              c.page,
              "nothing matches an escape",
              async () => (await c.page.textContent("#filter-count")) === "0 of 11 lines",
            );
            await c.page.fill("#filter", "script>alert");
            await until(
              c.page,
              "the coloured text matches",
              async () => (await c.page.textContent("#filter-count")) === "1 of 11 lines",
            );
            assertEquals(await c.page.textContent("#filtered mark"), "script>alert");
            await c.page.fill("#filter", "");
            if (shots) {
              await c.page.setViewportSize({ width: 1100, height: 400 });
              await c.page.screenshot({ path: `${DOCS}ansi.png` });
            }
          },
        );

        await step("http and https become links; javascript:, data: and file: stay text", LOG, async (c) => {
          const links = await c.page.evaluate(() =>
            [...document.querySelectorAll("#content a")].map((
              a: { href: string; rel: string; target: string; textContent: string },
            ) => ({
              href: a.href,
              rel: a.rel,
              target: a.target,
              text: a.textContent,
            }))
          );
          assertEquals(links, [{
            href: "https://example.com/app",
            rel: "noopener noreferrer",
            target: "_blank",
            text: "https://example.com/app",
          }]);
          const line4 = (await shownLines(c.page)).find((l) => l.n === "4")!;
          assertMatch(line4.text, /javascript:alert\(2\) or data:text\/html,x$/);
          // A link appended later is a link too.
          await Deno.writeTextFile(
            c.file,
            "2024-06-12T10:00:07.000Z INFO see http://localhost:8080/x?y=1, then stop.\n",
            { append: true },
          );
          await until(
            c.page,
            "the new link",
            async () =>
              (await c.page.getAttribute('#content [data-n="12"] a', "href")) === "http://localhost:8080/x?y=1",
          );
        });

        await step(
          "a stack trace stays with its entry under the filter and the level toggles, and folds",
          TRACE_LOG,
          async (c) => {
            const trace = ["4", "5", "6", "7", "8"];
            await c.page.fill("#filter", "SocketTimeout");
            let s = await until(c.page, "the whole entry", async () => {
              const l = await shownLines(c.page);
              return l.length === 5 ? l : null;
            });
            assertEquals(s.map((l) => l.n), trace);
            assertEquals(await c.page.textContent("#filter-count"), "5 of 8 lines");
            // A frame appended to the entry joins it, filter on.
            await Deno.writeTextFile(c.file, "\tat com.example.Late.frame(Late.java:1)\n", { append: true });
            // (The filtered view builds the lines it adds as they near the screen: wait for all six.)
            s = await until(c.page, "the late frame", async () => {
              const l = await shownLines(c.page);
              return l.length === 6 ? l : null;
            });
            assertEquals(
              s.map((l) => l.n),
              [...trace, "9"],
              "a continuation joins its entry, though it does not match",
            );
            await c.page.fill("#filter", "");
            // The level toggle hides the trace with its entry.
            await c.page.click("#level-error");
            await until(c.page, "no trace", async () => {
              const ns = (await shownLines(c.page)).map((l) => l.n);
              return ns.join() === "1,2,3";
            });
            await c.page.click("#level-error");
            // Fold by the button on the entry's first line…
            const button = '#content [data-n="4"] button.fold';
            assertEquals(await c.page.getAttribute(button, "aria-expanded"), "true");
            await c.page.click(button);
            await until(c.page, "folded", async () => {
              const ns = (await shownLines(c.page)).map((l) => l.n);
              return ns.join() === "1,2,3,4";
            });
            assertEquals(await c.page.getAttribute(button, "aria-expanded"), "false");
            const more = await c.page.evaluate(() =>
              getComputedStyle(document.querySelector('#content [data-n="4"] .more'), "::before").content
            );
            assertMatch(more, /5 more/);
            // …and unfold by the keyboard: the line has the focus, Enter.
            await c.page.focus("#view");
            for (let i = 0; i < 4; i++) await c.page.keyboard.press("j");
            assertEquals(await c.page.evaluate(() => document.activeElement.dataset.n), "4");
            await c.page.keyboard.press("Enter");
            await until(c.page, "unfolded", async () => (await shownLines(c.page)).some((l) => l.n === "6"));
            // Enter on a frame folds its entry; the keyboard goes to the entry's first line.
            await c.page.keyboard.press("j");
            await c.page.keyboard.press("j");
            assertEquals(await c.page.evaluate(() => document.activeElement.dataset.n), "6");
            await c.page.keyboard.press("Enter");
            await until(c.page, "folded again", async () => !(await shownLines(c.page)).some((l) => l.n === "6"));
            assertEquals(await c.page.evaluate(() => document.activeElement.dataset.n), "4");
          },
        );

        await step(
          "a JSON log shows fields or raw, and a line opens pretty-printed (click, or Enter)",
          JSON_LOG,
          async (c) => {
            assertEquals(await c.page.isVisible("#fields"), true);
            assertEquals(await c.page.getAttribute("#fields", "aria-pressed"), "true");
            let s = await shownLines(c.page);
            assertEquals(
              s[1]!.text,
              '2024-06-12T10:00:01Z WARN request 1 served path=/api/orders ms=17 user={"id":42,"tags":["a","b"]}',
            );
            assertMatch(s[1]!.cls, /\blv-warn\b/);
            await c.page.click("#fields");
            s = await until(c.page, "raw", async () => {
              const l = await shownLines(c.page);
              return l[1]!.text.startsWith("{") ? l : null;
            });
            assertEquals(s[1]!.text, JSON_LOG.split("\n")[1]);
            await c.page.click("#fields");
            await until(c.page, "fields again", async () => !(await shownLines(c.page))[1]!.text.startsWith("{"));
            // Open line 3 by its button.
            const open = '#content [data-n="3"] button.open';
            assertEquals(await c.page.getAttribute(open, "aria-expanded"), "false");
            await c.page.click(open);
            await c.page.waitForSelector("#pretty-3");
            assertEquals(await c.page.getAttribute(open, "aria-expanded"), "true");
            assertEquals(await c.page.getAttribute(open, "aria-controls"), "pretty-3");
            assertEquals(await c.page.getAttribute("#pretty-3", "role"), "region");
            const pretty = await c.page.textContent("#pretty-3");
            assertEquals(JSON.parse(pretty!), JSON.parse(JSON_LOG.split("\n")[2]!), "the line's object");
            assert(pretty!.includes('\n  "user": {\n    "id": 42,'), "indented by two spaces a level");
            if (shots) {
              await c.page.setViewportSize({ width: 1100, height: 420 });
              await c.page.screenshot({ path: `${DOCS}json.png` });
            }
            assertEquals(await axeViolations(c.page), [], "a line opened");
            await c.page.click(open);
            await until(c.page, "closed", async () => (await c.page.$("#pretty-3")) === null);
            // Enter on the keyboard's line opens it; a click on a line's text too.
            await c.page.focus("#view");
            await c.page.keyboard.press("j");
            await c.page.keyboard.press("Enter");
            await c.page.waitForSelector("#pretty-1");
            await c.page.keyboard.press("Enter");
            await until(c.page, "closed by Enter", async () => (await c.page.$("#pretty-1")) === null);
            await c.page.locator('#content [data-n="4"]').click({ position: { x: 300, y: 6 } });
            await c.page.waitForSelector("#pretty-4");
            // The filter reads the lines as written, and marks its matches in what is shown.
            await c.page.fill("#filter", "request 2");
            await until(c.page, "one line", async () => (await c.page.textContent("#filter-count")) === "1 of 4 lines");
            assertEquals(await c.page.textContent("#filtered mark"), "request 2");
            assertMatch((await shownLines(c.page))[0]!.text, /^2024-06-12T10:00:02Z ERROR request 2 served/);
          },
        );

        await step(
          "a copied URL reproduces filter, match case, levels, marked only and pause in a fresh page, under --base-path",
          LOG,
          async (c) => {
            // The server's URL has the prefix.
            assertEquals(new URL(c.server.url).pathname, "/logs/");
            await c.page.fill("#filter", "/ERROR|WARN|TRACE/");
            await c.page.click("#case");
            await c.page.click("#level-trace");
            await c.page.click("#pause");
            const url = await until(c.page, "the URL says it", () => {
              const u = new URL(c.page.url());
              return u.searchParams.get("pause") === "1" && u.searchParams.has("levels") &&
                  u.searchParams.get("case") === "1"
                ? u
                : null;
            });
            assertEquals(url.pathname, "/logs/");
            assertEquals(url.searchParams.get("q"), "/ERROR|WARN|TRACE/");
            assertEquals(url.searchParams.get("levels"), "fatal,error,warn,info,debug,other");
            const before = (await shownLines(c.page)).map((l) => l.n);
            assertEquals(before, ["3", "4", "5", "6", "7", "8"], "WARN and ERROR entries; TRACE hidden by its toggle");
            // Someone else opens it.
            const other = await watchedPage(browser);
            try {
              await other.page.goto(url.href);
              await until(other.page, "the same view", async () => {
                const s = (await shownLines(other.page)).map((l) => l.n);
                return JSON.stringify(s) === JSON.stringify(before);
              });
              assertEquals(await other.page.inputValue("#filter"), "/ERROR|WARN|TRACE/");
              assertEquals(await other.page.getAttribute("#case", "aria-pressed"), "true");
              assertEquals(await other.page.getAttribute("#level-trace", "aria-pressed"), "false");
              assertEquals(await other.page.getAttribute("#pause", "aria-pressed"), "true");
              // Paused: a new line waits.
              await Deno.writeTextFile(c.file, "2024-06-12T10:00:07.000Z ERROR later\n", { append: true });
              await until(
                other.page,
                "waiting",
                async () => (await other.page.textContent("#waiting")) === "1 update waiting",
              );
              assertEquals((await shownLines(other.page)).length, 6);
              assertEquals(other.pageErrors, []);
            } finally {
              await other.context.close();
            }
            // A line link and a time in the URL: #L keeps working, ?t= goes to the first line at or after it.
            await c.page.goto(`${c.server.url}?t=2024-06-12T10:00:04.5Z`);
            await until(
              c.page,
              "the line of that time",
              async () => (await c.page.evaluate(() => document.querySelector(".target")?.dataset.n)) === "10",
            );
            // Both: the line, marked where the levels shown show it.
            await c.page.goto(`${c.server.url}?levels=fatal,trace#L9`);
            await until(
              c.page,
              "#L9 among the levels",
              async () => (await c.page.evaluate(() => document.querySelector("#filtered .target")?.dataset.n)) === "9",
            );
            assertEquals((await shownLines(c.page)).map((l) => l.n), ["9", "10"]);
            assertEquals(new URL(c.page.url()).hash, "#L9");
            // A number clicked there shows the line in its context: every level again.
            await c.page.locator('#filtered [data-n="10"]').click({ position: { x: 4, y: 4 } });
            await until(c.page, "in context", async () => (await shownLines(c.page)).length === 12);
            assertEquals(await c.page.getAttribute("#level-info", "aria-pressed"), "true");
          },
          { args: ["--base-path", "/logs"] },
        );

        await step("marks: m and a click on the gutter, Marked only, and kept across a reload", LOG, async (c) => {
          await c.page.focus("#view");
          await c.page.keyboard.press("j");
          await c.page.keyboard.press("j");
          await c.page.keyboard.press("m");
          await until(
            c.page,
            "line 2 marked",
            async () => (await c.page.getAttribute('#content [data-n="2"]', "class"))?.includes("marked"),
          );
          // The mark column: after the numbers (none here), before the toggles.
          await c.page.locator('#content [data-n="6"]').click({ position: { x: 6, y: 6 } });
          await until(
            c.page,
            "line 6 marked",
            async () => (await c.page.getAttribute('#content [data-n="6"]', "class"))?.includes("marked"),
          );
          assertEquals(await c.page.textContent("#mark-count"), "2");
          assertEquals(new URL(c.page.url()).hash, "", "a mark is not a line link");
          const dot = await c.page.evaluate(() =>
            getComputedStyle(document.querySelector('#content [data-n="2"]')).getPropertyValue("--dot").trim()
          );
          assert(dot !== "transparent" && dot !== "", `the mark shows: ${dot}`);
          await c.page.click("#marked-only");
          const marked = await until(c.page, "marked only", async () => {
            const s = (await shownLines(c.page)).map((l) => l.n);
            return s.length === 6 ? s : null;
          });
          assertEquals(marked, ["2", "4", "5", "6", "7", "8"], "the marked line, and the entry of the marked frame");
          await c.page.reload();
          await until(
            c.page,
            "connected",
            async () => (await c.page.getAttribute("#status", "data-state")) === "connected",
          );
          await until(c.page, "marks kept", async () => {
            const s = await shownLines(c.page);
            return s.filter((l) => /\bmarked\b/.test(l.cls)).map((l) => l.n).join() === "2,6";
          });
          assertEquals(await c.page.getAttribute("#marked-only", "aria-pressed"), "true", "the URL kept Marked only");
          // Unmarked, by the keyboard, it leaves the marked-only view.
          await c.page.click("#marked-only");
          await c.page.focus("#view");
          await c.page.keyboard.press("j");
          await c.page.keyboard.press("j");
          await c.page.keyboard.press("m");
          await until(
            c.page,
            "line 2 unmarked",
            async () => !(await c.page.getAttribute('#content [data-n="2"]', "class"))?.includes("marked"),
          );
          assertEquals(await c.page.textContent("#mark-count"), "1");
        });

        await step(
          "tail mode: lines drawn with their levels as the log grows, and a mark kept by its place in the file",
          Array.from({ length: 300 }, (_, i) => `2024-06-12T10:00:00Z ${i % 3 ? "INFO" : "WARN"} early line ${i}\n`)
            .join(""),
          async (c) => {
            assert(!(await c.page.isHidden("#window")), "tail mode shows the last part");
            await Deno.writeTextFile(c.file, "2024-06-12T10:01:00Z ERROR the one to mark\n", { append: true });
            const n = await until(
              c.page,
              "the new line",
              async () => (await shownLines(c.page)).find((l) => l.text.endsWith("the one to mark"))?.n,
            );
            assertMatch(await c.page.getAttribute(`#content [data-n="${n}"]`, "class") ?? "", /\blv-error\b/);
            await c.page.locator(`#content [data-n="${n}"]`).click({ position: { x: 6, y: 6 } });
            await until(
              c.page,
              "marked",
              async () => (await c.page.getAttribute(`#content [data-n="${n}"]`, "class"))?.includes("marked"),
            );
            // More lines push the window on: the line keeps its mark after a reload, though its number changed.
            await Deno.writeTextFile(c.file, "2024-06-12T10:02:00Z INFO after\n".repeat(40), { append: true });
            await until(c.page, "grown", async () => (await shownLines(c.page)).at(-1)?.text.endsWith("after"));
            await c.page.reload();
            await until(
              c.page,
              "the mark found again",
              async () =>
                (await shownLines(c.page)).find((l) => l.text.endsWith("the one to mark"))?.cls.includes("marked"),
            );
          },
          { args: ["--tail", "4KiB"] },
        );

        await step("a hidden tab counts new lines in its title; seen again, it says no more", LOG, async (c) => {
          assertEquals(await c.page.title(), "app.log — filewatch");
          const visibility = (state: "hidden" | "visible") =>
            c.page.evaluate((s: string) => {
              Object.defineProperty(document, "visibilityState", { configurable: true, get: () => s });
              Object.defineProperty(document, "hidden", { configurable: true, get: () => s === "hidden" });
              document.dispatchEvent(new Event("visibilitychange"));
            }, state);
          await visibility("hidden");
          await Deno.writeTextFile(c.file, "2024-06-12T10:00:07Z INFO a\n2024-06-12T10:00:08Z INFO b\n", {
            append: true,
          });
          await until(c.page, "(2)", async () => (await c.page.title()) === "(2) app.log — filewatch");
          await Deno.writeTextFile(c.file, "2024-06-12T10:00:09Z INFO c\n".repeat(10), { append: true });
          await until(c.page, "(12)", async () => (await c.page.title()) === "(12) app.log — filewatch");
          await visibility("visible");
          await until(c.page, "no count", async () => (await c.page.title()) === "app.log — filewatch");
        });

        await step("several files: each page reads its own log, and keeps its own marks", "", async (c) => {
          // This step runs its own server on a directory.
          const dir = await Deno.makeTempDir({ prefix: "filewatch-browser-reallogs-" });
          await Deno.writeTextFile(`${dir}/a.log`, LOG);
          await Deno.writeTextFile(`${dir}/b.log`, JSON_LOG);
          const server = await startServer(rt, { file: dir, args: ["--poll", "200ms", "--dir"] });
          try {
            await c.page.goto(`${server.url}f/a.log`);
            await until(c.page, "a.log's levels", async () => (await c.page.textContent("#level-error .n")) === "1");
            await c.page.locator('#content [data-n="1"]').click({ position: { x: 6, y: 6 } });
            await until(c.page, "marked", async () => (await c.page.textContent("#mark-count")) === "1");
            await c.page.goto(`${server.url}f/b.log`);
            await until(
              c.page,
              "b.log as fields",
              async () => (await shownLines(c.page))[0]?.text.startsWith("2024-06-12T10:00:00Z INFO"),
            );
            assertEquals(await c.page.textContent("#mark-count"), "0", "b.log has no marks of a.log's");
            assertEquals(await c.page.isHidden("#level-fatal"), true);
          } finally {
            await server.stop();
            await Deno.remove(dir, { recursive: true });
          }
        });

        await step(
          "the large-file view reads real logs too: levels, colours, links, entries, toggles, marks by offset, &level=",
          FILLER + LOG,
          async (c) => {
            const n = (k: number) => String(FILLER_LINES + k); // LOG's line k, numbered in the file
            await until(
              c.page,
              "the window from /lines",
              async () =>
                await c.page.evaluate(() =>
                  document.body.classList.contains("large") &&
                  document.querySelectorAll("#content .ln[data-offset]").length
                ) === FILLER_LINES + 11,
            );
            const cls = (k: number) => c.page.getAttribute(`#content [data-n="${n(k)}"]`, "class");
            assertMatch(await cls(4) ?? "", /\blv-error\b/);
            assertMatch(await cls(6) ?? "", /^(?=.*\bcont\b)(?=.*\blv-error\b)/);
            assertMatch(await cls(3) ?? "", /\blv-warn\b/);
            const text: string = await c.page.evaluate(() => document.getElementById("content").textContent);
            assertEquals(text.includes(E), false, "no escape");
            assert(text.includes("slow query <script>alert(1)</script> took 812 ms"), text);
            assertEquals(await c.page.evaluate(() => document.querySelectorAll("#view script").length), 0);
            assertEquals(await c.page.getAttribute("#content a", "href"), "https://example.com/app");
            assertEquals(await c.page.textContent("#level-error .n"), "1");
            // A level hidden: its entry's lines take no room; the others stay.
            await c.page.click("#level-error");
            await until(c.page, "the error entry hidden", async () => {
              const ns = (await shownLines(c.page)).map((l) => l.n);
              return ns.length === FILLER_LINES + 6 && !ns.includes(n(4)) && !ns.includes(n(8));
            });
            await c.page.click("#level-error");
            // The search on the server asks for the levels shown: ERROR and worse here.
            for (const l of ["warn", "info", "debug", "trace"]) await c.page.click(`#level-${l}`);
            await c.page.fill("#filter", "request");
            const asked = await until(c.page, "a search with a level", () => {
              const r = c.w.requests.find((u) => /\/search\?/.test(u) && /[?&]q=request\b/.test(u));
              return r ?? null;
            });
            assertEquals(new URL(asked).searchParams.get("level"), "error");
            await c.page.fill("#filter", "");
            for (const l of ["warn", "info", "debug", "trace"]) await c.page.click(`#level-${l}`);
            // A mark, by the byte its line starts at: still there after a reload.
            await c.page.locator(`#content [data-n="${n(1)}"]`).click({ position: { x: 6, y: 6 } });
            await until(c.page, "marked", async () => (await cls(1))?.includes("marked"));
            await c.page.reload();
            await until(c.page, "the mark after a reload", async () => (await cls(1))?.includes("marked"), 15_000);
          },
          { args: ["--max-file-size", "1KiB", "--tail", "4KiB"] },
        );

        for (const scheme of ["light", "dark"] as const) {
          await step(
            `axe-core: no serious or critical violations with all of it on (${scheme})`,
            LOG + JSON_LOG,
            async (c) => {
              await c.page.focus("#view");
              await c.page.keyboard.press("j");
              await c.page.keyboard.press("j");
              await c.page.keyboard.press("m");
              await c.page.click('#content [data-n="4"] button.fold');
              await c.page.check("#numbers");
              assertEquals(await axeViolations(c.page), [], "levels, colours, a mark, a fold, numbers");
              await c.page.fill("#filter", "request");
              await c.page.click("#level-info");
              await until(c.page, "filtered", async () => !(await c.page.isHidden("#filtered")));
              assertEquals(await axeViolations(c.page), [], "filtered, a level hidden");
            },
            { colorScheme: scheme },
          );
        }
      } finally {
        await browser.close();
      }
    },
  );
}
