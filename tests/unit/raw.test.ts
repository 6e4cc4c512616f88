/**
 * rawFile with `root` (`/raw/{name}` under `--dir`): the file is opened only
 * when its real path is inside DIR at that moment. The e2e case of a listed
 * file swapped for a symlink is in tests/e2e/files.test.ts.
 */
import { realpathSync } from "node:fs";
import { assertEquals } from "../helpers/assert.ts";
import { parseRange, rawFile } from "../../src/raw.ts";

const req = new Request("http://127.0.0.1/raw/x");

async function fixture(): Promise<{ root: string; dir: string; done: () => Promise<void> }> {
  const root = realpathSync(await Deno.makeTempDir({ prefix: "filewatch-rawunit-" }));
  const dir = `${root}/dir`;
  await Deno.mkdir(`${dir}/sub`, { recursive: true });
  await Deno.writeTextFile(`${root}/secret.txt`, "SECRET\n");
  await Deno.writeTextFile(`${dir}/a.log`, "inside\n");
  await Deno.writeTextFile(`${dir}/sub/b.log`, "deeper\n");
  await Deno.symlink(`${dir}/a.log`, `${dir}/in.log`);
  await Deno.symlink(`${dir}/sub/b.log`, `${dir}/sub.log`);
  await Deno.symlink(`${root}/secret.txt`, `${dir}/out.log`);
  await Deno.symlink(`../secret.txt`, `${dir}/rel.log`);
  return { root, dir, done: () => Deno.remove(root, { recursive: true }) };
}

async function answer(res: Response): Promise<[number, string]> {
  return [res.status, await res.text()];
}

Deno.test("rawFile with root serves files and symlinks whose real path is inside it", async () => {
  const f = await fixture();
  try {
    assertEquals(await answer(await rawFile(req, `${f.dir}/a.log`, "a.log", f.dir)), [200, "inside\n"]);
    assertEquals(await answer(await rawFile(req, `${f.dir}/in.log`, "in.log", f.dir)), [200, "inside\n"]);
    assertEquals(await answer(await rawFile(req, `${f.dir}/sub.log`, "sub.log", f.dir)), [200, "deeper\n"]);
    const head = await rawFile(new Request(req, { method: "HEAD" }), `${f.dir}/a.log`, "a.log", f.dir);
    assertEquals([head.status, head.headers.get("content-length")], [200, "7"]);
  } finally {
    await f.done();
  }
});

Deno.test("rawFile with root answers 403 for a path that resolves outside it, and for an empty root", async () => {
  const f = await fixture();
  try {
    for (const name of ["out.log", "rel.log"]) {
      assertEquals(await answer(await rawFile(req, `${f.dir}/${name}`, name, f.dir)), [
        403,
        `Forbidden: ${name}: not in the watched directory\n`,
      ]);
    }
    // A sibling whose name starts like DIR is not inside it.
    await Deno.mkdir(`${f.dir}2`);
    await Deno.writeTextFile(`${f.dir}2/x.log`, "beside\n");
    assertEquals((await rawFile(req, `${f.dir}2/x.log`, "x.log", f.dir)).status, 403);
    assertEquals((await rawFile(req, `${f.dir}/a.log`, "a.log", "")).status, 403, "DIR unknown: refuse");
    // Without root (FILE arguments) the path is served as given.
    assertEquals(await answer(await rawFile(req, `${f.dir}/out.log`, "out.log")), [200, "SECRET\n"]);
  } finally {
    await f.done();
  }
});

Deno.test("rawFile with root: a missing file is 404, a directory 503, with the reason", async () => {
  const f = await fixture();
  try {
    assertEquals(await answer(await rawFile(req, `${f.dir}/gone.log`, "gone.log", f.dir)), [
      404,
      "Not Found: gone.log: file not found\n",
    ]);
    assertEquals((await rawFile(req, `${f.dir}/sub`, "sub", f.dir)).status, 503);
  } finally {
    await f.done();
  }
});

Deno.test("parseRange: one range, an open end, a suffix, cut to the size; unsatisfiable; ignored forms", () => {
  const size = 1000;
  assertEquals(parseRange(null, size), null);
  assertEquals(parseRange("bytes=0-99", size), { start: 0, end: 99 });
  assertEquals(parseRange("bytes=0-0", size), { start: 0, end: 0 });
  assertEquals(parseRange("bytes=500-", size), { start: 500, end: 999 });
  assertEquals(parseRange("bytes=990-5000", size), { start: 990, end: 999 }, "past the end: cut to it");
  assertEquals(parseRange("bytes=-100", size), { start: 900, end: 999 });
  assertEquals(parseRange("bytes=-5000", size), { start: 0, end: 999 }, "a suffix longer than the file: all of it");
  assertEquals(parseRange("Bytes = 1 - 2", size), { start: 1, end: 2 }, "case and spaces");
  assertEquals(parseRange("bytes=999-", size), { start: 999, end: 999 });
  assertEquals(parseRange("bytes=1000-", size), "unsatisfiable");
  assertEquals(parseRange("bytes=1000-2000", size), "unsatisfiable");
  assertEquals(parseRange("bytes=-0", size), "unsatisfiable");
  for (const ignored of ["bytes=0-1,4-5", "bytes=5-1", "items=0-1", "bytes=-", "bytes=a-b", "bytes=1.5-2", "0-1", ""]) {
    assertEquals(parseRange(ignored, size), null, ignored);
  }
  assertEquals(parseRange("bytes=-10", 0), null, "an empty file has nothing to range over: the whole (empty) file");
  assertEquals(parseRange("bytes=0-10", 0), null);
});

Deno.test("rawFile answers a Range with 206 and exactly those bytes, 416 past the end, the whole file otherwise", async () => {
  const dir = await Deno.makeTempDir({ prefix: "filewatch-rawrange-" });
  const file = `${dir}/r.log`;
  const content = "0123456789abcdefghij\n";
  await Deno.writeTextFile(file, content);
  const get = (headers: Record<string, string>, method = "GET") =>
    rawFile(new Request("http://127.0.0.1/raw", { method, headers }), file);
  try {
    let res = await get({ Range: "bytes=2-5" });
    assertEquals([res.status, await res.text()], [206, "2345"]);
    assertEquals(res.headers.get("content-range"), "bytes 2-5/21");
    assertEquals(res.headers.get("content-length"), "4");
    assertEquals(res.headers.get("accept-ranges"), "bytes");
    assertEquals(res.headers.get("content-type"), "text/plain; charset=utf-8");
    res = await get({ Range: "bytes=-3" });
    assertEquals([res.status, await res.text(), res.headers.get("content-range")], [206, "ij\n", "bytes 18-20/21"]);
    res = await get({ Range: "bytes=0-" });
    assertEquals([res.status, await res.text(), res.headers.get("content-range")], [206, content, "bytes 0-20/21"]);
    res = await get({ Range: "bytes=0-0" });
    assertEquals([res.status, await res.text()], [206, "0"]);
    res = await get({ Range: "bytes=21-" });
    assertEquals(res.status, 416);
    assertEquals(res.headers.get("content-range"), "bytes */21");
    assertEquals(await res.text(), "Range Not Satisfiable: r.log has 21 bytes\n");
    res = await get({ Range: "bytes=0-1,3-4" });
    assertEquals([res.status, await res.text(), res.headers.get("content-range")], [200, content, null]);
    assertEquals(res.headers.get("accept-ranges"), "bytes");
    res = await get({ Range: "bytes=2-5", "If-Range": "Wed, 21 Oct 2015 07:28:00 GMT" });
    assertEquals([res.status, await res.text()], [200, content], "If-Range cannot match: the whole file");
    res = await get({ Range: "bytes=2-5" }, "HEAD");
    assertEquals([res.status, res.headers.get("content-length"), res.headers.get("content-range")], [
      206,
      "4",
      "bytes 2-5/21",
    ]);
    assertEquals(await res.text(), "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rawFile serves ranges of a file larger than one read, byte-exact, and refuses a range past the end of an empty file's suffix", async () => {
  const dir = await Deno.makeTempDir({ prefix: "filewatch-rawrange-" });
  const file = `${dir}/big.bin`;
  const bytes = new Uint8Array(300_000);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + (i >> 9)) & 0xff;
  await Deno.writeFile(file, bytes);
  await Deno.writeFile(`${dir}/empty.log`, new Uint8Array());
  try {
    for (const [a, b] of [[0, 299_999], [1, 65_536], [65_535, 65_537], [131_000, 262_500], [299_999, 299_999]]) {
      const res = await rawFile(new Request("http://x/raw", { headers: { Range: `bytes=${a}-${b}` } }), file);
      assertEquals(res.status, 206);
      assertEquals(new Uint8Array(await res.arrayBuffer()), bytes.subarray(a!, b! + 1), `${a}-${b}`);
    }
    const empty = await rawFile(new Request("http://x/raw", { headers: { Range: "bytes=0-" } }), `${dir}/empty.log`);
    assertEquals([empty.status, await empty.text()], [200, ""], "no bytes to range over: the whole (empty) file");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rawFile with root honours a Range as well, after the inside check", async () => {
  const f = await fixture();
  try {
    const ranged = new Request("http://x/raw/a.log", { headers: { Range: "bytes=1-3" } });
    const res = await rawFile(ranged, `${f.dir}/a.log`, "a.log", f.dir);
    assertEquals([res.status, await res.text(), res.headers.get("content-range")], [206, "nsi", "bytes 1-3/7"]);
    assertEquals((await rawFile(ranged, `${f.dir}/out.log`, "out.log", f.dir)).status, 403);
  } finally {
    await f.done();
  }
});
