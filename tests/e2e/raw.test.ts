/**
 * `GET /raw` (docs/page.md#download) against a real server on every runtime: the file's
 * exact bytes, the download headers, errors as 404/503 with a reason, and a
 * large file streamed rather than loaded (the server's peak RSS does not grow
 * by the file's size). Also: the page's script is the same bytes on both
 * runtimes (it is the committed bundle). Ranges: random single ranges of a
 * 256 MiB log made at test time are byte-exact against the file, with 206 and
 * `Content-Range`; 416 past the end; several ranges get the whole file; the
 * same on `/raw/{name}` under `--dir`.
 */
import { closeSync, constants, openSync } from "node:fs";
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import {
  EXPECT,
  ROOT,
  type RuntimeName,
  RUNTIMES,
  type Server,
  startServer,
  tempFile,
  withServer as serve,
} from "../helpers/harness.ts";
import { CLIENT_SCRIPT } from "../../src/client_bundle.ts";

/** A server on a new file, polling every 200 ms. */
const withServer = (
  rt: RuntimeName,
  content: string | Uint8Array,
  args: string[],
  fn: (s: Server) => Promise<void>,
  name?: string,
) => serve(rt, content, ["--poll", "200ms", ...args], fn, name);

/** A process's resident set now and at its peak, in bytes (Linux /proc). */
async function rss(pid: number): Promise<{ now: number; peak: number }> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
  return { now: kb("VmRSS"), peak: kb("VmHWM") };
}

/**
 * Writes a `size`-byte log to `path` fast: a 1 MiB block of numbered lines,
 * written 256 times with the block's number stamped into every line, so no
 * two blocks are alike and a range served from the wrong place cannot match.
 */
async function writeLog(path: string, size: number): Promise<void> {
  const BLOCK = 1 << 20;
  const enc = new TextEncoder();
  let text = "";
  for (let i = 0; text.length < BLOCK; i++) {
    text += `2026-12-07T00:00:00.000Z INFO block=###### line=${String(i).padStart(6, "0")} ${
      "abcdefgh".repeat(i % 9)
    }\n`;
  }
  const block = enc.encode(text.slice(0, BLOCK - 1) + "\n");
  const marks: number[] = [];
  for (let i = block.indexOf(35); i >= 0; i = block.indexOf(35, i + 6)) marks.push(i);
  const f = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    for (let b = 0; b * BLOCK < size; b++) {
      const tag = enc.encode(String(b).padStart(6, "0"));
      for (const m of marks) if (m + 6 <= block.length) block.set(tag, m);
      let part = block.subarray(0, Math.min(BLOCK, size - b * BLOCK));
      while (part.length) part = part.subarray(await f.write(part));
    }
  } finally {
    f.close();
  }
}

/** The bytes `[start, end)` of the file at `path`, read with a positioned read. */
async function slice(path: string, start: number, end: number): Promise<Uint8Array> {
  const f = await Deno.open(path);
  try {
    await f.seek(start, Deno.SeekMode.Start);
    const buf = new Uint8Array(end - start);
    let got = 0;
    while (got < buf.length) {
      const n = await f.read(buf.subarray(got));
      if (n === null) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    f.close();
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

for (const rt of RUNTIMES) {
  const t = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${rt}] ${name}`, fn, sanitizeOps: false, sanitizeResources: false });

  t("GET /raw sends the file's exact bytes as a download, not cached, not sniffed", async () => {
    const bytes = new TextEncoder().encode("line 1\nzwei — drei\n<script>not run</script>\n");
    await withServer(rt, bytes, [], async (s) => {
      const res = await fetch(s.url + "raw");
      assertEquals(res.status, 200);
      assertEquals(new Uint8Array(await res.arrayBuffer()), bytes);
      assertEquals(res.headers.get("content-type"), "text/plain; charset=utf-8");
      assertEquals(res.headers.get("content-disposition"), 'attachment; filename="app.log"');
      assertEquals(res.headers.get("cache-control"), "no-store");
      assertEquals(res.headers.get("x-content-type-options"), "nosniff");
      // Bun keeps it when the whole body arrives in one pull (a small file), drops it otherwise.
      const length = res.headers.get("content-length");
      assert(length === String(bytes.length) || (!EXPECT[rt].streamedContentLength && length === null), `${length}`);
      const head = await fetch(s.url + "raw", { method: "HEAD" });
      assertEquals(head.status, 200);
      assertEquals(head.headers.get("content-length"), String(bytes.length));
      assertEquals((await head.arrayBuffer()).byteLength, 0);
      const post = await fetch(s.url + "raw", { method: "POST" });
      assertEquals(post.status, 405);
      await post.body?.cancel();
    }, "app.log");
  });

  t("GET /raw: a non-ASCII name gets RFC 6266 filename*, bytes that are not UTF-8 are octet-stream", async () => {
    const bytes = new Uint8Array([0x6f, 0x6b, 0xff, 0xfe, 0x0a]);
    await withServer(rt, bytes, [], async (s) => {
      const res = await fetch(s.url + "raw");
      assertEquals(new Uint8Array(await res.arrayBuffer()), bytes);
      assertEquals(res.headers.get("content-type"), "application/octet-stream");
      assertEquals(
        res.headers.get("content-disposition"),
        `attachment; filename="____.log"; filename*=UTF-8''%D0%B6%D1%83%D1%80%D0%BD.log`,
      );
    }, "журн.log");
  });

  t("GET /raw: a missing file is 404, an unreadable one 503, each with a reason", async () => {
    await withServer(rt, "x\n", [], async (s) => {
      await Deno.remove(s.file);
      const gone = await fetch(s.url + "raw");
      assertEquals(gone.status, 404);
      assertMatch(await gone.text(), /^Not Found: app\.log: file not found/);
      await Deno.writeTextFile(s.file, "secret\n");
      await Deno.chmod(s.file, 0o000);
      const isRoot = Deno.uid() === 0; // root reads anything: then a directory in its place stands in
      if (isRoot) {
        await Deno.remove(s.file);
        await Deno.mkdir(s.file);
      }
      const no = await fetch(s.url + "raw");
      assertEquals(no.status, 503);
      assertMatch(await no.text(), isRoot ? /^Service Unavailable: app\.log: not a regular file/ : /permission denied/);
    }, "app.log");
  });

  t(
    "GET /raw streams a large file in tail mode: the whole file, and the server's peak RSS does not grow by its size",
    async () => {
      const SIZE = 256 * 1024 * 1024; // sparse: no disk, zeros read back
      const file = await tempFile("", "big.log");
      const f = await Deno.open(file, { write: true });
      await f.truncate(SIZE - 6);
      await f.close();
      await Deno.writeTextFile(file, "\nlast\n", { append: true });
      const s = await startServer(rt, { file, args: ["--tail", "64KiB"] });
      try {
        // Before any /raw request: a warm-up that read the whole file would hide it in the baseline.
        const before = await rss(s.pid);
        const res = await fetch(s.url + "raw");
        assertEquals(res.headers.get("content-length"), EXPECT[rt].streamedContentLength ? String(SIZE) : null);
        let n = 0;
        let tail = new Uint8Array(0);
        for await (const chunk of res.body!) {
          n += chunk.length;
          tail = chunk.length >= 6 ? chunk.slice(-6) : tail;
        }
        assertEquals(n, SIZE, "every byte");
        assertEquals(new TextDecoder().decode(tail), "\nlast\n");
        const after = await rss(s.pid);
        const grew = after.peak - before.now;
        assert(
          grew < SIZE / 4,
          `peak RSS grew by ${(grew / 2 ** 20).toFixed(1)} MiB (now ${(before.now / 2 ** 20).toFixed(1)} → peak ${
            (after.peak / 2 ** 20).toFixed(1)
          } MiB) for a ${SIZE / 2 ** 20} MiB file`,
        );
      } finally {
        await s.stop();
        await Deno.remove(file.replace(/\/[^/]+$/, ""), { recursive: true });
      }
    },
  );

  t(
    "Range on /raw: random single ranges of a generated 256 MiB log are byte-exact, with 206 and Content-Range",
    async () => {
      const SIZE = 256 * 1024 * 1024;
      const file = await tempFile("", "big.log");
      await writeLog(file, SIZE);
      const s = await startServer(rt, { file, args: ["--tail", "64KiB"] });
      try {
        // A seeded generator: a failure names the range, and a rerun asks the same ones.
        let seed = 0x5eed;
        const rand = (n: number) => {
          seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
          return Math.floor((seed / 2 ** 32) * n);
        };
        const ranges: [string, number, number][] = [
          ["bytes=0-0", 0, 1],
          ["bytes=0-99", 0, 100],
          [`bytes=${SIZE - 1}-`, SIZE - 1, SIZE],
          [`bytes=${SIZE - 100}-${SIZE + 5000}`, SIZE - 100, SIZE],
          ["bytes=-4096", SIZE - 4096, SIZE],
          [`bytes=${(1 << 20) - 3}-${(1 << 20) + 2}`, (1 << 20) - 3, (1 << 20) + 3], // across two blocks
          [`bytes=${100 << 20}-${(116 << 20) - 1}`, 100 << 20, 116 << 20], // 16 MiB from the middle
        ];
        for (let i = 0; i < 20; i++) {
          const a = rand(SIZE);
          const len = 1 + rand(i % 2 ? 300_000 : 1000);
          const b = Math.min(SIZE, a + len);
          ranges.push([`bytes=${a}-${b - 1}`, a, b]);
        }
        for (const [header, a, b] of ranges) {
          const res = await fetch(s.url + "raw", { headers: { Range: header } });
          assertEquals(res.status, 206, header);
          assertEquals(res.headers.get("content-range"), `bytes ${a}-${b - 1}/${SIZE}`, header);
          assertEquals(res.headers.get("accept-ranges"), "bytes");
          const length = res.headers.get("content-length");
          assert(
            length === String(b - a) || (!EXPECT[rt].streamedContentLength && length === null),
            `${header}: ${length}`,
          );
          const got = new Uint8Array(await res.arrayBuffer());
          assert(equalBytes(got, await slice(file, a, b)), `${header}: ${got.length} bytes, not the file's ${b - a}`);
        }
        const past = await fetch(s.url + "raw", { headers: { Range: `bytes=${SIZE}-` } });
        assertEquals(past.status, 416);
        assertEquals(past.headers.get("content-range"), `bytes */${SIZE}`);
        assertMatch(await past.text(), /^Range Not Satisfiable: big\.log has 268435456 bytes/);
        const head = await fetch(s.url + "raw", { method: "HEAD", headers: { Range: "bytes=10-19" } });
        assertEquals([head.status, head.headers.get("content-range"), head.headers.get("content-length")], [
          206,
          `bytes 10-19/${SIZE}`,
          "10",
        ]);
        await head.body?.cancel();
        // Several ranges: the whole file, 200 (read its start only).
        const multi = await fetch(s.url + "raw", { headers: { Range: "bytes=0-1,10-11" } });
        assertEquals([multi.status, multi.headers.get("content-range")], [200, null]);
        const reader = multi.body!.getReader();
        const first = await reader.read();
        assert(
          first.value && equalBytes(first.value, await slice(file, 0, first.value.length)),
          "the file from its start",
        );
        await reader.cancel();
      } finally {
        await s.stop();
        await Deno.remove(file.replace(/\/[^/]+$/, ""), { recursive: true });
      }
    },
  );

  t(
    "Range on /raw/{name} under --dir: 206 with the bytes, 416 past the end, a symlink out of DIR never served",
    async () => {
      const root = await Deno.makeTempDir({ prefix: "filewatch-rawrange-" });
      const dir = `${root}/dir`;
      await Deno.mkdir(dir);
      await Deno.writeTextFile(`${root}/secret.txt`, "SECRET\n");
      await Deno.writeTextFile(`${dir}/a.log`, "hello ranges\n");
      await Deno.symlink(`${root}/secret.txt`, `${dir}/out.log`);
      const s = await startServer(rt, { file: dir, args: ["--poll", "200ms", "--dir"] });
      try {
        const res = await fetch(s.url + "raw/a.log", { headers: { Range: "bytes=6-11" } });
        assertEquals([res.status, await res.text(), res.headers.get("content-range")], [
          206,
          "ranges",
          "bytes 6-11/13",
        ]);
        const past = await fetch(s.url + "raw/a.log", { headers: { Range: "bytes=13-" } });
        assertEquals([past.status, past.headers.get("content-range")], [416, "bytes */13"]);
        await past.body?.cancel();
        const out = await fetch(s.url + "raw/out.log", { headers: { Range: "bytes=0-2" } });
        const body = await out.text();
        assert(!body.includes("SEC"), "no byte of the outside file");
        assertEquals(
          out.status,
          404,
          "a symlink out of DIR is not listed (the swap after listing is in files.test.ts)",
        );
      } finally {
        await s.stop();
        await Deno.remove(root, { recursive: true });
      }
    },
  );

  t("the page's script is the committed bundle, byte for byte", async () => {
    await withServer(rt, "x\n", [], async (s) => {
      const html = await (await fetch(s.url)).text();
      const m = /<script nonce="[^"]+">([\s\S]*)<\/script>/.exec(html);
      assert(m, "one inline script");
      assertEquals(m[1], CLIENT_SCRIPT);
      assert(html.includes(`href="/raw"`) || html.includes(`href="raw"`), "a Download link to /raw");
    });
  });
}

for (const rt of RUNTIMES) {
  const t = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${rt}] ${name}`, fn, sanitizeOps: false, sanitizeResources: false });

  t("GET /raw: a FILE swapped for a FIFO between any two steps is sent or refused (503), never waited on", async () => {
    const dir = await Deno.makeTempDir({ prefix: "filewatch-fifo-swap-" });
    const real = `${dir}/real.log`;
    const fifo = `${dir}/pipe`;
    const path = `${dir}/app.log`;
    await Deno.writeTextFile(real, "data\n");
    assert((await new Deno.Command("mkfifo", { args: [fifo] }).output()).success, "mkfifo");
    await Deno.symlink(real, path);
    const s = await startServer(rt, { file: path, args: ["--poll", "10s", "--no-events"] });
    const flipper = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}tests/helpers/flipper.ts`, path, real, fifo, "8000"],
    }).spawn();
    const seen: Record<string, number> = {};
    try {
      const ask = async () => {
        try {
          const r = await fetch(s.url + "raw", { signal: AbortSignal.timeout(3_000) });
          const body = await r.text();
          return r.status === 200 ? (body === "data\n" ? "200" : `200 ${JSON.stringify(body)}`) : String(r.status);
        } catch {
          return "no answer within 3 s";
        }
      };
      const end = Date.now() + 6_000;
      while (Date.now() < end) {
        for (const a of await Promise.all(Array.from({ length: 8 }, ask))) seen[a] = (seen[a] ?? 0) + 1;
      }
      const shown = JSON.stringify(seen);
      assertEquals(Object.keys(seen).filter((k) => k !== "200" && k !== "503"), [], shown);
      assert((seen["200"] ?? 0) > 0 && (seen["503"] ?? 0) > 0, `both sides of the swap were met: ${shown}`);
    } finally {
      await flipper.status;
      // A reader stuck in open(2) of the FIFO (the bug this guards against) is let go by a writer.
      try {
        closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch { /* ENXIO: no reader waiting */ }
      await s.stop();
      await Deno.remove(dir, { recursive: true });
    }
  });
}
