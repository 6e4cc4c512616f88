/**
 * rawFile with `root` (`/raw/{name}` under `--dir`): the file is opened only
 * when its real path is inside DIR at that moment. The e2e case of a listed
 * file swapped for a symlink is in tests/e2e/files.test.ts.
 */
import { realpathSync } from "node:fs";
import { assertEquals } from "../helpers/assert.ts";
import { rawFile } from "../../src/raw.ts";

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
