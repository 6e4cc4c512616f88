/**
 * The large-file view (docs/page.md#the-whole-log-at-any-size) in Chromium against real
 * servers on every runtime. A 1 GiB log, written at test time and deleted
 * after: it opens at its end with the last line visible; `#L` of a line in
 * the middle shows it; a jump on the file's scrollbar to the middle shows the
 * lines there; a word that only occurs near the start is found by the server
 * search, listed, and Enter shows it in context; the DOM holds a bounded
 * number of line nodes throughout; following and live appends still work
 * after all that; Go to time on a file without timestamps says the server's
 * reason; axe-core finds nothing serious. A smaller stamped log, under
 * --base-path and as one of several files, goes to a time and searches with
 * match case and a regex; a file over --max-file-size without --tail is read
 * and followed (in tail mode) like any other. The first runtime writes docs/bigfile.png.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { ROOT, RUNTIMES, type Server, startServer, waitFor } from "../helpers/harness.ts";
import { ARTIFACTS, launchChromium, type Watched, watchedPage } from "../helpers/chromium.ts";
import { axeViolations } from "../helpers/axe.ts";
import { type BigLog, writeBigLog } from "../helpers/biglog.ts";
import type { Browser, Page } from "playwright-core";

// deno-lint-ignore no-explicit-any
declare const document: any;
// deno-lint-ignore no-explicit-any
declare const window: any;
// deno-lint-ignore no-explicit-any
declare const MutationObserver: any;

/** The most line elements the view may hold (docs/page.md#the-whole-log-at-any-size says about 2,000). */
const MAX_LINE_NODES = 2_000;

/** What a reader sees of the large-file view. */
interface Seen {
  status: string;
  /** Lines in the DOM, and the most there ever were (an init script counts). */
  nodes: number;
  maxNodes: number;
  /** The lines in view, top to bottom: number ("" while not counted) and text. */
  visible: Array<{ n: string; text: string }>;
  target: { n: string; text: string; visible: boolean } | null;
  loading: string;
  count: string;
  matches: Array<{ n: string; text: string }>;
  size: string;
  hash: string;
  below: boolean;
}

function seen(page: Page): Promise<Seen> {
  return page.evaluate(() => {
    const $ = (id: string) => document.getElementById(id);
    const view = $("view").getBoundingClientRect();
    const inView = (el: { getBoundingClientRect(): { top: number; bottom: number } }) => {
      const r = el.getBoundingClientRect();
      return r.bottom > view.top + 1 && r.top < view.bottom - 1;
    };
    const lines = [...document.querySelectorAll("#content .ln")];
    const target = document.querySelector("#content .target");
    return {
      status: $("status").dataset.state,
      nodes: lines.length,
      maxNodes: window.__maxLines ?? 0,
      visible: lines.filter(inView).map((l: { dataset: { n: string }; textContent: string }) => ({
        n: l.dataset.n,
        text: l.textContent,
      })),
      target: target ? { n: target.dataset.n, text: target.textContent, visible: inView(target) } : null,
      loading: $("loading").hidden ? "" : $("loading").textContent,
      count: $("filter-count").textContent,
      matches: [...document.querySelectorAll("#matches [role=option]")].map((
        l: { dataset: { n: string }; textContent: string },
      ) => ({ n: l.dataset.n, text: l.textContent })),
      size: $("size").textContent,
      hash: location.hash,
      below: !$("below").hidden,
    };
  });
}

async function until(page: Page, what: string, pred: (s: Seen) => boolean, ms = 20_000): Promise<Seen> {
  let last: Seen | undefined;
  try {
    return (await waitFor(
      async () => {
        last = await seen(page);
        return pred(last) ? last : null;
      },
      ms,
      what,
    ))!;
  } catch (e) {
    const s = last ? { ...last, visible: last.visible.slice(0, 3), matches: last.matches.slice(0, 3) } : undefined;
    throw new Error(`${(e as Error).message}; last seen: ${JSON.stringify(s)}`);
  }
}

/** Counts the line elements the view ever holds at once, from the page's first moment. */
async function countNodes(w: Watched): Promise<void> {
  await w.page.addInitScript(() => {
    window.__maxLines = 0;
    const count = () => {
      const n = document.getElementById("content")?.childElementCount ?? 0;
      if (n > window.__maxLines) window.__maxLines = n;
    };
    new MutationObserver(count).observe(document, { childList: true, subtree: true });
  });
}

/** The 1 GiB log, made once for every runtime and removed after the last. */
let bigLog: Promise<BigLog> | null = null;
let bigDir = "";
const big = () =>
  bigLog ??= (async () => {
    bigDir = await Deno.makeTempDir({ prefix: "filewatch-big-" });
    return await writeBigLog(`${bigDir}/big.log`, 16);
  })();

/** A log of `lines` lines stamped one second apart from `t0`, over the large view's threshold. */
function stampedLog(lines: number, t0: number): string {
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const lvl = i % 10 === 3 ? "Error" : "INFO";
    out.push(`${new Date(t0 + i * 1000).toISOString()} ${lvl} request ${String(i).padStart(7, "0")} served .........`);
  }
  return out.join("\n") + "\n";
}

for (const rt of RUNTIMES) {
  const shots = rt === RUNTIMES[0];
  Deno.test(
    { name: `[${rt}] large-file view in Chromium`, sanitizeOps: false, sanitizeResources: false },
    async (t) => {
      const browser: Browser = await launchChromium();
      const servers: Server[] = [];
      const start = async (file: string, args: string[]) => {
        const s = await startServer(rt, { file, args: ["--poll", "200ms", ...args] });
        servers.push(s);
        return s;
      };
      const open = async (url: string): Promise<Watched> => {
        const w = await watchedPage(browser);
        await countNodes(w);
        await w.page.goto(url);
        return w;
      };
      const finish = async (w: Watched, name: string, fn: () => Promise<void>) => {
        try {
          await fn();
          assertEquals(w.pageErrors, [], "no uncaught errors in the page");
          assertEquals(w.cspViolations, [], "no Content-Security-Policy violations");
        } catch (e) {
          await Deno.mkdir(ARTIFACTS, { recursive: true });
          await w.page.screenshot({ path: `${ARTIFACTS}failed-${rt}-big-${name}.png` }).catch(() => {});
          throw e;
        } finally {
          await w.context.close();
        }
      };
      try {
        const log = await big();
        const server = await start(log.path, ["--tail", "1MiB"]);
        const w = await open(server.url);
        const page = w.page;
        await finish(w, "1gib", async () => {
          await t.step("a 1 GiB log opens at its end, the last line visible, without loading the file", async () => {
            const s = await until(page, "the last line", (s) => s.visible.at(-1)?.text === log.last);
            assert(s.nodes <= MAX_LINE_NODES, `${s.nodes} line nodes`);
            const html = await (await fetch(server.url)).text();
            assert(html.length < 512 * 1024, `the page's HTML is ${html.length} bytes`);
            assert(!w.requests.some((u) => /\/raw/.test(u)), "nothing fetched the file whole");
            await until(page, "connected", (s) => s.status === "connected");
            // The HTML alone shows the end, from its first paint: so does a page without its script.
            const off = await watchedPage(browser, { javaScriptEnabled: false });
            try {
              await off.page.goto(server.url);
              const s = await seen(off.page);
              assertEquals(s.visible.at(-1)?.text, log.last, "the last line in view with JavaScript off");
            } finally {
              await off.context.close();
            }
          });

          await t.step("#L of a line in the middle shows that line, marked", async () => {
            const mid = Math.floor(log.lines / 2) + 123;
            await page.evaluate((h: string) => (location.hash = h), `#L${mid}`);
            const s = await until(page, `line ${mid}`, (s) => s.target?.n === String(mid) && s.target.visible, 40_000);
            assertEquals(s.target!.text, log.text(mid));
            assert(s.visible.every((l) => l.text === log.text(Number(l.n))), "the lines around it are the file's");
            await until(page, "every line counted", (s) => /[0-9,]+ lines$/.test(s.size), 40_000);
            assertMatch((await seen(page)).size, new RegExp(`${log.lines.toLocaleString("en")} lines$`));
          });

          await t.step("a jump on the file's scrollbar to the middle shows the lines there", async () => {
            const box = (await page.locator("#bar").boundingBox())!;
            const thumb = (await page.locator("#thumb").boundingBox())!;
            // The middle of the track is the middle of the file (the thumb's centre lands there).
            await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
            const s = await until(page, "lines from the middle", (s) => {
              const n = Number(s.visible[0]?.n);
              return s.loading === "" && Math.abs(n - log.lines / 2) < 200;
            });
            assert(thumb.height >= 20, "a thumb a pointer can take, however long the file");
            assert(s.visible.every((l) => l.text === log.text(Number(l.n))), "the lines shown are the lines numbered");
            // Scrolling up from there reads earlier lines through the server, and the window keeps its bound.
            const top = Number(s.visible[0]!.n);
            await page.mouse.move(box.x - 300, box.y + 200);
            for (let i = 0; i < 25; i++) {
              await page.mouse.wheel(0, -2_500);
              await page.waitForTimeout(60);
            }
            const up = await until(page, "earlier lines", (s) => Number(s.visible[0]?.n) < top - 1_000);
            assert(up.visible.every((l) => l.text === log.text(Number(l.n))), "earlier lines in order");
          });

          await t.step("a word near the start: the server search lists it, Enter shows it in context", async () => {
            await page.focus("#view");
            await page.keyboard.press("/");
            await page.keyboard.type(log.needle);
            let s = await until(page, "one match", (s) => s.count === "1 match" && s.matches.length === 1, 60_000);
            assertEquals(s.matches[0]!.n, "2");
            assertEquals(s.matches[0]!.text, log.text(2));
            await page.keyboard.press("Enter");
            s = await until(page, "line 2 in context", (s) => s.target?.n === "2" && s.target.visible);
            assertEquals(
              s.visible.slice(0, 2).map((l) => l.text),
              [log.text(1), log.text(2)],
              "with the line above it",
            );
            const marked = await page.evaluate(() => document.querySelector("#content .target mark")?.textContent);
            assertEquals(marked, log.needle, "the word marked in the view too");
            assertEquals(await axeViolations(page), [], "axe: the large view with a search open");
            if (shots) {
              await page.setViewportSize({ width: 1100, height: 420 });
              await page.screenshot({ path: `${ROOT}docs/bigfile.png` });
              await page.setViewportSize({ width: 1100, height: 640 });
            }
          });

          await t.step("Go to time on a file without timestamps says the server's reason", async () => {
            await page.focus("#view");
            await page.keyboard.press("t");
            await page.keyboard.type("2026-12-07T00:11:49Z");
            await page.keyboard.press("Enter");
            await waitFor(
              () =>
                page.evaluate(() => document.getElementById("time-msg").textContent).then((m: string) =>
                  m !== "" && m !== "Looking…"
                ),
              20_000,
              "the reason",
            );
            const msg = await page.evaluate(() => ({
              text: document.getElementById("time-msg").textContent,
              invalid: document.getElementById("time-input").getAttribute("aria-invalid"),
            }));
            assertMatch(msg.text, /timestamp/i);
            assertEquals(msg.invalid, "true");
            await page.keyboard.press("Escape");
          });

          await t.step("the DOM held a bounded number of line nodes throughout", async () => {
            const s = await seen(page);
            assert(s.maxNodes > 0 && s.maxNodes <= MAX_LINE_NODES, `at most ${s.maxNodes} line nodes at once`);
          });

          await t.step("after all that, End follows the file and appends arrive live", async () => {
            // The log is the next runtime's too: what this adds goes again after.
            using _restore = { [Symbol.dispose]: () => Deno.truncateSync(log.path, log.size) };
            await page.focus("#filter");
            await page.keyboard.press("Escape"); // the search closes
            await page.keyboard.press("Escape"); // back to the content
            await page.keyboard.press("End");
            await until(page, "the end", (s) => s.visible.at(-1)?.text === log.last);
            await Deno.writeTextFile(log.path, "appended one\nappended two\n", { append: true });
            const s = await until(page, "the appended lines", (s) => s.visible.at(-1)?.text === "appended two");
            assertEquals(s.visible.slice(-3).map((l) => l.n), [log.lines, log.lines + 1, log.lines + 2].map(String));
            assertEquals(s.below, false, "following: no 'new content below'");
            assert(w.frames.some((f) => f.type === "append"), "they came as appends over the WebSocket");
            const s2 = await seen(page);
            assert(s2.maxNodes <= MAX_LINE_NODES, `${s2.maxNodes} line nodes`);
          });
        });

        await t.step("a stamped log under --base-path, one of several files: Go to time, case, regex", async () => {
          const dir = await Deno.makeTempDir({ prefix: "filewatch-stamped-" });
          const t0 = Date.parse("2026-12-07T00:00:00Z");
          const file = `${dir}/stamped.log`;
          const lines = 80_000; // 5 MiB: over --max-file-size 4MiB, so in the large view
          await Deno.writeTextFile(file, stampedLog(lines, t0));
          // "Error" is on every tenth line (i % 10 === 3, line i + 1): the newest is that many lines from the end.
          const newestError = lines - ((lines - 1 - 3) % 10);
          await Deno.writeTextFile(`${dir}/other.log`, "another file\n");
          try {
            const s0 = await start(file, [
              "--max-file-size",
              "4MiB",
              "--tail",
              "64KiB",
              "--base-path",
              "/logs",
              `${dir}/other.log`,
            ]);
            // The start-up line's URL is the base path's (http://127.0.0.1:PORT/logs/).
            const w = await open(`${s0.url}f/stamped.log`);
            const page = w.page;
            await finish(w, "stamped", async () => {
              const paths = await page.evaluate(() => ({ ...document.body.dataset }));
              assertEquals([paths.view, paths.lines, paths.search, paths.time], [
                "large",
                "/logs/lines/stamped.log",
                "/logs/search/stamped.log",
                "/logs/time/stamped.log",
              ]);
              await until(page, "the end", (s) => s.visible.at(-1)?.n === String(lines));
              // 00:30:00 is line 1,801 (one line a second from 00:00:00).
              await page.click("#time-open");
              await page.keyboard.type("2026-12-07T00:30:00Z");
              await page.keyboard.press("Enter");
              let s = await until(page, "line 1801", (s) => s.target?.n === "1801" && s.target.visible);
              assertMatch(s.target!.text, /^2026-12-07T00:30:00\.000Z /);
              assertEquals(s.hash, "#L1801");
              // Match case: "Error" is in every tenth line; "ERROR" in none.
              await page.fill("#filter", "ERROR");
              await page.click("#case");
              s = await until(page, "no match with case", (s) => s.count === "No matches");
              await page.click("#case");
              s = await until(
                page,
                "a thousand, the newest",
                (s) => /^1,000 matches/.test(s.count) && s.matches.length === 1000,
              );
              assertEquals(s.matches[0]!.n, String(newestError), "newest first");
              assert(await page.isVisible("#results-more"), "the limit stopped it: more can be asked for");
              await page.fill("#filter", "/request 00012(34|35) /");
              s = await until(page, "the regex's two lines", (s) => s.count === "2 matches" && s.matches.length === 2);
              assertEquals(s.matches.map((m) => m.n), ["1236", "1235"]);
              // Shown in context in the middle of the file; a matching line appended meanwhile is listed on top.
              await page.click("#matches [role=option]:last-child");
              s = await until(page, "line 1235 in context", (s) => s.target?.n === "1235" && s.target.visible);
              await Deno.writeTextFile(file, "2026-12-08T00:00:00.000Z INFO request 0001234 appended\n", {
                append: true,
              });
              s = await until(
                page,
                "the append listed",
                (s) => s.count === "3 matches" && s.matches[0]?.n === String(lines + 1),
              );
              assertMatch(s.matches[0]!.text, /appended$/);
              assertEquals(s.target?.n, "1235", "the view stays where the reader is");
            });
          } finally {
            await Deno.remove(dir, { recursive: true });
          }
        });

        await t.step(
          "a file over --max-file-size without --tail: read in full, and followed: live appends arrive",
          async () => {
            const dir = await Deno.makeTempDir({ prefix: "filewatch-autotail-" });
            const file = `${dir}/app.log`;
            await Deno.writeTextFile(file, stampedLog(20_000, Date.parse("2026-12-07T00:00:00Z")));
            try {
              const s0 = await start(file, ["--max-file-size", "1MiB"]);
              const w = await open(s0.url);
              await finish(w, "autotail", async () => {
                await until(w.page, "the end", (s) => s.visible.at(-1)?.n === "20000");
                const notice = await w.page.evaluate(() => document.getElementById("live-off")?.textContent ?? null);
                assertEquals(notice, null, "no notice that it is not followed");
                await waitFor(() => w.sockets.length > 0, 5_000, "the page to connect");
                await Deno.writeTextFile(file, "live one\nlive two\n", { append: true });
                const s = await until(w.page, "the appended lines", (s) => s.visible.at(-1)?.text === "live two");
                assertEquals(s.visible.slice(-2).map((l) => l.n), ["20001", "20002"], "numbered as the file's lines");
                assertEquals(s.below, false, "following: no 'new content below'");
                assert(w.frames.some((f) => f.type === "append"), "they came as appends over the WebSocket");
                await w.page.evaluate(() => (location.hash = "#L5"));
                await until(w.page, "line 5", (s) => s.target?.n === "5" && s.target.visible);
                await w.page.emulateMedia({ colorScheme: "dark" });
                assertEquals(await axeViolations(w.page), [], "axe: dark");
              });
            } finally {
              await Deno.remove(dir, { recursive: true });
            }
          },
        );
      } finally {
        await browser.close();
        for (const s of servers) await s.stop();
        if (rt === RUNTIMES.at(-1) && bigDir) await Deno.remove(bigDir, { recursive: true }).catch(() => {});
      }
    },
  );
}
