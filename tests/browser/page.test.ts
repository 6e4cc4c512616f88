/**
 * The page in a real browser (Debian's Chromium via playwright-core) against
 * the real server on every runtime: first paint, live updates, errors,
 * reconnection, resume, follow mode, toggles and that file content never runs.
 *
 * Each case gets its own server process and browser context. Screenshots go
 * to artifacts/ (page-<runtime>.png, and failed-<runtime>-<case>.png when a
 * case fails).
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { type RuntimeName, RUNTIMES, type Server, startServer, tempFile, waitFor } from "../helpers/harness.ts";
import { ARTIFACTS, launchChromium, type Watched, watchedPage } from "../helpers/chromium.ts";
import type { Browser, Page } from "playwright-core";
import { formatSize } from "../../src/shared/format.ts";

// Functions given to page.evaluate() run in the browser. The DOM library
// cannot be added to one file (it changes global types for the whole type
// check), so the page's globals are declared loosely, for this module only.
// deno-lint-ignore no-explicit-any
declare const document: any;
// deno-lint-ignore no-explicit-any
declare const getComputedStyle: (el: unknown) => any;
// deno-lint-ignore no-explicit-any
declare const MutationObserver: any;

const POLL = "200ms";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the page shows, read in one go. */
interface Shown {
  status: string;
  statusText: string;
  /** ms until the scheduled reconnection attempt (page clock), or null. */
  retryIn: number | null;
  content: string;
  banner: string | null;
  notice: boolean;
  stale: boolean;
  size: string;
  file: string;
  updated: string | null;
  below: boolean;
  scrollTop: number;
  atBottom: boolean;
  title: string;
  lastMod: string;
}

function shown(page: Page): Promise<Shown> {
  return page.evaluate(() => {
    const $ = (id: string) => document.getElementById(id)!;
    const view = $("view");
    const status = $("status");
    const retryAt = Number(status.dataset.retryAt || 0);
    return {
      status: status.dataset.state ?? "",
      statusText: $("status-text").textContent ?? "",
      retryIn: retryAt ? retryAt - Date.now() : null,
      content: $("content").textContent ?? "",
      banner: $("banner").hidden ? null : $("banner").textContent,
      notice: !$("notice").hidden,
      stale: document.body.classList.contains("stale"),
      size: $("size").textContent ?? "",
      file: $("file").textContent ?? "",
      updated: $("updated-wrap").hidden ? null : $("updated").getAttribute("datetime"),
      below: !$("below").hidden,
      scrollTop: view.scrollTop,
      atBottom: view.scrollTop + view.clientHeight >= view.scrollHeight - 8,
      title: document.title,
      lastMod: document.body.dataset.lastMod ?? "",
    };
  });
}

/** Waits until the page shows what `pred` wants; the error names the last state seen. */
async function until(page: Page, what: string, pred: (s: Shown) => boolean, ms = 8_000): Promise<Shown> {
  let last: Shown | undefined;
  try {
    const s = await waitFor(
      async () => {
        last = await shown(page);
        return pred(last) ? last : null;
      },
      ms,
      what,
    );
    return s!;
  } catch (e) {
    const s = last ? { ...last, content: last.content.slice(0, 200) } : undefined;
    throw new Error(`${(e as Error).message}; last seen: ${JSON.stringify(s)}`);
  }
}

interface Case {
  w: Watched;
  page: Page;
  server: () => Server;
  file: string;
  /** Kills the server (SIGKILL: no goodbye to clients). */
  kill: () => Promise<void>;
  /** Starts the server again on the same port. */
  restart: () => Promise<Server>;
}

function cases(rt: RuntimeName, browser: () => Browser) {
  return async (
    t: Deno.TestContext,
    name: string,
    content: string | Uint8Array,
    fn: (c: Case) => Promise<void>,
    opts: { javaScriptEnabled?: boolean; open?: boolean; args?: string[] } = {},
  ) => {
    await t.step({
      name,
      sanitizeOps: false,
      sanitizeResources: false,
      fn: async () => {
        const file = await tempFile(content, "app.log");
        const args = ["--poll", POLL, ...opts.args ?? []];
        let server = await startServer(rt, { file, args });
        const port = server.port;
        const w = await watchedPage(browser(), { javaScriptEnabled: opts.javaScriptEnabled });
        const c: Case = {
          w,
          page: w.page,
          server: () => server,
          file,
          kill: async () => void await server.stop("SIGKILL"),
          restart: async () => (server = await startServer(rt, { file, args, port })),
        };
        try {
          if (opts.open !== false) await w.page.goto(server.url);
          await fn(c);
          assertEquals(w.pageErrors, [], "no uncaught errors in the page");
          assertEquals(w.cspViolations, [], "no Content-Security-Policy violations");
        } catch (e) {
          const slug = name.replace(/[^a-z0-9]+/gi, "-").slice(0, 60);
          await Deno.mkdir(ARTIFACTS, { recursive: true });
          await w.page.screenshot({ path: `${ARTIFACTS}failed-${rt}-${slug}.png` }).catch(() => {});
          console.error(`server stderr (${rt}):\n${server.stderr.slice(-20).join("\n")}`);
          throw e;
        } finally {
          await w.context.close();
          await server.stop();
          await Deno.remove(file.replace(/\/[^/]+$/, ""), { recursive: true });
        }
      },
    });
  };
}

const LOG = Array.from(
  { length: 12 },
  (_, i) =>
    `2024-05-0${1 + (i % 9)}T12:00:${String(10 + i).padStart(2, "0")}Z INFO worker[${i % 3}] request ${
      i * 37
    } served in ${(i * 7) % 50} ms`,
).join("\n") + "\n";

for (const rt of RUNTIMES) {
  Deno.test({ name: `[${rt}] page in Chromium`, sanitizeOps: false, sanitizeResources: false }, async (t) => {
    const browser = await launchChromium();
    const step = cases(rt, () => browser);
    try {
      await step(
        t,
        "first paint shows the file, escaped, with JavaScript off",
        "a < b && c > d\nline 2\n",
        async (c) => {
          const html = await (await fetch(c.server().url)).text();
          assert(html.includes("a &lt; b &amp;&amp; c &gt; d"), "escaped in the HTML");
          assertEquals(await c.page.textContent("#content"), "a < b && c > d\nline 2\n");
          assert(c.file.endsWith(await c.page.textContent("#file") ?? "?"), "file name");
          assertEquals(await c.page.textContent("#size"), "22 B");
          assertEquals(await c.page.textContent("#status-text"), "snapshot");
          assertMatch(await c.page.textContent("noscript .notice") ?? "", /JavaScript is off/);
          assert(await c.page.isVisible("noscript .notice"), "says it is a snapshot");
          assertEquals(c.w.sockets, [], "no script, no socket");
        },
        { javaScriptEnabled: false },
      );

      await step(
        t,
        "the page connects with filewatch.v1, resuming from its lastMod and size, and is sent nothing new",
        LOG,
        async (c) => {
          const s = await until(c.page, "connected", (s) => s.status === "connected");
          assertEquals(s.content, LOG);
          assertEquals(s.statusText, "connected");
          assertEquals(s.size, formatSize(new TextEncoder().encode(LOG).length));
          assertMatch(s.updated ?? "", /^\d{4}-\d\d-\d\dT/);
          const size = new TextEncoder().encode(LOG).length;
          assertEquals(c.w.sockets, [`${c.server().wsUrl}?lastMod=${s.lastMod}&size=${size}`]);
          await sleep(600); // three polls
          assertEquals(c.w.frames, [], "the first paint was current: nothing to send");
        },
      );

      await step(t, "a change appears without a reload", "first version\n", async (c) => {
        await until(c.page, "connected", (s) => s.status === "connected");
        await c.page.evaluate(() => ((globalThis as Record<string, unknown>).marker = "same page"));
        const before = await shown(c.page);
        await sleep(20); // a later mtime on every filesystem clock
        await Deno.writeTextFile(c.file, "second version, longer than the first\n");
        const s = await until(
          c.page,
          "the new content",
          (s) => s.content === "second version, longer than the first\n",
        );
        assertEquals(await c.page.evaluate(() => (globalThis as Record<string, unknown>).marker), "same page");
        assertEquals(s.size, "38 B");
        assert(s.updated && s.updated >= before.updated!, "modification time moved on");
        // The page speaks filewatch.bin.v1 (docs/protocol.md): a binary frame.
        assertEquals(c.w.frames.map((f) => [f.type, f.binary]), [["content", true]]);
      });

      await step(
        t,
        "deleting the file shows the error banner and keeps the content; recreating clears it",
        "keep me\n",
        async (c) => {
          await until(c.page, "connected", (s) => s.status === "connected");
          await Deno.remove(c.file);
          const gone = await until(c.page, "the error banner", (s) => s.banner !== null);
          assertMatch(gone.banner!, /not found/);
          assertMatch(gone.banner!, /showing the last content received/);
          assertEquals(gone.content, "keep me\n", "old content stays");
          assert(gone.stale, "content marked stale");
          assertMatch(gone.title, /^\(error\) /);
          await Deno.writeTextFile(c.file, "I am back\n");
          const back = await until(
            c.page,
            "the banner cleared",
            (s) => s.banner === null && s.content === "I am back\n",
          );
          assert(!back.stale);
          assertMatch(back.title, /^app\.log — filewatch$|\/app\.log — filewatch$/);
          assertEquals(c.w.frames.map((f) => f.type), ["error", "content"]);
        },
      );

      await step(t, "a page opened while the file is missing shows the error, then the file", "", async (c) => {
        await Deno.remove(c.file);
        await c.page.goto(c.server().url);
        const s = await until(c.page, "connected with the error", (s) => s.status === "connected" && s.banner !== null);
        assertMatch(s.banner!, /not found/);
        assertEquals(s.content, "");
        await Deno.writeTextFile(c.file, "now it exists\n");
        await until(c.page, "the content", (s) => s.banner === null && s.content === "now it exists\n");
      }, { open: false });

      await step(
        t,
        "server killed and restarted on the same port: reconnecting, then back by itself with new content",
        "before the crash\n",
        async (c) => {
          await until(c.page, "connected", (s) => s.status === "connected");
          await c.kill();
          const down = await until(c.page, "reconnecting", (s) => s.status === "waiting");
          assertMatch(down.statusText, /^reconnecting in \d+s$/);
          assertMatch(down.title, /^\(reconnecting\) /);
          assertEquals(down.content, "before the crash\n", "content stays while disconnected");
          await Deno.writeTextFile(c.file, "after the restart\n");
          await c.restart();
          const up = await until(c.page, "reconnected", (s) => s.status === "connected", 20_000);
          const s = up.content === "after the restart\n"
            ? up
            : await until(c.page, "the new content", (s) => s.content === "after the restart\n");
          assertEquals(s.statusText, "connected");
          assertEquals(s.banner, null);
          assertEquals(await c.page.evaluate(() => performance.getEntriesByType("navigation").length), 1, "no reload");
        },
      );

      await step(t, "an unchanged file is not re-sent after a reconnect", LOG, async (c) => {
        await until(c.page, "connected", (s) => s.status === "connected");
        await sleep(600);
        await c.kill();
        await until(c.page, "reconnecting", (s) => s.status === "waiting");
        await c.restart();
        await until(c.page, "reconnected", (s) => s.status === "connected", 20_000);
        const last = c.w.sockets.at(-1)!;
        const size = new TextEncoder().encode(LOG).length;
        assert(last.endsWith(`?lastMod=${(await shown(c.page)).lastMod}&size=${size}`), `resumed: ${last}`);
        await sleep(1_000); // five polls
        assertEquals(c.w.frames, [], "neither connection was sent the unchanged file");
        // The counter works: a real change is one frame.
        await Deno.writeTextFile(c.file, LOG + "one more line\n");
        await until(c.page, "the appended line", (s) => s.content.endsWith("one more line\n"));
        await sleep(400);
        assertEquals(c.w.frames.map((f) => f.type), ["append"], "resumed with its size: just the new line");
      });

      const EVIL = `<img src=x onerror="document.title='pwned';globalThis.pwned=1">\n` +
        `<script>globalThis.pwned=2</script>\n<b onmouseover=alert(1)>bold?</b> &amp; &lt;\n`;
      const ranNothing = async (c: Case) => {
        assertEquals(await c.page.evaluate(() => (globalThis as Record<string, unknown>).pwned), undefined);
        assertEquals(await c.page.evaluate(() => document.querySelectorAll("img, b, #content script").length), 0);
        assert(!c.w.requests.some((u) => new URL(u).pathname === "/x"), "the <img> was never fetched");
        assert(!(await shown(c.page)).title.includes("pwned"));
      };
      await step(
        t,
        "a file containing <img onerror> and <script> is shown as text and runs nothing",
        EVIL,
        async (c) => {
          const first = await until(c.page, "connected", (s) => s.status === "connected");
          assertEquals(first.content, EVIL, "first paint");
          await ranNothing(c);
          await Deno.writeTextFile(c.file, "harmless\n");
          await until(c.page, "harmless", (s) => s.content === "harmless\n");
          await Deno.writeTextFile(c.file, EVIL + "live\n");
          await until(c.page, "evil content, live", (s) => s.content === EVIL + "live\n");
          await c.page.click("#numbers"); // the per-line rendering too
          await sleep(200);
          await ranNothing(c);
        },
      );

      const lines = (from: number, n: number) =>
        Array.from({ length: n }, (_, i) => `line ${from + i} ${"·".repeat((from + i) % 40)}`).join("\n") + "\n";
      await step(
        t,
        "follow mode: at the bottom it follows; scrolled up it stays and shows 'new content below'",
        lines(1, 300),
        async (c) => {
          await until(c.page, "connected", (s) => s.status === "connected");
          let text = lines(1, 300);
          const grow = async (n: number) => {
            const from = text.split("\n").length;
            text += lines(from, n);
            await Deno.writeTextFile(c.file, text);
            return await until(c.page, "grown", (s) => s.content === text);
          };
          // Opened at the top of a long file: not following.
          const top = await shown(c.page);
          assertEquals(top.scrollTop, 0);
          assert(!top.atBottom);
          let s = await grow(20);
          assertEquals(s.scrollTop, 0, "stays where the reader is");
          assert(s.below, "shows 'new content below'");
          assertEquals(await c.page.textContent("#below"), "New content below ↓");
          await c.page.click("#below");
          s = await until(c.page, "at the bottom", (s) => s.atBottom && !s.below);
          // At the bottom: follows growth.
          for (let i = 0; i < 3; i++) {
            await grow(50);
            // The page sticks to the end again on the next animation frame: wait for it, not for a fixed time.
            s = await until(c.page, `following the end (round ${i})`, (s) => s.atBottom, 3_000);
            assert(!s.below);
          }
          // Scrolled up a little: stays put.
          await c.page.evaluate(() => document.getElementById("view")!.scrollBy(0, -300));
          const up = await shown(c.page);
          s = await grow(30);
          assertEquals(s.scrollTop, up.scrollTop);
          assert(!s.atBottom && s.below);
          // Scrolling to the end by hand hides the hint.
          await c.page.keyboard.press("End");
          await until(c.page, "hint hidden", (s) => s.atBottom && !s.below);
        },
      );

      await step(
        t,
        "line numbers and wrap are toggles, remembered across reloads",
        "short\n" + "long ".repeat(400) + "\nend\n",
        async (c) => {
          await until(c.page, "connected", (s) => s.status === "connected");
          const width = () => c.page.evaluate(() => document.getElementById("view")!.scrollWidth);
          const narrow = await c.page.evaluate(() => document.getElementById("view")!.clientWidth);
          assert(await width() > narrow * 1.5, "long line scrolls sideways");
          await c.page.check("#wrap");
          assert(await width() <= narrow + 1, "wrapped: no sideways scroll");
          await c.page.check("#numbers");
          assertEquals(
            await c.page.$$eval(
              "#content .chunk > span",
              (els) => els.map((e) => (e as unknown as { dataset: { n?: string } }).dataset.n),
            ),
            ["1", "2", "3"],
          );
          const firstLine = await c.page.$eval("#content .chunk > span", (e) => e.textContent);
          // A line's element holds its newline: the content's text is the file's, numbers or not.
          assertEquals(firstLine, "short\n", "numbers are not part of the text");
          await Deno.writeTextFile(c.file, "a\nb\nc\nd\n");
          await until(c.page, "renumbered", (s) => s.content === "a\nb\nc\nd\n");
          await c.page.reload();
          await until(c.page, "connected", (s) => s.status === "connected");
          assert(await c.page.isChecked("#wrap") && await c.page.isChecked("#numbers"), "remembered");
          assertEquals(await c.page.$$eval("#content .chunk > span", (els) => els.length), 4);
          await c.page.uncheck("#numbers");
          await until(c.page, "plain text", (s) => s.content === "a\nb\nc\nd\n");
        },
      );

      await step(
        t,
        "a log growing 20 lines/s for 10 s is followed by appends; its first line stays the same DOM node",
        "boot line 1\nboot line 2\n",
        async (c) => {
          await until(c.page, "connected", (s) => s.status === "connected");
          // An expando on the first line's node (its element: the lines on screen are drawn one element each).
          await c.page.evaluate(() => (document.querySelector("#content > .chunk").firstChild.tagged = "first"));
          let n = 0;
          const samples: boolean[] = [];
          const t0 = Date.now();
          while (Date.now() - t0 < 10_000) {
            n++;
            await Deno.writeTextFile(c.file, `${new Date().toISOString()} INFO request ${n} served\n`, {
              append: true,
            });
            if (n % 20 === 0) samples.push((await shown(c.page)).atBottom);
            await sleep(50);
          }
          const file = await Deno.readTextFile(c.file);
          const s = await until(c.page, "the whole log", (s) => s.content === file);
          assert(n >= 150, `wrote ${n} lines`);
          assert(s.atBottom && !s.below, "followed to the end");
          assertEquals(samples.filter((b) => !b), [], "at the bottom every time it was looked at");
          const first = await c.page.evaluate(() => {
            const node = document.querySelector("#content > .chunk").firstChild;
            return { tagged: node.tagged ?? null, start: node.textContent.slice(0, 12) };
          });
          assertEquals(first, { tagged: "first", start: "boot line 1\n" }, "the same node, grown in place");
          const types = new Set(c.w.frames.map((f) => f.type));
          assertEquals([...types], ["append"], "the growth came as appends");
          assertEquals(
            (await shown(c.page)).lastMod,
            c.w.frames.at(-1)!.lastMod,
            "holds the newest version",
          );
        },
      );

      await step(
        t,
        "with line numbers on, appended lines (one finishing an open line) are numbered on",
        "one\ntw",
        async (c) => {
          await until(c.page, "connected", (s) => s.status === "connected");
          await c.page.check("#numbers");
          const numbered = () =>
            c.page.$$eval(
              "#content .chunk > span",
              (els) =>
                els.map((e) =>
                  `${(e as unknown as { dataset: { n?: string } }).dataset.n}:${e.textContent?.trimEnd()}`
                ),
            );
          assertEquals(await numbered(), ["1:one", "2:tw"]);
          await Deno.writeTextFile(c.file, "o\nthree\nfou", { append: true });
          await waitFor(async () => (await numbered()).length === 4, 5_000, "four lines");
          await Deno.writeTextFile(c.file, "r\n", { append: true });
          await waitFor(async () => (await numbered()).at(-1) === "4:four", 5_000, "the open line finished");
          assertEquals(await numbered(), ["1:one", "2:two", "3:three", "4:four"]);
          assertEquals(c.w.frames.map((f) => f.type), ["append", "append"]);
        },
      );

      await step(
        t,
        "tail mode: shows 'the last X of Y', and keeps at most data-keep characters as the log grows past it",
        Array.from({ length: 400 }, (_, i) => `early line ${i} ${"x".repeat(i % 30)}\n`).join(""),
        async (c) => {
          await until(c.page, "connected", (s) => s.status === "connected");
          const keep = Number(await c.page.evaluate(() => document.body.dataset.keep));
          assertEquals(keep, 4 * 2048, "four times the tail size");
          const notes = () =>
            c.page.evaluate(() => ({
              window: document.getElementById("window").hidden
                ? null
                : document.getElementById("window-text").textContent,
              dropped: !document.getElementById("dropped").hidden,
              offset: Number(document.body.dataset.offset),
              size: Number(document.body.dataset.size),
            }));
          let file = await Deno.readTextFile(c.file);
          let note = await notes();
          assertEquals(note.size, file.length);
          assert(note.offset > 0 && file.length - note.offset <= 2048, `a window of the tail: ${JSON.stringify(note)}`);
          assertEquals(
            note.window,
            `Showing the last ${formatSize(file.length - note.offset)} of ${formatSize(file.length)}.`,
          );
          assert(!note.dropped, "nothing dropped yet");
          // A page showing a log's last part opens at its end, following it.
          await until(c.page, "at the end on load", (s) => s.atBottom);
          // Grow it to well past the bound, a burst of lines at a time.
          for (let i = 0; i < 60; i++) {
            const burst = Array.from({ length: 20 }, (_, j) => `late line ${i * 20 + j} ${"y".repeat(j * 2)}\n`).join(
              "",
            );
            await Deno.writeTextFile(c.file, burst, { append: true });
            await sleep(40);
            if (i % 10 === 9) {
              const len = (await shown(c.page)).content.length;
              assert(len <= keep, `${len} characters in the DOM after burst ${i}`);
            }
          }
          file = await Deno.readTextFile(c.file);
          assert(file.length > 6 * keep, `the file grew well past the bound: ${file.length}`);
          const s = await until(c.page, "the end of the log", (s) => s.content.length > 0 && file.endsWith(s.content));
          await until(c.page, "its newest line", (s) => s.content.endsWith("late line 1199 " + "y".repeat(38) + "\n"));
          const content = (await shown(c.page)).content;
          assert(content.length <= keep, `${content.length} characters in the DOM`);
          assert(content.length > keep * 7 / 8 - 200, `kept close to the bound: ${content.length}`);
          assertEquals(file[file.length - content.length - 1], "\n", "starts at a whole line");
          note = await notes();
          assertEquals(note.size, file.length);
          assertEquals(note.offset, file.length - content.length);
          assertEquals(note.window, `Showing the last ${formatSize(content.length)} of ${formatSize(file.length)}.`);
          assert(note.dropped, "says earlier lines were dropped");
          assert(await c.page.isVisible("#dropped"));
          assert(s.atBottom, "followed the end");
          assert(c.w.frames.filter((f) => f.type === "content").length <= 1, "one content at most: the window");
        },
        { args: ["--tail", "2KiB"] },
      );

      const BIG_LINES = 60_000; // ≈ 5 MB
      const bigLine = (i: number) => `${String(i).padStart(6, "0")} ${"lorem ipsum dolor sit amet ".repeat(3)}\n`;
      const big = Array.from({ length: BIG_LINES }, (_, i) => bigLine(i)).join("");
      await step(t, "a large file is laid out in chunks, and growing it rebuilds only the last one", big, async (c) => {
        await until(c.page, "connected", (s) => s.status === "connected");
        const layout = () =>
          c.page.evaluate(() => {
            const chunks = [...document.querySelectorAll("#content > .chunk")];
            return {
              chunks: chunks.length,
              length: document.getElementById("content").textContent.length,
              firstKept: chunks[0]?.keep === true,
              first: getComputedStyle(chunks[0]).contentVisibility,
              last: getComputedStyle(chunks.at(-1)).contentVisibility,
            };
          });
        const before = await layout();
        assertEquals(before.chunks, BIG_LINES / 500);
        assertEquals(before.length, big.length);
        assertEquals(
          [before.first, before.last],
          ["auto", "visible"],
          "off-screen chunks are skipped, the tail is not",
        );
        await c.page.evaluate(() => (document.querySelector("#content > .chunk").keep = true));
        const t0 = Date.now();
        await Deno.writeTextFile(c.file, big + bigLine(BIG_LINES), { append: false });
        const after = await waitFor(
          async () => {
            const l = await layout();
            return l.length > big.length ? l : null;
          },
          10_000,
          "the appended line",
        );
        assertEquals(after.length, big.length + bigLine(BIG_LINES).length);
        assertEquals(after.chunks, BIG_LINES / 500 + 1);
        assert(after.firstKept, "the first chunk is the same element: not rebuilt");
        assert(Date.now() - t0 < 5_000, `shown in ${Date.now() - t0} ms`);
      });

      await step(
        t,
        "the script takes over the server's chunks as they are: the same nodes, not a re-render",
        big,
        async (c) => {
          // Tags each chunk the parser adds before the page's script starts (the
          // parser delivers these records at its microtask checkpoint before running a script).
          await c.w.context.addInitScript(() => {
            new MutationObserver((records: { addedNodes: { className?: string; fromServer?: boolean }[] }[]) => {
              if (performance.getEntriesByName("filewatch:start").length > 0) return;
              for (const r of records) {
                for (const n of r.addedNodes) {
                  if ((n as { className?: string }).className === "chunk") n.fromServer = true;
                }
              }
            }).observe(document, { childList: true, subtree: true });
          });
          await c.page.goto(c.server().url);
          await until(c.page, "connected", (s) => s.status === "connected");
          const seen = () =>
            c.page.evaluate(() => {
              const chunks = [...document.querySelectorAll("#content > .chunk")];
              return { chunks: chunks.length, fromServer: chunks.filter((el) => el.fromServer === true).length };
            });
          assertEquals(await seen(), { chunks: BIG_LINES / 500, fromServer: BIG_LINES / 500 });
          // And they work as the script's own: a line appended joins the last one.
          await Deno.writeTextFile(c.file, bigLine(BIG_LINES), { append: true });
          await waitFor(
            () =>
              c.page.evaluate(() =>
                document.getElementById("content").textContent.endsWith(
                  "060000 lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet \n",
                )
              ),
            10_000,
            "the appended line",
          );
          assertEquals(await seen(), { chunks: BIG_LINES / 500 + 1, fromServer: BIG_LINES / 500 });
        },
        { open: false },
      );

      await step(
        t,
        "a file that is not UTF-8 is shown with replacement characters and a notice",
        new Uint8Array([0x6f, 0x6b, 0xff, 0x0a]),
        async (c) => {
          const first = await until(c.page, "connected", (s) => s.status === "connected");
          assertEquals(first.content, "ok\uFFFD\n");
          assert(first.notice);
          await Deno.writeFile(c.file, new Uint8Array([0x68, 0x69, 0xc3, 0x28, 0x0a]));
          const s = await until(c.page, "the new bytes", (s) => s.content === "hi\uFFFD(\n");
          assert(s.notice);
          assertEquals(s.size, "5 B");
          await Deno.writeTextFile(c.file, "clean\n");
          const clean = await until(c.page, "clean text", (s) => s.content === "clean\n");
          assert(!clean.notice);
        },
      );

      // How long until the page retries, once the backoff has grown past `ms`.
      const longWait = (c: Case, ms: number) =>
        until(c.page, `a retry more than ${ms} ms away`, (s) => s.retryIn !== null && s.retryIn > ms, 30_000);

      await step(t, "offline: says so, and reconnects at once when the network comes back", LOG, async (c) => {
        await until(c.page, "connected", (s) => s.status === "connected");
        // A blip: the socket from before may be dead, so the page opens a new
        // one at once, and resuming means nothing is sent again.
        await c.w.context.setOffline(true);
        await c.w.context.setOffline(false);
        await waitFor(() => c.w.sockets.length === 2, 1_500, "a fresh socket");
        await until(c.page, "connected again", (s) => s.status === "connected");
        await sleep(400);
        assertEquals(c.w.frames, [], "nothing re-sent");
        await c.w.context.setOffline(true);
        await c.kill();
        const off = await until(c.page, "offline", (s) => s.status === "offline");
        assertEquals(off.statusText, "offline");
        assertMatch(off.title, /^\(offline\) /);
        await longWait(c, 4_000);
        await c.restart();
        const pending = await shown(c.page);
        assert(pending.status === "offline" && pending.retryIn! > 1_500, `still waiting: ${JSON.stringify(pending)}`);
        await c.w.context.setOffline(false);
        const s = await until(c.page, "reconnected at once", (s) => s.status === "connected", 1_500);
        assertEquals(s.content, LOG);
      });

      await step(t, "reconnects at once when the tab becomes visible again", LOG, async (c) => {
        await until(c.page, "connected", (s) => s.status === "connected");
        await c.kill();
        await longWait(c, 4_000);
        await c.restart();
        const pending = await shown(c.page);
        assert(pending.status === "waiting" && pending.retryIn! > 1_500, `still waiting: ${JSON.stringify(pending)}`);
        // Headless Chromium never hides a page (minimising or switching tabs
        // keeps it "visible"), so the browser's own event is played here.
        await c.page.evaluate(() => {
          const set = (v: string) =>
            Object.defineProperty(document, "visibilityState", { value: v, configurable: true });
          set("hidden");
          document.dispatchEvent(new Event("visibilitychange"));
          set("visible");
          document.dispatchEvent(new Event("visibilitychange"));
        });
        await until(c.page, "reconnected at once", (s) => s.status === "connected", 1_500);
      });

      await step(t, "screenshot for the README (artifacts/)", LOG, async (c) => {
        await until(c.page, "connected", (s) => s.status === "connected");
        await Deno.writeTextFile(c.file, LOG + "2024-05-03T12:00:22Z WARN worker[1] slow request 912 ms\n");
        await until(c.page, "updated", (s) => s.content.includes("WARN"));
        await Deno.mkdir(ARTIFACTS, { recursive: true });
        await c.page.setViewportSize({ width: 960, height: 330 });
        await c.page.screenshot({ path: `${ARTIFACTS}page-${rt}.png` });
        await c.page.emulateMedia({ colorScheme: "dark" });
        const bg = await c.page.evaluate(() => getComputedStyle(document.body).backgroundColor);
        assertEquals(bg, "rgb(13, 17, 23)", "dark colours under prefers-color-scheme: dark");
        await c.page.screenshot({ path: `${ARTIFACTS}page-${rt}-dark.png` });
        assert((await Deno.stat(`${ARTIFACTS}page-${rt}.png`)).size > 5_000);
      });
    } finally {
      await browser.close();
    }
  });
}
