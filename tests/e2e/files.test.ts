/**
 * Several files (issue 13; docs/configuration.md#several-files), on every runtime: a list of FILEs and
 * `--dir`/`--glob`, the index, `/files`, `/f/{name}`, `/ws/{name}`; files that
 * come and go; names that try to reach outside the list; FIFOs; watchers that
 * run only while a file has viewers; appends, tail and resume per file.
 */
import { closeSync, constants, openSync } from "node:fs";
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { parseExposition } from "../helpers/prom.ts";
import { connect } from "../helpers/client.ts";
import { type RuntimeName, RUNTIMES, type Server, startServer, waitFor } from "../helpers/harness.ts";
import { rawHttp } from "../helpers/rawws.ts";

/**
 * Bun resolves dot segments (`/f/..`, `/f/%2e%2e`, RFC 3986 §5.2.4) before the
 * app sees the request, which then asks for `/`, the index: no name is looked
 * up and no file's bytes are sent. Deno hands the path over as sent: 404.
 */
const DOT_SEGMENTS_RESOLVED: Record<RuntimeName, boolean> = { deno: false, bun: true };
const DOT_SEGMENTS = new Set(["..", "%2e%2e"]);

type Listed = { name: string; size?: number; lastMod?: string; error?: string };

async function files(s: Server): Promise<Listed[]> {
  const res = await fetch(s.url + "files");
  assertEquals(res.status, 200);
  assertMatch(res.headers.get("content-type") ?? "", /^application\/json/);
  return await res.json();
}

async function gauge(s: Server, name: string): Promise<number | undefined> {
  const res = await fetch(s.url + "metrics");
  return parseExposition(await res.text()).get(name);
}

/** A FIFO at `path` has no reader: opening it for writing without blocking fails with ENXIO. */
function fifoHasNoReader(path: string): boolean {
  try {
    const fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
    closeSync(fd);
    return false;
  } catch (e) {
    return (e as { code?: string }).code === "ENXIO";
  }
}

/** A fresh `root` holding DIR (`root/dir`, empty) and, outside it, `root/secret.txt` with the text `secret`. */
async function dirBesideSecret(name: string): Promise<{ root: string; dir: string; secret: string }> {
  const root = await Deno.makeTempDir({ prefix: `filewatch-${name}-` });
  const dir = `${root}/dir`;
  await Deno.mkdir(dir);
  const secret = `SECRET-${crypto.randomUUID()}`;
  await Deno.writeTextFile(`${root}/secret.txt`, secret);
  return { root, dir, secret };
}

async function mkfifo(path: string): Promise<void> {
  const out = await new Deno.Command("mkfifo", { args: [path] }).output();
  assert(out.success, "mkfifo");
}

for (const rt of RUNTIMES) {
  const t = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${rt}] ${name}`, fn, sanitizeOps: false, sanitizeResources: false });

  t(
    "two FILEs with one base name: unique names, index, /files, /f/{name}, /ws/{name}; /ws is 404 naming /ws/{name}",
    async () => {
      const root = await Deno.makeTempDir({ prefix: "filewatch-files-" });
      await Deno.mkdir(`${root}/one`);
      await Deno.mkdir(`${root}/two`);
      await Deno.writeTextFile(`${root}/one/app.log`, "first one\n");
      await Deno.writeTextFile(`${root}/two/app.log`, "first two\n");
      await Deno.writeTextFile(`${root}/err.log`, "<b>err</b>\n");
      const s = await startServer(rt, {
        file: `${root}/err.log`,
        args: ["--poll", "200ms", `${root}/one/app.log`, `${root}/two/app.log`],
      });
      try {
        const list = await files(s);
        assertEquals(list.map((f) => f.name), ["err.log", "one~app.log", "two~app.log"]);
        assertEquals(list.map((f) => f.size), [11, 10, 10]);
        for (const f of list) assertMatch(f.lastMod!, /^[0-9a-f]+$/);

        const index = await fetch(s.url);
        assertEquals(index.status, 200);
        const html = await index.text();
        assertMatch(index.headers.get("content-security-policy") ?? "", /script-src 'nonce-/);
        for (const n of ["err.log", "one~app.log", "two~app.log"]) assert(html.includes(`href="/f/${n}"`), n);
        assert(!html.includes("first one"), "the index shows no content");

        const page = await fetch(s.url + "f/one~app.log");
        assertEquals(page.status, 200);
        const ptext = await page.text();
        assert(ptext.includes("first one"), "the page has its file's content");
        assert(!ptext.includes("first two"));
        assert(ptext.includes(`data-socket="/ws/one~app.log"`), "the page's socket path");
        assert(ptext.includes(`<a id="index" href="/">`), "a link back to the index");
        const escaped = await (await fetch(s.url + "f/err.log")).text();
        assert(escaped.includes("&lt;b&gt;err&lt;/b&gt;"), "content escaped");

        const bare = await fetch(s.url + "ws");
        assertEquals(bare.status, 404);
        assertMatch(await bare.text(), /\/ws\/\{name\}/);
        // The download of one file of several (§13): its own bytes, by name only.
        assert(ptext.includes(`href="/raw/one~app.log"`), "the page's Download link");
        const raw = await fetch(s.url + "raw/one~app.log");
        assertEquals(raw.status, 200);
        assertEquals(await raw.text(), "first one\n");
        const bareRaw = await fetch(s.url + "raw");
        assertEquals(bareRaw.status, 404);
        assertMatch(await bareRaw.text(), /\/raw\/\{name\}/);

        const a = connect(s.wsUrl + "/one~app.log", { protocols: ["filewatch.v1"] });
        const b = connect(s.wsUrl + "/two~app.log");
        const first = await a.json(0);
        assertEquals([first.type, first.data], ["content", "first one\n"]);
        assertEquals((await b.message(0)).data, "first two\n");
        await Deno.writeTextFile(`${root}/one/app.log`, "more\n", { append: true });
        const app = await a.json(1);
        assertEquals([app.type, app.data, app.offset], ["append", "more\n", 10]);
        await Deno.writeTextFile(`${root}/two/app.log`, "second two\n");
        assertEquals((await b.message(1)).data, "second two\n");
        await new Promise((r) => setTimeout(r, 400));
        assertEquals([a.messages.length, b.messages.length], [2, 2], "each client only hears its own file");
        a.close();
        b.close();
        await Promise.all([a.closed, b.closed]);
      } finally {
        await s.stop();
      }
    },
  );

  t(
    "--dir with --glob: files created later appear and deleted ones go within poll + 1 s; a FIFO is never opened",
    async () => {
      const dir = await Deno.makeTempDir({ prefix: "filewatch-dir-" });
      await Deno.writeTextFile(`${dir}/a.log`, "a\n");
      await Deno.writeTextFile(`${dir}/b.txt`, "not matched\n");
      await Deno.writeTextFile(`${dir}/.hidden.log`, "hidden\n");
      await Deno.mkdir(`${dir}/sub.log`);
      await mkfifo(`${dir}/pipe.log`);
      const poll = 300;
      const s = await startServer(rt, { file: dir, args: ["--poll", `${poll}ms`, "--glob", "*.log", "--dir"] });
      try {
        assertEquals((await files(s)).map((f) => f.name), ["a.log"]);
        assertEquals((await fetch(s.url + "f/pipe.log")).status, 404);
        assertEquals((await fetch(s.url + "ws/pipe.log")).status, 404);
        assertEquals((await fetch(s.url + "f/b.txt")).status, 404);
        assertEquals((await fetch(s.url + "ws")).status, 404, "an index, even with one file");
        assertMatch(await (await fetch(s.url)).text(), /href="\/f\/a\.log"/);

        const v = connect(s.wsUrl + "/a.log", { protocols: ["filewatch.v1"] });
        assertEquals((await v.json(0)).data, "a\n");

        await Deno.writeTextFile(`${dir}/c.log`, "c\n");
        const created = Date.now();
        await waitFor(async () => (await files(s)).some((f) => f.name === "c.log"), poll + 1_000, "c.log listed");
        assert(Date.now() - created <= poll + 1_000);
        const c = connect(s.wsUrl + "/c.log");
        assertEquals((await c.message(0)).data, "c\n");

        await Deno.remove(`${dir}/a.log`);
        const removed = Date.now();
        await waitFor(async () => !(await files(s)).some((f) => f.name === "a.log"), poll + 1_000, "a.log gone");
        assert(Date.now() - removed <= poll + 1_000);
        assertEquals((await fetch(s.url + "f/a.log")).status, 404);
        const err = await v.json(1);
        assertEquals(err.type, "error", "its viewer hears that it is gone");

        // Other files keep updating; the FIFO was never opened (it still has no reader), nothing hangs.
        await Deno.writeTextFile(`${dir}/c.log`, "c2\n");
        assertEquals((await c.message(1)).data, "c2\n");
        assertEquals((await fetch(s.url + "healthz")).status, 200);
        assert(fifoHasNoReader(`${dir}/pipe.log`), "the server holds the FIFO open");
        v.close();
        c.close();
        await Promise.all([v.closed, c.closed]);
      } finally {
        await s.stop();
      }
    },
  );

  t("a FIFO given as FILE is never opened: its page says so, the other file keeps updating", async () => {
    const dir = await Deno.makeTempDir({ prefix: "filewatch-fifo-" });
    await Deno.writeTextFile(`${dir}/a.log`, "a\n");
    await mkfifo(`${dir}/pipe`);
    const s = await startServer(rt, { file: `${dir}/a.log`, args: ["--poll", "100ms", `${dir}/pipe`] });
    try {
      const list = await files(s);
      assertEquals(list[1], { name: "pipe", error: "pipe: not a regular file" });
      const page = await fetch(s.url + "f/pipe", { signal: AbortSignal.timeout(3_000) });
      assertEquals(page.status, 200);
      assertMatch(await page.text(), /not a regular file/);
      const p = connect(s.wsUrl + "/pipe", { protocols: ["filewatch.v1"] });
      assertEquals((await p.json(0)).type, "error");
      const a = connect(s.wsUrl + "/a.log");
      assertEquals((await a.message(0)).data, "a\n");
      await Deno.writeTextFile(`${dir}/a.log`, "a2\n");
      assertEquals((await a.message(1)).data, "a2\n");
      assert(fifoHasNoReader(`${dir}/pipe`), "the server holds the FIFO open");
      p.close();
      a.close();
      await Promise.all([p.closed, a.closed]);
    } finally {
      await s.stop();
    }
  });

  t(
    "traversal battery: 40 crafted names on every route that takes one are 404 or 400 (Bun: `/f/..` is `/`), never a byte from outside",
    async () => {
      const { root, dir, secret } = await dirBesideSecret("trav");
      await Deno.writeTextFile(`${dir}/a.log`, "inside\n");
      await Deno.symlink(`${root}/secret.txt`, `${dir}/link.log`);
      await Deno.symlink(`${dir}/a.log`, `${dir}/ok.log`);
      const s = await startServer(rt, { file: dir, args: ["--poll", "200ms", "--dir"] });
      try {
        assertEquals((await files(s)).map((f) => f.name), ["a.log", "ok.log"], "the outside symlink is not listed");
        const abs = encodeURIComponent(`${root}/secret.txt`);
        const names = [
          "..%2fsecret.txt",
          "..%2Fsecret.txt",
          "%2e%2e%2fsecret.txt",
          "%2E%2E%2Fsecret.txt",
          "%2e%2e/secret.txt",
          "..%252fsecret.txt",
          "%252e%252e%252fsecret.txt",
          "..%5csecret.txt",
          "..\\secret.txt",
          "%2e%2e%5csecret.txt",
          abs,
          `%2F${abs}`,
          "%2fetc%2fpasswd",
          "..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
          "..",
          ".",
          "%2e%2e",
          "%2e",
          "a.log%00",
          "a.log%00.txt",
          "%00",
          "%00..%2fsecret.txt",
          "%E2%80%A5%2fsecret.txt", // U+2025 two dot leader
          "%E2%80%A4%E2%80%A4%2fsecret.txt", // U+2024 one dot leader
          "%EF%BC%8E%EF%BC%8E%2fsecret.txt", // U+FF0E fullwidth full stop
          "%C0%AE%C0%AE%2fsecret.txt", // overlong UTF-8 dots
          "..%c0%afsecret.txt", // overlong UTF-8 slash
          "link.log", // a symlink pointing outside
          "secret.txt", // an existing file outside DIR
          "dir~secret.txt",
          "a.log%2f..%2f..%2fsecret.txt",
          "....%2f%2fsecret.txt",
          "..%3b%2fsecret.txt",
          "~%2fsecret.txt",
          "file:%2f%2f%2fetc%2fpasswd",
          "A.LOG",
          "a.log%20",
          "%u002e%u002e%u2215secret.txt",
          "%25",
          "%",
        ];
        assert(names.length >= 30);
        const routes = ["/f/", "/ws/", "/raw/"];
        const bad: string[] = [];
        let answered = 0;
        for (const name of names) {
          for (const route of routes) {
            for (const upgrade of [false, true]) {
              if (upgrade && route !== "/ws/") continue;
              const extra = upgrade
                ? "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                : "";
              const req =
                `GET ${route}${name} HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\n${extra}Connection: close\r\n\r\n`;
              const r = await rawHttp("127.0.0.1", s.port, req, 5_000);
              const what = `${upgrade ? "upgrade " : "GET "}${route}${name}`;
              if (!r.response) {
                bad.push(`${what}: no answer (${r.error})`);
                continue;
              }
              answered++;
              const { status, body } = r.response;
              if (DOT_SEGMENTS.has(name) && DOT_SEGMENTS_RESOLVED[rt]) {
                if (status !== 200 || !body.includes('<tbody id="files">')) {
                  bad.push(`${what}: ${status}, not the index`);
                }
              } else if (status !== 404 && status !== 400) bad.push(`${what}: ${status}`);
              if (body.includes(secret) || body.includes("root:x:0:0")) bad.push(`${what}: leaked outside bytes`);
            }
          }
        }
        // Raw bytes in the request line: NUL and a look-alike dot unencoded.
        for (const name of ["..\u0000/secret.txt", "a.log\u0000", "\u2025/secret.txt", "\uFF0E\uFF0E/secret.txt"]) {
          for (const route of routes) {
            const req = new TextEncoder().encode(
              `GET ${route}${name} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
            );
            const r = await rawHttp("127.0.0.1", s.port, req, 5_000);
            if (r.response) {
              answered++;
              // 505: Bun's parser refuses a request line with a NUL as not HTTP/1.1.
              if (![400, 404, 505].includes(r.response.status)) {
                bad.push(`raw ${route}${name}: ${r.response.status}`);
              }
              if (r.response.body.includes(secret)) bad.push(`raw ${route}${name}: leaked`);
            } // else: the runtime refused the request line by closing; nothing was served
          }
        }
        assertEquals(bad, []);
        assert(answered >= names.length * 4, `answered ${answered}`);
        const listing = await (await fetch(s.url + "files")).text();
        assert(!listing.includes(secret) && !listing.includes("secret.txt"), "/files names nothing outside");
        assertEquals((await fetch(s.url + "f/ok.log")).status, 200, "a symlink inside DIR is listed and served");
        assertEquals((await fetch(s.url + "healthz")).status, 200, "the server is fine");
      } finally {
        await s.stop();
      }
    },
  );

  t(
    "--dir: a listed file swapped for a symlink out of DIR is refused by /raw/{name} (403), /f/{name} and /ws/{name} before the next listing",
    async () => {
      const { root, dir, secret } = await dirBesideSecret("swap");
      await Deno.writeTextFile(`${dir}/a.log`, "inside a\n");
      await Deno.writeTextFile(`${dir}/b.log`, "inside b\n");
      await Deno.symlink(`${dir}/b.log`, `${dir}/ok.log`);
      // A poll far longer than the test: the listing read first stays the one names are looked up in.
      const s = await startServer(rt, { file: dir, args: ["--poll", "60s", "--dir"] });
      try {
        assertEquals((await files(s)).map((f) => f.name), ["a.log", "b.log", "ok.log"]);
        // The swap is one rename, as an attacker who can write in DIR would do it.
        await Deno.symlink(`${root}/secret.txt`, `${root}/swap`);
        await Deno.rename(`${root}/swap`, `${dir}/a.log`);
        assertEquals((await files(s)).map((f) => f.name), ["a.log", "b.log", "ok.log"], "still listed");

        for (const method of ["GET", "HEAD"]) {
          const raw = await fetch(s.url + "raw/a.log", { method });
          const body = await raw.text();
          assert(!body.includes(secret), "/raw/{name} sent the outside file's bytes");
          assertEquals(raw.status, 403, `${method} /raw/a.log`);
          if (method === "GET") assertEquals(body, "Forbidden: a.log: not in the watched directory\n");
        }
        const page = await fetch(s.url + "f/a.log");
        const html = await page.text();
        assert(!html.includes(secret), "/f/{name} showed the outside file");
        assertMatch(html, /not in the watched directory/);
        const v = connect(s.wsUrl + "/a.log", { protocols: ["filewatch.v1"] });
        const first = await v.json(0);
        assertEquals([first.type, first.message], ["error", "a.log: not in the watched directory"]);
        assert(!JSON.stringify(first).includes(secret), "/ws/{name} sent the outside file");
        v.close();
        await v.closed;

        // A symlink that stays inside DIR is still served, by /raw/{name} too.
        const ok = await fetch(s.url + "raw/ok.log");
        assertEquals([ok.status, await ok.text()], [200, "inside b\n"]);
      } finally {
        await s.stop();
        await Deno.remove(root, { recursive: true });
      }
    },
  );

  t(
    "watchers: 200 files and no viewers run none; one viewer runs one; it leaves, none within a few seconds",
    async () => {
      const dir = await Deno.makeTempDir({ prefix: "filewatch-many-" });
      for (let i = 0; i < 200; i++) {
        await Deno.writeTextFile(`${dir}/f${String(i).padStart(3, "0")}.log`, `file ${i}\n`);
      }
      const s = await startServer(rt, { file: dir, args: ["--poll", "200ms", "--dir"] });
      try {
        assertEquals((await files(s)).length, 200);
        const page = await fetch(s.url + "f/f007.log");
        assertMatch(await page.text(), /file 7/);
        assertEquals(await gauge(s, "filewatch_watchers"), 0, "a page view starts no watcher");
        assertEquals(await gauge(s, "filewatch_files"), 200);
        const v = connect(s.wsUrl + "/f007.log");
        assertEquals((await v.message(0)).data, "file 7\n");
        assertEquals(await gauge(s, "filewatch_watchers"), 1);
        v.close();
        await v.closed;
        await waitFor(
          async () => (await gauge(s, "filewatch_watchers")) === 0,
          3_000,
          "watchers back to 0",
        );
      } finally {
        await s.stop();
      }
    },
  );

  t("appends, tail and resume work per file", async () => {
    const dir = await Deno.makeTempDir({ prefix: "filewatch-tail-" });
    const big = "x".repeat(99) + "\n";
    await Deno.writeTextFile(`${dir}/big.log`, big.repeat(30)); // 3000 bytes
    await Deno.writeTextFile(`${dir}/small.log`, "s\n");
    const s = await startServer(rt, { file: dir, args: ["--poll", "100ms", "--tail", "1KiB", "--dir"] });
    try {
      const b = connect(s.wsUrl + "/big.log", { protocols: ["filewatch.v1"] });
      const first = await b.json(0);
      assertEquals(first.type, "content");
      assert((first.offset as number) > 0 && first.size === 3000, `tail window at ${first.offset}`);
      await Deno.writeTextFile(`${dir}/big.log`, "tail line\n", { append: true });
      const app = await b.json(1);
      assertEquals([app.type, app.data, app.offset, app.size], ["append", "tail line\n", 3000, 3010]);
      b.close();
      await b.closed;

      const sm = connect(s.wsUrl + "/small.log", { protocols: ["filewatch.v1"] });
      const c0 = await sm.json(0);
      sm.close();
      await sm.closed;
      await Deno.writeTextFile(`${dir}/small.log`, "more\n", { append: true });
      const url = `${s.wsUrl}/small.log?lastMod=${c0.lastMod}&size=${c0.size}`;
      const r = connect(url, { protocols: ["filewatch.v1"] });
      const resumed = await r.json(0);
      assertEquals([resumed.type, resumed.data, resumed.offset], ["append", "more\n", 2], "resumed by one append");
      r.close();
      await r.closed;
    } finally {
      await s.stop();
    }
  });
}

for (const rt of RUNTIMES) {
  const t = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${rt}] ${name}`, fn, sanitizeOps: false, sanitizeResources: false });

  /** A handshake for `/ws/{name}` over raw TCP: its status. */
  const upgrade = async (s: Server, name: string) =>
    (await rawHttp(
      "127.0.0.1",
      s.port,
      `GET /ws/${name} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nConnection: close\r\n\r\n",
      5_000,
    )).response?.status;

  t(
    "--dir: a hard link in DIR to a file outside is not listed and is 403 on every route by its name; --allow-hardlinks serves it",
    async () => {
      const { root, dir, secret } = await dirBesideSecret("hardlink");
      await Deno.writeTextFile(`${dir}/a.log`, "inside\n");
      await Deno.link(`${root}/secret.txt`, `${dir}/link.log`);
      const s = await startServer(rt, { file: dir, args: ["--poll", "200ms", "--dir"] });
      try {
        assertEquals((await files(s)).map((f) => f.name), ["a.log"]);
        for (const route of ["f", "raw"]) {
          const r = await fetch(`${s.url}${route}/link.log`);
          const body = await r.text();
          assertEquals(r.status, 403, route);
          assertEquals(body, "Forbidden: link.log: has more than one hard link (--allow-hardlinks serves it)\n");
          assert(!body.includes(secret));
        }
        assertEquals(await upgrade(s, "link.log"), 403);
        assertEquals((await fetch(`${s.url}raw/a.log`)).status, 200, "a file with one link is served");
      } finally {
        await s.stop();
      }
      const allowed = await startServer(rt, { file: dir, args: ["--poll", "200ms", "--allow-hardlinks", "--dir"] });
      try {
        assertEquals((await files(allowed)).map((f) => f.name), ["a.log", "link.log"]);
        assertEquals(await (await fetch(`${allowed.url}raw/link.log`)).text(), secret);
      } finally {
        await allowed.stop();
      }
    },
  );

  t(
    "--dir: a listed file that gains a second link is refused when read: /raw/{name} 403, its page and socket show the error",
    async () => {
      const { root, dir } = await dirBesideSecret("gainslink");
      await Deno.writeTextFile(`${dir}/a.log`, "inside\n");
      const s = await startServer(rt, { file: dir, args: ["--poll", "100ms", "--dir"] });
      try {
        const c = connect(s.url.replace(/^http/, "ws") + "ws/a.log", { protocols: ["filewatch.v1"] });
        assertEquals((await c.json(0, 5_000)).type, "content");
        await Deno.link(`${dir}/a.log`, `${root}/elsewhere.log`);
        await Deno.writeTextFile(`${dir}/a.log`, "changed\n");
        const err = await c.json(1, 5_000);
        assertEquals(err.type, "error");
        assertMatch(String(err.message), /a\.log: has more than one hard link/);
        const raw = await fetch(`${s.url}raw/a.log`);
        assertEquals(raw.status, 403);
        await raw.body?.cancel();
        c.close();
      } finally {
        await s.stop();
      }
    },
  );
}
