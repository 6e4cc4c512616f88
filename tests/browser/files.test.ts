/**
 * Several files in Chromium (issue 13), on every runtime: from the index to a
 * file's page, live updates there over `/ws/{name}`, and back to the index,
 * which shows the file's new size; files that appear show up without a reload;
 * axe-core finds no serious or critical violations on the index.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { RUNTIMES, startServer, waitFor } from "../helpers/harness.ts";
import { ARTIFACTS, launchChromium, watchedPage } from "../helpers/chromium.ts";
import { axeViolations } from "../helpers/axe.ts";
import type { Page } from "playwright-core";
import { formatSize } from "../../src/shared/format.ts";

// deno-lint-ignore no-explicit-any
declare const document: any;

/** The index's rows as shown: name → size cell. */
function rows(page: Page): Promise<Record<string, string>> {
  return page.evaluate(() => {
    const out: Record<string, string> = {};
    for (const tr of document.querySelectorAll("#files tr")) {
      out[tr.dataset.name] = tr.querySelector(".size")?.textContent ?? "";
    }
    return out;
  });
}

async function until<T>(what: string, fn: () => Promise<T | null | false>, ms = 8_000): Promise<T> {
  return await waitFor(fn, ms, what) as T;
}

for (const rt of RUNTIMES) {
  Deno.test({ name: `[${rt}] several files in Chromium`, sanitizeOps: false, sanitizeResources: false }, async () => {
    const dir = await Deno.makeTempDir({ prefix: "filewatch-browser-files-" });
    await Deno.writeTextFile(`${dir}/app.log`, "first line\n");
    await Deno.writeTextFile(`${dir}/err.log`, "no errors\n");
    const server = await startServer(rt, { file: dir, args: ["--poll", "200ms", "--dir"] });
    const browser = await launchChromium();
    const w = await watchedPage(browser);
    const page = w.page;
    try {
      await page.goto(server.url);
      assertEquals(await rows(page), { "app.log": "11 B", "err.log": "10 B" });
      await until("the index live", async () => (await page.textContent("#status-text")) === "live");
      // The index is checked for accessibility like the file's page (§13: no serious or critical violations).
      assertEquals(await axeViolations(page), [], "the index");

      // A file created now shows up without a reload.
      await Deno.writeTextFile(`${dir}/new.log`, "new\n");
      await until("new.log listed", async () => (await rows(page))["new.log"] === "4 B");

      // Into a file's page, which connects to its own socket.
      await page.click('a[href="/f/app.log"]');
      await page.waitForURL(`${server.url}f/app.log`);
      await until("connected", async () => (await page.getAttribute("#status", "data-state")) === "connected");
      assertEquals(await page.textContent("#content"), "first line\n");
      assert(w.sockets.at(-1)!.startsWith(`${server.wsUrl}/app.log?lastMod=`), w.sockets.join(" "));

      // Live updates.
      const more = "second line\n".repeat(100);
      await Deno.writeTextFile(`${dir}/app.log`, more, { append: true });
      await until("the append shown", async () => (await page.textContent("#content")) === "first line\n" + more);
      const size = formatSize(11 + more.length);

      // Back to the index: it shows the new size.
      await page.goBack();
      await page.waitForURL(server.url);
      await until(`app.log at ${size}`, async () => (await rows(page))["app.log"] === size);
      assertEquals(await axeViolations(page), [], "the index after coming back");
      assertEquals(w.pageErrors, [], "no uncaught errors in the pages");
      assertEquals(w.cspViolations, [], "no Content-Security-Policy violations");
      await Deno.mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: `${ARTIFACTS}files-${rt}.png` });
    } catch (e) {
      await Deno.mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: `${ARTIFACTS}failed-${rt}-files.png` }).catch(() => {});
      console.error(`server stderr (${rt}):\n${server.stderr.slice(-20).join("\n")}`);
      throw e;
    } finally {
      await w.context.close();
      await browser.close();
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  });
}
