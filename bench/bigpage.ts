/**
 * The page at any size (docs/page.md#the-whole-log-at-any-size), in Chromium against a
 * real server: the large-file view on a 4 GiB log, and, in the same run, the
 * page that holds a 16 MiB file whole against the large view of that same
 * file (what the size where one becomes the other costs).
 *
 * On the large log (goals from the design: last screen ≤ 300 ms after load,
 * a scrollbar jump drawn ≤ 200 ms p95, JS heap ≤ 64 MiB after 100 places):
 * - load → last screen: from navigation start to the first frame in which
 *   the file's last line is in view, and to the frame with the first window
 *   of lines from `/lines` (numbered once the index is complete); the first
 *   load also starts the server's line index (cold), later ones find it;
 * - a jump: a click on the file's scrollbar at a random place, from the
 *   pointerdown to the frame after the lines there are drawn (the
 *   placeholder gone); once while the index is still being built (by bytes)
 *   when the file is large enough for that, and after (by lines);
 * - the JS heap after visiting `--positions` places, garbage collected
 *   (CDP `HeapProfiler.collectGarbage`, then `Runtime.getHeapUsage`), and the
 *   most line elements the view held at once.
 *
 *   deno run -A bench/bigpage.ts [--runtime deno|bun] [--gib 4] [--jumps 60] [--positions 100]
 *                                [--loads 3] [--file PATH (kept, and used again)] [--no-compare]
 *
 * The log is made the way the browser test makes its 1 GiB one
 * (tests/helpers/biglog.ts) and read once before the runs (`wc -l`, timed,
 * for the record), so it is in the page cache. Times are taken in the page
 * (performance.now()), not through the DevTools protocol.
 */
import { parseArgs } from "node:util";
import { startServer } from "../tests/helpers/harness.ts";
import { waitForQuiet } from "./_machine.ts";
import { launchChromium } from "../tests/helpers/chromium.ts";
import { type BigLog, bigLogOf, writeBigLog } from "../tests/helpers/biglog.ts";
import type { Browser, Page } from "playwright-core";

// deno-lint-ignore no-explicit-any
declare const document: any;
// deno-lint-ignore no-explicit-any
declare const window: any;
// deno-lint-ignore no-explicit-any
declare const MutationObserver: any;
declare const requestAnimationFrame: (fn: () => void) => number;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    runtime: { type: "string", default: "deno" },
    gib: { type: "string", default: "4" },
    jumps: { type: "string", default: "60" },
    positions: { type: "string", default: "100" },
    loads: { type: "string", default: "3" },
    file: { type: "string" },
    "no-compare": { type: "boolean", default: false },
  },
});
const runtime = values.runtime === "bun" ? "bun" : "deno";

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
};
const ms = (x: number) => `${x.toFixed(0)} ms`;
const mib = (x: number) => `${(x / 2 ** 20).toFixed(1)} MiB`;
/** A fixed sequence of places on the bar, so runs compare. */
function places(n: number, seed: number): number[] {
  let x = seed;
  return Array.from({ length: n }, () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return 0.02 + 0.96 * (x / 2 ** 31);
  });
}

/** Records, in the page, when the file's last line is first in view, and the most line elements at once. */
async function instrument(page: Page, last: string): Promise<void> {
  await page.addInitScript((lastLine: string) => {
    window.__maxLines = 0;
    new MutationObserver(() => {
      const n = document.getElementById("content")?.childElementCount ?? 0;
      if (n > window.__maxLines) window.__maxLines = n;
    }).observe(document, { childList: true, subtree: true });
    const poll = () => {
      const view = document.getElementById("view");
      const ln = document.querySelector("#content .ln:last-child");
      if (view && ln && ln.textContent === lastLine) {
        const r = ln.getBoundingClientRect();
        const v = view.getBoundingClientRect();
        if (r.bottom <= v.bottom + 1 && r.top >= v.top - 1) {
          // The frame that shows it has been produced once a task runs after this one.
          return setTimeout(() => (window.__lastScreen = performance.now()));
        }
      }
      requestAnimationFrame(poll);
    };
    requestAnimationFrame(poll);
  }, last);
}

/** One load of `url`: when the last line was in view, the first window drawn, first contentful paint. */
async function load(browser: Browser, url: string, last: string) {
  const ctx = await browser.newContext({ viewport: { width: 1100, height: 640 } });
  const page = await ctx.newPage();
  await instrument(page, last);
  await page.goto(url, { waitUntil: "load", timeout: 60_000 });
  await page.waitForFunction(() => window.__lastScreen !== undefined, undefined, { timeout: 60_000 });
  await page.waitForFunction(() => performance.getEntriesByName("filewatch:window").length > 0, undefined, {
    timeout: 60_000,
  });
  const t = await page.evaluate(() => ({
    lastScreen: window.__lastScreen as number,
    window: performance.getEntriesByName("filewatch:window")[0]!.startTime,
    ready: performance.getEntriesByName("filewatch:ready")[0]!.startTime,
    fcp: performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? NaN,
    html: document.documentElement.outerHTML.length as number,
  }));
  await ctx.close();
  return t;
}

/** Clicks the bar at `f` and waits for the lines there: ms from pointerdown to the frame that draws them. */
async function jump(page: Page, f: number): Promise<number> {
  await page.evaluate(() => {
    window.__t0 = undefined;
    window.__t1 = undefined;
  });
  const box = (await page.locator("#bar").boundingBox())!;
  await page.mouse.click(box.x + box.width / 2, box.y + f * box.height);
  await page.waitForFunction(() => window.__t1 !== undefined, undefined, { timeout: 30_000 });
  return await page.evaluate(() => window.__t1 - window.__t0);
}

/** In the page: the time of each pointerdown on the bar, and of the frame after its lines were drawn. */
async function watchJumps(page: Page): Promise<void> {
  await page.evaluate(() => {
    const loading = document.getElementById("loading");
    document.getElementById("bar").addEventListener("pointerdown", () => {
      window.__t0 = performance.now();
      const poll = () => {
        // The placeholder goes when the lines are shown; a task after the frame: it is drawn.
        if (loading.hidden && document.getElementById("content").getAttribute("aria-busy") === "false") {
          return setTimeout(() => (window.__t1 = performance.now()));
        }
        requestAnimationFrame(poll);
      };
      requestAnimationFrame(poll);
    }, true);
  });
}

const counted = (page: Page) =>
  page.evaluate(() => /lines$/.test(document.getElementById("size").textContent) as boolean);

async function largeRuns(browser: Browser, log: BigLog) {
  const server = await startServer(runtime, { file: log.path, args: ["--tail", "1MiB", "--poll", "1s"] });
  try {
    // ---- loads -----------------------------------------------------------------
    const loads = [];
    for (let i = 0; i < Number(values.loads); i++) {
      await waitForQuiet(60, 1); // each load on a machine as quiet as others let it be
      loads.push(await load(browser, server.url, log.last));
    }

    // ---- jumps, and the heap after many places ---------------------------------------
    const ctx = await browser.newContext({ viewport: { width: 1100, height: 640 } });
    const page = await ctx.newPage();
    await instrument(page, log.last);
    await page.goto(server.url, { waitUntil: "load" });
    await page.waitForFunction(() => performance.getEntriesByName("filewatch:window").length > 0);
    await watchJumps(page);
    const coldJumps: number[] = [];
    // While the index is still being built the bar maps bytes (a fresh server: the loads above built it, so
    // this only happens for files the index takes longer on than the loads took).
    while (!(await counted(page)) && coldJumps.length < 10) {
      coldJumps.push(await jump(page, places(1, 7 + coldJumps.length)[0]!));
    }
    await page.waitForFunction(() => /lines$/.test(document.getElementById("size").textContent), undefined, {
      timeout: 600_000,
    });
    const jumps: number[] = [];
    await waitForQuiet(60, 1);
    for (const f of places(Number(values.jumps), 42)) jumps.push(await jump(page, f));
    await ctx.close();

    const heapCtx = await browser.newContext({ viewport: { width: 1100, height: 640 } });
    const hp = await heapCtx.newPage();
    await instrument(hp, log.last);
    await hp.goto(server.url, { waitUntil: "load" });
    await hp.waitForFunction(() => performance.getEntriesByName("filewatch:window").length > 0);
    await watchJumps(hp);
    const cdp = await heapCtx.newCDPSession(hp);
    const heap = async () => {
      await cdp.send("HeapProfiler.collectGarbage");
      return (await cdp.send("Runtime.getHeapUsage")).usedSize;
    };
    const heapStart = await heap();
    for (const f of places(Number(values.positions), 99)) await jump(hp, f);
    const heapEnd = await heap();
    const maxLines: number = await hp.evaluate(() => window.__maxLines);
    await heapCtx.close();
    return { loads, coldJumps, jumps, heapStart, heapEnd, maxLines };
  } finally {
    await server.stop();
  }
}

/** The page's own floor: first contentful paint of the same page for a one-line file. */
async function floorRuns(browser: Browser): Promise<number[]> {
  const dir = await Deno.makeTempDir({ prefix: "filewatch-bench-tiny-" });
  await Deno.writeTextFile(`${dir}/tiny.log`, "one line\n");
  const server = await startServer(runtime, { file: `${dir}/tiny.log`, args: ["--poll", "1s"] });
  try {
    const out: number[] = [];
    for (let i = 0; i < Number(values.loads); i++) {
      const ctx = await browser.newContext({ viewport: { width: 1100, height: 640 } });
      const page = await ctx.newPage();
      await page.goto(server.url, { waitUntil: "load" });
      await page.waitForFunction(() => performance.getEntriesByName("first-contentful-paint").length > 0);
      out.push(await page.evaluate(() => performance.getEntriesByName("first-contentful-paint")[0]!.startTime));
      await ctx.close();
    }
    return out;
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

/** The 16 MiB page held whole against the large view of the same file. */
async function compareRuns(browser: Browser) {
  const dir = await Deno.makeTempDir({ prefix: "filewatch-bench-16-" });
  // 16.0 MB, as bench/page.ts's page: under the default --max-file-size, so held whole.
  const log = await writeBigLog(`${dir}/mid.log`, 1, 16_000_000);
  const out: Record<string, Array<{ lastScreen: number; ready: number; fcp: number }>> = {};
  try {
    for (const [label, args] of [["whole", []], ["large", ["--max-file-size", "8MiB", "--tail", "1MiB"]]] as const) {
      const server = await startServer(runtime, { file: log.path, args: [...args, "--poll", "1s"] });
      try {
        const runs = [];
        for (let i = 0; i < Number(values.loads); i++) {
          const ctx = await browser.newContext({ viewport: { width: 1100, height: 640 } });
          // Interactive: the frame after the script took the page over, seen from the page's first moment.
          await ctx.addInitScript(() => {
            const poll = () => {
              if (performance.getEntriesByName("filewatch:ready").length === 0) return requestAnimationFrame(poll);
              requestAnimationFrame(() => setTimeout(() => (window.__ready = performance.now())));
            };
            requestAnimationFrame(poll);
          });
          const page = await ctx.newPage();
          await page.goto(server.url, { waitUntil: "load", timeout: 60_000 });
          await page.waitForFunction(() => window.__ready !== undefined, undefined, { timeout: 60_000 });
          const t = await page.evaluate(() => ({
            ready: window.__ready as number,
            fcp: performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? NaN,
          }));
          runs.push({ lastScreen: NaN, ...t });
          await ctx.close();
        }
        out[label] = runs;
      } finally {
        await server.stop();
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  return { size: log.size, out };
}

// ---- main ----------------------------------------------------------------------------
const browser = await launchChromium();
let made: string | null = null;
try {
  let log: BigLog;
  const t0 = performance.now();
  if (values.file) {
    // A kept file of the right size is used again (making 4 GiB takes a while).
    const want = bigLogOf(values.file, Number(values.gib) * 16);
    const have = await Deno.stat(values.file).then((s) => s.size, () => -1);
    log = have === want.size ? want : await writeBigLog(values.file, Number(values.gib) * 16);
  } else {
    made = await Deno.makeTempDir({ prefix: "filewatch-bench-big-" });
    log = await writeBigLog(`${made}/big.log`, Number(values.gib) * 16);
  }
  const madeMs = performance.now() - t0;
  const w0 = performance.now();
  const wc = await new Deno.Command("wc", { args: ["-l", log.path], stdout: "piped" }).output();
  const wcMs = performance.now() - w0;
  console.log(
    `${runtime}: ${(log.size / 2 ** 30).toFixed(2)} GiB, ${log.lines.toLocaleString("en")} lines (made in ${
      ms(madeMs)
    }; wc -l ${new TextDecoder().decode(wc.stdout).trim().split(" ")[0]} in ${
      ms(wcMs)
    }), Chromium ${browser.version()}`,
  );
  // Others use this machine: start when it is quiet for a second (below one busy core), and say how busy it was.
  console.log(`machine load before the runs: ${await waitForQuiet(120, 1)} cores busy`);
  const floor = await floorRuns(browser);
  const r = await largeRuns(browser, log);
  const cold = r.loads[0]!;
  const warm = r.loads.slice(1);
  const rows: string[][] = [
    ["page HTML", `${(cold.html / 1024).toFixed(0)} KiB`, ""],
    [
      "the page's own floor: FCP for a one-line file",
      `${ms(pct(floor, 50))} p50 (${floor.map(ms).join(", ")})`,
      "",
    ],
    [
      "load → last screen in view, first load (index cold)",
      `${ms(cold.lastScreen)} (FCP ${ms(cold.fcp)})`,
      "≤ 300 ms",
    ],
    [
      "load → last screen in view, later loads",
      warm.map((l) => ms(l.lastScreen)).join(", ") || "-",
      "≤ 300 ms",
    ],
    [
      "load → first window from /lines drawn (cold; later)",
      `${ms(cold.window)}; ${warm.map((l) => ms(l.window)).join(", ") || "-"}`,
      "",
    ],
    [
      "scrollbar jump → drawn, by bytes (index being built)",
      r.coldJumps.length
        ? `${ms(pct(r.coldJumps, 50))} p50, ${ms(pct(r.coldJumps, 95))} p95 (n=${r.coldJumps.length})`
        : "- (the index was complete)",
      "",
    ],
    [
      "scrollbar jump → drawn, by lines",
      `${ms(pct(r.jumps, 50))} p50, ${ms(pct(r.jumps, 95))} p95, ${ms(Math.max(...r.jumps))} max (n=${r.jumps.length})`,
      "≤ 200 ms p95",
    ],
    [
      `JS heap after ${values.positions} places (GC'd; at the start)`,
      `${mib(r.heapEnd)} (${mib(r.heapStart)})`,
      "≤ 64 MiB",
    ],
    ["line elements in the DOM at most", String(r.maxLines), "≤ ~2,000"],
  ];
  if (!values["no-compare"]) {
    const c = await compareRuns(browser);
    const row = (label: string, runs: Array<{ ready: number; fcp: number }>) => [
      `${(c.size / 2 ** 20).toFixed(0)} MiB, ${label}: FCP; script ready + a frame`,
      `${ms(pct(runs.map((x) => x.fcp), 50))}; ${ms(pct(runs.map((x) => x.ready), 50))} p50 (${
        runs.map((x) => ms(x.ready)).join(", ")
      })`,
      "",
    ];
    rows.push(row("held whole (default)", c.out.whole!), row("large view (--max-file-size 8MiB)", c.out.large!));
  }
  console.log("| measure | result | goal |\n|---|---|---|");
  for (const x of rows) console.log(`| ${x.join(" | ")} |`);
} finally {
  await browser.close();
  if (made) await Deno.remove(made, { recursive: true });
}
