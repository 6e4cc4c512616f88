/**
 * The page in Chromium through Debian's nginx running deploy/nginx.conf
 * (docs/deployment.md#behind-a-reverse-proxy), on every runtime: https at nginx, the /logs prefix, Basic
 * credentials checked by filewatch (the browser answers the 401 and sends
 * them with the WebSocket handshake), live updates over wss, and a
 * reconnection by itself after the filewatch process restarts behind nginx.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { certificate, htpasswd, PASSWORD, USER } from "../helpers/access.ts";
import { RUNTIMES, type Server, startServer, tempFile, waitFor } from "../helpers/harness.ts";
import { type Nginx, PREFIX, startNginx } from "../helpers/nginx.ts";
import { ARTIFACTS, launchChromium, watchedPage } from "../helpers/chromium.ts";

// deno-lint-ignore no-explicit-any
declare const document: any;

for (const rt of RUNTIMES) {
  Deno.test({
    name: `[${rt}] the page through nginx: https, /logs/, Basic credentials, wss, reconnect after a restart`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const tls = await certificate();
      const file = await tempFile("first line\n", "app.log");
      const args = [
        "--base-path",
        PREFIX,
        "--trust-proxy",
        "127.0.0.1/32",
        "--auth-file",
        await htpasswd(),
        "--poll",
        "200ms",
      ];
      let server: Server = await startServer(rt, { file, args });
      const port = server.port;
      let ngx: Nginx | null = null;
      const browser = await launchChromium();
      try {
        ngx = await startNginx({ upstream: port, cert: tls.cert, key: tls.key });
        const w = await watchedPage(browser, {
          httpCredentials: { username: USER, password: PASSWORD },
          ignoreHTTPSErrors: true,
        });
        const state = () =>
          w.page.evaluate(() => ({
            status: document.getElementById("status").dataset.state as string,
            content: document.getElementById("content").textContent as string,
            protocol: location.protocol as string,
          }));
        const until = async (what: string, pred: (s: Awaited<ReturnType<typeof state>>) => boolean, ms = 15_000) => {
          let last;
          try {
            return await waitFor(async () => pred(last = await state()) ? last : null, ms, what);
          } catch (e) {
            throw new Error(`${(e as Error).message}; last seen ${JSON.stringify(last)}`);
          }
        };
        try {
          const res = await w.page.goto(`${ngx.origin}${PREFIX}/`);
          assertEquals(res?.status(), 200);
          let s = await until("connected", (s) => s.status === "connected" && s.content === "first line\n");
          assertEquals(s.protocol, "https:");
          assertEquals(w.sockets[0], `wss://127.0.0.1:${ngx.port}${PREFIX}/ws?lastMod=${await lastMod(w)}&size=11`);

          await Deno.writeTextFile(file, "second line\n", { append: true });
          await until("the append", (s) => s.content === "first line\nsecond line\n");

          // filewatch restarts behind nginx: the page notices, retries through nginx, and comes back by itself.
          await server.stop();
          await until("reconnecting", (s) => s.status !== "connected");
          await Deno.writeTextFile(file, "after the restart\n", { append: true });
          server = await startServer(rt, { file, args, port });
          s = await until(
            "back after the restart",
            (s) => s.status === "connected" && s.content === "first line\nsecond line\nafter the restart\n",
            20_000,
          );
          assert(w.sockets.length >= 2, "a new socket");
          assert(w.sockets.every((u) => u.startsWith(`wss://127.0.0.1:${ngx!.port}${PREFIX}/ws`)), w.sockets.join());
          assertEquals(w.pageErrors, []);
          assertEquals(w.cspViolations, []);
          // The credentials came from the browser, not from the test: without them nginx's answer is filewatch's 401.
          const anon = await fetch(`${ngx.origin}${PREFIX}/`, {
            client: Deno.createHttpClient({ caCerts: [tls.pem] }),
          });
          assertEquals(anon.status, 401);
          await anon.body?.cancel();
          await Deno.mkdir(ARTIFACTS, { recursive: true });
          await w.page.screenshot({ path: `${ARTIFACTS}proxy-${rt}.png` });
        } catch (e) {
          await Deno.mkdir(ARTIFACTS, { recursive: true });
          await w.page.screenshot({ path: `${ARTIFACTS}failed-${rt}-proxy.png` }).catch(() => {});
          console.error(`server stderr (${rt}):\n${server.stderr.slice(-20).join("\n")}`);
          console.error(`nginx error log:\n${(await ngx.errorLog()).split("\n").slice(-20).join("\n")}`);
          throw e;
        } finally {
          await w.context.close();
        }
      } finally {
        await browser.close();
        await ngx?.stop();
        await server.stop();
      }
    },
  });
}

/** The version the page was served with, as its first socket resumes from. */
async function lastMod(w: { page: { evaluate<T>(fn: () => T): Promise<T> } }): Promise<string> {
  return await w.page.evaluate(() => document.body.dataset.lastMod as string);
}
