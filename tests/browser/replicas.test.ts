/**
 * The page in Chromium behind a real nginx (deploy/compose/nginx.conf) in
 * front of three replicas (docs/deployment.md#replicas): the replica the page is connected to
 * is stopped with SIGTERM while the log grows; the page reconnects through
 * nginx to another replica, resumes there with appends only (never the whole
 * file again), and ends showing the file as it is.
 * @module
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { rawRequest, RUNTIMES, type Server, startServer, tempFile, waitFor } from "../helpers/harness.ts";
import { freePort, nginxConfig, startNginx, stopNginx } from "../helpers/replicas_nginx.ts";
import { parseExposition } from "../helpers/prom.ts";
import { launchChromium, watchedPage } from "../helpers/chromium.ts";

// deno-lint-ignore no-explicit-any
declare const document: any;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Viewers connected to one replica, asked directly (not through nginx). */
async function clientsOf(s: Server): Promise<number> {
  const res = await rawRequest(s.port, `GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  return parseExposition(res.body).get("filewatch_clients") ?? 0;
}

for (const rt of RUNTIMES) {
  Deno.test({
    name: `[${rt}] the page behind nginx survives its replica being stopped, without being sent the file again`,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const file = await tempFile("line 0\n", "app.log");
      const dir = await Deno.makeTempDir({ prefix: "filewatch-nginx-browser-" });
      const servers: Server[] = [];
      let nginx: Deno.ChildProcess | null = null;
      const browser = await launchChromium();
      let writing = true;
      let writer: Promise<void> = Promise.resolve();
      try {
        for (let i = 0; i < 3; i++) {
          servers.push(await startServer(rt, { file, args: ["--max-clients-per-ip", "0", "--poll", "200ms"] }));
        }
        const port = freePort();
        nginx = await startNginx(nginxConfig(servers.map((s) => s.port), port, dir), dir, port);
        const w = await watchedPage(browser);
        await w.page.goto(`http://127.0.0.1:${port}/`);
        const text = () => w.page.evaluate(() => document.getElementById("content").textContent as string);
        const state = () => w.page.evaluate(() => document.getElementById("status").dataset.state as string);
        await waitFor(async () => (await state()) === "connected", 10_000, "the page connected");

        let n = 0;
        writer = (async () => {
          while (writing) {
            await Deno.writeTextFile(file, `line ${++n}\n`, { append: true });
            await sleep(200);
          }
        })();
        await sleep(1_000);
        // The replica holding the page's socket.
        let victim: Server | undefined;
        await waitFor(
          async () => {
            for (const s of servers) if (await clientsOf(s) === 1) victim = s;
            return victim;
          },
          5_000,
          "the replica the page is on",
        );
        assertEquals((await victim!.stop("SIGTERM")).code, 0);
        await waitFor(() => w.sockets.length >= 2, 10_000, "the page reconnecting");
        await sleep(1_500);
        writing = false;
        await writer;
        await Deno.writeTextFile(file, "the last line\n", { append: true });
        const final = await Deno.readTextFile(file);
        await waitFor(async () => (await text()) === final, 10_000, "the page showing the file as it is");
        assertEquals(await state(), "connected");
        // The page came with the file in its HTML and resumes from it: appends only, on every socket.
        const later = w.frames.filter((f) => f.socket > 0);
        assert(later.length > 0, "updates arrived after the reconnect");
        assertEquals(w.frames.filter((f) => f.type !== "append").map((f) => f.type), [], "before the move too");
        assertEquals(
          later.filter((f) => f.type !== "append").map((f) => f.type),
          [],
          "after the move: appends only, never the file again",
        );
        assertEquals(w.pageErrors, []);
        await w.context.close();
      } finally {
        writing = false;
        await writer.catch(() => {});
        await browser.close();
        if (nginx) await stopNginx(nginx);
        await Promise.all(servers.map((s) => s.stop()));
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    },
  });
}
