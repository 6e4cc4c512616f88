/**
 * A file's history (docs/protocol.md, "History") against real servers on
 * every runtime: `/files` lists the rotated generations beside a file;
 * `&file=` reads one by a name from that list on `/lines`, `/raw`, `/search`
 * and `/time` (`.gz` decompressed as a stream, offsets in the decompressed
 * content); `history=1` searches the file then its generations, newest
 * first, each match naming its file, page by page with `nextFile` and
 * `next`; and a `file=` that is not a name from the list (`../x`, absolute
 * paths, a FIFO, a symlink out of the directory, unknown names) is 404 with
 * a reason and never a byte of anything. Answers are checked against
 * docs/http.schema.json.
 */
import { gzipSync } from "node:zlib";
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { RUNTIMES, type Server, startServer } from "../helpers/harness.ts";
import { getJson, searchEvents } from "../helpers/http_schema.ts";

const enc = new TextEncoder();

/** Lines of one generation: `count` lines, every 97th holding MARK, each naming its file. */
function generation(name: string, count: number) {
  const lines: { n: number; offset: number; text: string }[] = [];
  let offset = 0;
  for (let i = 1; i <= count; i++) {
    const text = `2026-12-0${(i % 9) + 1}T00:00:00Z ${name} line ${i}${i % 97 === 0 ? " MARK here" : ""}`;
    lines.push({ n: i, offset, text });
    offset += enc.encode(text).length + 1;
  }
  return { lines, bytes: enc.encode(lines.map((l) => l.text).join("\n") + "\n") };
}

const GENERATIONS = ["app.log", "app.log.1", "app.log.2.gz", "app.log.3.gz"];
const CONTENT = Object.fromEntries(GENERATIONS.map((g, k) => [g, generation(g, 1000 + 300 * k)]));
const marked = (g: string) => CONTENT[g]!.lines.filter((l) => l.text.includes("MARK"));

interface Match {
  n: number;
  offset: number;
  text: string;
  file?: string;
}

async function withHistory(rt: (typeof RUNTIMES)[number], fn: (s: Server, dir: string) => Promise<void>) {
  const root = await Deno.makeTempDir({ prefix: "filewatch-history-" });
  const dir = `${root}/logs`;
  await Deno.mkdir(dir);
  await Deno.writeTextFile(`${root}/x`, "SECRET outside the directory\n");
  for (const [k, g] of GENERATIONS.entries()) {
    const bytes = CONTENT[g]!.bytes;
    await Deno.writeFile(`${dir}/${g}`, g.endsWith(".gz") ? gzipSync(bytes) : bytes);
    // Older generations are older files.
    const when = new Date(Date.UTC(2026, 11, 7) - k * 86_400_000);
    await Deno.utime(`${dir}/${g}`, when, when);
  }
  // Names a generation could have that are not regular files in the directory: never listed, never read.
  await new Deno.Command("mkfifo", { args: [`${dir}/app.log.4`] }).output();
  await Deno.symlink(`${root}/x`, `${dir}/app.log.5`);
  const s = await startServer(rt, { file: `${dir}/app.log` });
  try {
    await fn(s, dir);
  } finally {
    await s.stop();
    await Deno.remove(root, { recursive: true });
  }
}

async function search(s: Server, qs: string): Promise<{ matches: Match[]; done: Record<string, unknown> }> {
  const res = await fetch(`${s.url}search?${qs}`);
  assertEquals(res.status, 200, qs);
  const events = await searchEvents(res);
  return { matches: events.filter((e) => "text" in e) as unknown as Match[], done: events.at(-1)! };
}

for (const rt of RUNTIMES) {
  const t = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${rt}] ${name}`, fn, sanitizeOps: false, sanitizeResources: false });

  t("/files lists a file's generations newest first; &file= reads one on /lines, /raw and /search", async () => {
    await withHistory(rt, async (s, dir) => {
      const files = await getJson<{ generations: { name: string; size: number; mtime: number }[] }[]>(
        s.url + "files",
        "files",
      );
      const listed = files[0]!.generations;
      assertEquals(listed.map((g) => g.name), ["app.log.1", "app.log.2.gz", "app.log.3.gz"]);
      for (const g of listed) {
        const st = await Deno.stat(`${dir}/${g.name}`);
        assertEquals([g.size, g.mtime], [st.size, st.mtime!.getTime()], g.name);
      }
      for (const g of GENERATIONS.slice(1)) {
        const want = CONTENT[g]!.lines;
        const lines = (q: string) =>
          getJson<{ total: number; lines: Match[] }>(`${s.url}lines?file=${g}&${q}`, "lines");
        const mid = await lines("line=500&count=3");
        assertEquals([mid.total, mid.lines], [want.length, want.slice(499, 502)], g);
        assertEquals((await lines("end=1&count=2")).lines, want.slice(-2), g);
        assertEquals((await lines(`offset=${want[700]!.offset + 3}&count=1`)).lines, [want[701]!], g);
        assertEquals((await lines(`offset=${want[700]!.offset + 3}&count=-2`)).lines, want.slice(699, 701), g);
        // Each generation's own lines, numbered and placed in its (decompressed) content.
        assertEquals((await search(s, `file=${g}&q=mark&dir=fwd`)).matches, marked(g), g);
        assertEquals((await search(s, `file=${g}&q=MARK&case=1`)).matches, [...marked(g)].reverse(), g);
        // /raw: the bytes as they are on disk (compressed, for a .gz), with Range.
        const onDisk = await Deno.readFile(`${dir}/${g}`);
        const raw = await fetch(`${s.url}raw?file=${g}`);
        assertEquals([raw.status, new Uint8Array(await raw.arrayBuffer())], [200, onDisk], g);
        const part = await fetch(`${s.url}raw?file=${g}`, { headers: { Range: "bytes=2-9" } });
        assertEquals([part.status, new Uint8Array(await part.arrayBuffer())], [206, onDisk.subarray(2, 10)], g);
      }
      // The live file by its own name is the live file (a history search's nextFile can name it).
      assertEquals((await search(s, "file=app.log&q=mark&dir=fwd")).matches, marked("app.log"));
    });
  });

  t("/search&history=1 goes through the file then its generations newest first, page by page", async () => {
    await withHistory(rt, async (s) => {
      const all = GENERATIONS.flatMap((g) => [...marked(g)].reverse().map((m) => ({ ...m, file: g })));
      const whole = await search(s, "q=MARK&history=1");
      assertEquals(whole.matches, all);
      assertEquals(whole.done.matches, all.length);
      const fwd = await search(s, "q=MARK&history=1&dir=fwd");
      assertEquals(fwd.matches, [...GENERATIONS].reverse().flatMap((g) => marked(g).map((m) => ({ ...m, file: g }))));
      // Pages of 4: each from where the last stopped (nextFile and next), the same matches in the end.
      const pages: Match[] = [];
      let at = "";
      for (let i = 0; i < 50; i++) {
        const r = await search(s, `q=MARK&history=1&limit=4${at}`);
        pages.push(...r.matches);
        const { nextFile, next } = r.done as { nextFile?: string; next?: number };
        if (nextFile === undefined) break;
        at = `&file=${encodeURIComponent(nextFile)}${next === undefined ? "" : `&from=${next}`}`;
      }
      assertEquals(pages, all);
    });
  });

  t("&file= that is not a name from the list is 404 on every route, and never a byte", async () => {
    await withHistory(rt, async (s, dir) => {
      const names = [
        "../x",
        "..%2Fx",
        `${dir}/app.log.1`,
        encodeURIComponent(`${dir}/app.log.1`),
        "/etc/passwd",
        "app.log.9",
        "app.log.4", // a FIFO
        "app.log.5", // a symlink out of the directory
        "app.log.1%00",
        "",
        ".",
        "logs/app.log.1",
      ];
      const routes = ["lines?line=1&", "raw?", "search?q=e&", "time?t=0&", "search?q=e&history=1&"];
      for (const name of names) {
        for (const route of routes) {
          const r = await fetch(`${s.url}${route}file=${name}`);
          const body = await r.text();
          assertEquals(r.status, 404, `${route}file=${name}: ${body}`);
          assertMatch(
            body,
            /^Not Found: app\.log has no generation of that name \(its generations are in \/files\)\n$/,
          );
          assert(!body.includes("SECRET") && !body.includes("line 1"), "no byte of any file");
        }
      }
    });
  });
}
