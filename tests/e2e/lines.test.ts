/**
 * `GET /lines` (docs/protocol.md, "Lines") against real servers on every
 * runtime: on a 64 MiB log made at test time, the start, the middle and the
 * end are the file's own lines, `total` is exact, offsets snap to line
 * starts; bad queries get 400 with a one-line reason, unknown paths and
 * methods the usual 404/405; a cut line, bytes that are not UTF-8, an append,
 * a rotation and a truncation, with a viewer connected and under
 * `--base-path`. Every answer is checked against docs/http.schema.json.
 * (Ranges on `/raw`, and 416, are in raw.test.ts.)
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { type BlockLog, writeBlockLog } from "../helpers/block_log.ts";
import { connect } from "../helpers/client.ts";
import { RUNTIMES, type Server, startServer, waitFor } from "../helpers/harness.ts";
import { assertHttp, getJson } from "../helpers/http_schema.ts";

interface Line {
  n: number | null;
  offset: number;
  text: string;
  cut?: true;
  bytes?: number;
}
interface Lines {
  size: number;
  lastMod: string;
  total: number | null;
  lines: Line[];
}

// One log for every case and runtime (made once: writing 64 MiB is the slow part).
const dir = await Deno.makeTempDir({ prefix: "filewatch-lines-" });
let made: Promise<BlockLog> | null = null;
const bigLog = () => made ??= writeBlockLog(`${dir}/big.log`, 64);
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

/** The line index's build may take a while on a busy machine: `end` answers until `total` is known. */
async function total(s: Server): Promise<number> {
  return await waitFor(
    async () => (await getJson<Lines>(s.url + "lines?end=1&count=1", "lines")).total,
    60_000,
    "total",
  );
}

for (const rt of RUNTIMES) {
  const t = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${rt}] ${name}`, fn, sanitizeOps: false, sanitizeResources: false });

  t(
    "/lines: the start, middle and end of a 64 MiB log are the file's own lines; total exact; offsets snap",
    async () => {
      const log = await bigLog();
      // --tail: the watcher holds the end only (the file is past --max-file-size); /lines reads the file itself.
      const s = await startServer(rt, { file: log.path, args: ["--tail", "64KiB"] });
      try {
        const lines = (q: string) => getJson<Lines>(s.url + "lines?" + q, "lines");
        const want = (from: number, to: number) => {
          const out = [];
          for (let n = from; n <= to; n++) out.push(log.line(n));
          return out;
        };
        const L = log.linesPerBlock;
        const start = await lines("line=1&count=5");
        assertEquals(start.lines, want(1, 5));
        assertEquals(start.size, log.size);
        assertEquals(await total(s), log.total);
        const mid = 32 * L + 17;
        assertEquals((await lines(`line=${mid}&count=10`)).lines, want(mid, mid + 9));
        assertEquals((await lines(`line=${mid}&count=-3`)).lines, want(mid - 2, mid));
        // Across two blocks (the index's entries fall anywhere).
        assertEquals((await lines(`line=${33 * L - 1}&count=4`)).lines, want(33 * L - 1, 33 * L + 2));
        // An offset inside a line snaps to the next line's start; back from there, the lines before it.
        const inside = log.line(mid).offset + 5;
        assertEquals((await lines(`offset=${inside}&count=2`)).lines, want(mid + 1, mid + 2));
        assertEquals((await lines(`offset=${inside}&count=-2`)).lines, want(mid - 1, mid));
        assertEquals((await lines(`offset=${log.line(mid).offset}&count=1`)).lines, want(mid, mid));
        const end = await lines("end=1&count=3");
        assertEquals(end.lines, want(log.total - 2, log.total));
        assertEquals([end.total, end.size], [log.total, log.size]);
        assertEquals((await lines(`line=${log.total - 5}&count=10000`)).lines, want(log.total - 5, log.total));
        assertEquals((await lines(`line=${log.total + 1}&count=5`)).lines, []);
        assertEquals((await lines(`offset=${log.size}&count=5`)).lines, []);
        // The file's bytes at a line's offset are its text (what /raw with a Range gives).
        const raw = await fetch(s.url + "raw", {
          headers: { Range: `bytes=${log.line(mid).offset}-${log.line(mid).offset + 99}` },
        });
        assertEquals(await raw.text(), log.line(mid).text.slice(0, 100));
      } finally {
        await s.stop();
      }
    },
  );

  t("/lines, /time, /search: bad queries are 400 with a one-line reason; other paths and methods 404/405", async () => {
    const log = await bigLog();
    const s = await startServer(rt, { file: log.path, args: ["--tail", "64KiB"] });
    try {
      const bad = [
        ["lines?line=1&count=0", /^Cannot read lines: "count" must be/],
        ["lines?line=1&count=10001", /^Cannot read lines: "count" must be/],
        ["lines?line=0", /^Cannot read lines: "line" must be a whole number from 1, got "0"$/],
        ["lines?line=1&offset=0", /^Cannot read lines: give only one of "line", "offset"$/],
        ["lines", /^Cannot read lines: give "line", "offset" or "end=1"$/],
        ["lines?end=2", /^Cannot read lines: "end" must be 1/],
        ["lines?end=1&count=-5", /^Cannot read lines: "count" must be positive with "end"/],
        ["lines?offset=-1", /^Cannot read lines: "offset" must be/],
        ["lines?line=1e3", /^Cannot read lines: "line" must be/],
        ["lines?line=1&file=a&file=b", /^Bad Request: "file" is given more than once$/],
        ["time", /^Cannot find a time: give "t"/],
        ["time?t=yesterday", /^Cannot find a time: "t" must be RFC 3339/],
        ["search", /^Cannot search: "q" is required/],
        [
          "search?q=(a&regex=1&case=1",
          /^Cannot search: "q" is not a valid regular expression: .*missing closing \): `\(a`$/,
        ],
        ["search?q=x&limit=0", /^Cannot search: "limit" must be an integer from 1 to 10000, got "0"$/],
        ["search?q=x&dir=up", /^Cannot search: "dir" must be "back" or "fwd", got "up"$/],
        [`search?q=x&from=${log.size + 1}`, /^Cannot search: "from" must be an integer from 0 to 67108864/],
        ["search?q=x&case=yes", /^Cannot search: "case" must be 0 or 1/],
      ] as const;
      for (const [path, reason] of bad) {
        const r = await fetch(s.url + path);
        const body = await r.text();
        assertEquals(r.status, 400, `${path}: ${body}`);
        assert(body.endsWith("\n") && body.indexOf("\n") === body.length - 1, `${path}: one line: ${body}`);
        assertMatch(body.trimEnd(), reason, path);
      }
      for (const path of ["lines/nope?end=1", "search/nope?q=x", "time/nope?t=0"]) {
        const r = await fetch(s.url + path);
        assertEquals(r.status, 404, path);
        assertMatch(await r.text(), /^Not Found: no file of that name/);
      }
      assertEquals((await (await fetch(s.url + "linesx")).text()).trim(), "Not Found: /linesx");
      for (const [method, path] of [["POST", "lines"], ["PUT", "time"], ["DELETE", "search"], ["POST", "lines/x"]]) {
        const r = await fetch(s.url + path, { method });
        assertEquals([r.status, r.headers.get("allow")], [405, "GET, HEAD"], `${method} ${path}`);
        await r.body?.cancel();
      }
    } finally {
      await s.stop();
    }
  });

  t("/lines under --base-path: a cut line, bytes that are not UTF-8, an append, a rotation, a truncation", async () => {
    const d = await Deno.makeTempDir({ prefix: "filewatch-lines-" });
    const file = `${d}/app.log`;
    const enc = new TextEncoder();
    await Deno.writeFile(
      file,
      new Uint8Array([
        ...enc.encode("first\n" + "L".repeat(70_000) + "\nbad "),
        0xff,
        0xfe,
        ...enc.encode(" end\n"),
      ]),
    );
    const s = await startServer(rt, { file, args: ["--base-path", "/logs", "--poll", "100ms"] });
    // A viewer: the watcher then publishes each version, and the index follows it (src/channels.ts).
    const viewer = connect(s.wsUrl, { protocols: ["filewatch.v1"] });
    try {
      assertMatch(s.url, /\/logs\/$/);
      const lines = (q: string) => getJson<Lines>(s.url + "lines?" + q, "lines");
      const outside = await fetch(s.url.replace(/logs\/$/, "lines?end=1"));
      assertEquals(outside.status, 404, "outside the base path");
      await outside.body?.cancel();
      await viewer.json(0);
      const a = await lines("line=1&count=10");
      assertEquals(a.lines[0], { n: 1, offset: 0, text: "first" });
      assertEquals(a.lines[1], { n: 2, offset: 6, text: "L".repeat(65_536), cut: true, bytes: 70_000 });
      assertEquals(a.lines[2], { n: 3, offset: 70_007, text: "bad \ufffd\ufffd end" });
      assertEquals(a.total, 3);

      await Deno.writeTextFile(file, "appended\n", { append: true });
      await viewer.json(1, 5_000); // the append, published
      const b = await lines("end=1&count=2");
      assertEquals(b.lines.map((l) => [l.n, l.text]), [[3, "bad \ufffd\ufffd end"], [4, "appended"]]);
      assertEquals(b.total, 4);

      await Deno.rename(file, `${file}.1`);
      await Deno.writeTextFile(file, "after rotation\n");
      const c = await waitFor(
        async () => {
          const r = await lines("end=1&count=5");
          return r.lines[0]?.text === "after rotation" ? r : null;
        },
        10_000,
        "the rotated file's lines",
      );
      assertEquals([c.total, c.lines.length, c.lines[0]!.n], [1, 1, 1]);
      const old = await lines("file=app.log.1&line=1&count=10");
      assertEquals(old.lines.map((l) => l.text.slice(0, 8)), ["first", "LLLLLLLL", "bad \ufffd\ufffd e", "appended"]);
      assertEquals(old.total, 4);
      const files = await getJson<{ name: string; generations: { name: string; size: number }[] }[]>(
        s.url + "files",
        "files",
      );
      assertEquals(files.map((f) => [f.name, f.generations.map((g) => [g.name, g.size])]), [
        ["app.log", [["app.log.1", 70_027]]],
      ]);

      // Truncated and written again (same inode): the index starts over.
      await Deno.writeTextFile(file, "t\n");
      const e = await waitFor(
        async () => {
          const r = await lines("end=1&count=5");
          return r.total === 1 && r.lines[0]?.text === "t" ? r : null;
        },
        10_000,
        "the truncated file's lines",
      );
      assertHttp("lines", e);
    } finally {
      viewer.close();
      await s.stop();
      await Deno.remove(d, { recursive: true });
    }
  });
}
