/**
 * The sparse line index (src/scan/line_index.ts) on real files made here:
 * every entry is a line start with its right number and the first one past
 * each stride, on the main thread and in the worker alike, with lines of
 * every length (empty, longer than the stride, a last one without a
 * newline); appends extend it, truncation, rotation and a rewrite past the
 * old size drop it; a question past the indexed part waits and then fails
 * with IndexPendingError; its memory stays under 1 MiB per GiB.
 */
import { open } from "node:fs/promises";
import { assert, assertEquals } from "../helpers/assert.ts";
import type { IndexHandle } from "../../src/scan/_file.ts";
import { INDEX_STRIDE, IndexPendingError, LineIndex, type LineIndexOptions } from "../../src/scan/line_index.ts";
import { lineStarts, randomLines } from "../helpers/scan_fixtures.ts";

async function stateOf(path: string) {
  const st = await Deno.stat(path);
  return { dev: st.dev, ino: st.ino!, size: st.size };
}

async function built(path: string, options: LineIndexOptions): Promise<LineIndex> {
  const index = new LineIndex(() => open(path, "r"), options);
  index.sync(await stateOf(path));
  index.start();
  await index.waitFor(() => index.complete, 20_000);
  return index;
}

/** Checks every entry against the file: a line start, its number, the first start past the stride after the previous. */
function checkEntries(index: LineIndex, bytes: Uint8Array, stride: number, what: string): void {
  const starts = lineStarts(bytes);
  // Entries may also stand where the next line will start: just past a last newline.
  const after = [...starts, ...(bytes[bytes.length - 1] === 10 ? [bytes.length] : [])];
  const want = [{ offset: 0, line: 1 }];
  after.forEach((s, i) => {
    if (s >= want[want.length - 1]!.offset + stride) want.push({ offset: s, line: i + 1 });
  });
  const got = Array.from({ length: index.entries }, (_, i) => index.entryAt(i));
  assertEquals(got, want, what);
  const total = starts.length;
  assertEquals(index.total, total, `${what}: total`);
  assertEquals(index.indexed, bytes.length, `${what}: indexed`);
}

async function tempLog(bytes: Uint8Array | string): Promise<{ path: string; done: () => Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "filewatch-index-" });
  const path = `${dir}/a.log`;
  if (typeof bytes === "string") await Deno.writeTextFile(path, bytes);
  else await Deno.writeFile(path, bytes);
  return { path, done: () => Deno.remove(dir, { recursive: true }) };
}

Deno.test("LineIndex entries and total are exact on the main thread and in the worker, for every chunk and stride", async () => {
  for (const [seed, endNewline] of [[1, true], [2, false], [3, true]] as const) {
    const text = randomLines(3000, seed, 300, endNewline);
    const bytes = new TextEncoder().encode(text);
    const f = await tempLog(bytes);
    try {
      for (const [stride, chunk] of [[64, 100], [200, 65536], [1000, 333], [4096, 1 << 20]] as const) {
        const main = await built(f.path, { stride, chunk });
        checkEntries(main, bytes, stride, `seed ${seed} stride ${stride} chunk ${chunk}, main thread`);
        const inWorker = await built(f.path, { stride, chunk, path: f.path, workerMinBytes: 0 });
        assertEquals([main.builtIn, inWorker.builtIn], ["main", "worker"]);
        checkEntries(inWorker, bytes, stride, `seed ${seed} stride ${stride} chunk ${chunk}, worker`);
      }
    } finally {
      await f.done();
    }
  }
});

Deno.test("LineIndex of an empty file, of one line without a newline, of newlines only", async () => {
  for (const [text, total] of [["", 0], ["x", 1], ["x\n", 1], ["\n", 1], ["\n\n\n", 3], ["a\n\nb", 3]] as const) {
    const f = await tempLog(text);
    try {
      const index = await built(f.path, { stride: 2, chunk: 2 });
      assertEquals(index.total, total, JSON.stringify(text));
      checkEntries(index, new TextEncoder().encode(text), 2, JSON.stringify(text));
    } finally {
      await f.done();
    }
  }
});

Deno.test("LineIndex is extended by appends, and what it holds then is what a fresh build of the file holds", async () => {
  const enc = new TextEncoder();
  const f = await tempLog(randomLines(500, 4));
  try {
    const index = await built(f.path, { stride: 128, chunk: 1000 });
    let all = await Deno.readFile(f.path);
    for (let i = 0; i < 5; i++) {
      // Appends that end mid-line, then finish it: the partial line counts, then it is one line.
      const more = i % 2 ? "rest of the line\n" + randomLines(50, 10 + i) : randomLines(40, 20 + i, 300, false);
      await Deno.writeTextFile(f.path, more, { append: true });
      all = new Uint8Array([...all, ...enc.encode(more)]);
      index.sync(await stateOf(f.path));
      await index.waitFor(() => index.complete, 5000);
      checkEntries(index, all, 128, `after append ${i}`);
    }
  } finally {
    await f.done();
  }
});

Deno.test("LineIndex is dropped and rebuilt after a truncation, a rotation, and a rewrite past the old size under one inode", async () => {
  const f = await tempLog(randomLines(800, 5));
  try {
    const index = await built(f.path, { stride: 256, chunk: 4096 });
    // Truncation: the file is cut and written shorter.
    const shorter = randomLines(100, 6);
    await Deno.writeTextFile(f.path, shorter);
    index.sync(await stateOf(f.path));
    await index.waitFor(() => index.complete, 5000);
    checkEntries(index, new TextEncoder().encode(shorter), 256, "after truncation");
    // Rotation: another file (inode) at the path.
    const rotated = randomLines(300, 7);
    await Deno.rename(f.path, f.path + ".1");
    await Deno.writeTextFile(f.path, rotated);
    index.sync(await stateOf(f.path));
    await index.waitFor(() => index.complete, 5000);
    checkEntries(index, new TextEncoder().encode(rotated), 256, "after rotation");
    // copytruncate and a busy writer: same inode, more bytes than before, other content. The sync sees only
    // growth; the build's check of the last bytes it counted finds the rewrite.
    const rewritten = randomLines(600, 8).replaceAll("a", "A");
    await Deno.writeTextFile(f.path, rewritten);
    index.sync(await stateOf(f.path));
    await index.waitFor(() => index.complete, 5000);
    checkEntries(index, new TextEncoder().encode(rewritten), 256, "after a rewrite past the old size");
  } finally {
    await f.done();
  }
});

Deno.test("LineIndex in the worker is also extended by appends and notices a rewrite", async () => {
  const f = await tempLog(randomLines(2000, 9));
  try {
    const opts = { stride: 512, chunk: 4096, workerMinBytes: 0 };
    const index = await built(f.path, { ...opts, path: f.path });
    await Deno.writeTextFile(f.path, randomLines(300, 10), { append: true });
    index.sync(await stateOf(f.path));
    await index.waitFor(() => index.complete, 5000);
    checkEntries(index, await Deno.readFile(f.path), 512, "worker, after an append");
    const rewritten = randomLines(2600, 11).replaceAll("b", "B");
    await Deno.writeTextFile(f.path, rewritten);
    index.sync(await stateOf(f.path));
    await index.waitFor(() => index.complete, 5000);
    checkEntries(index, new TextEncoder().encode(rewritten), 512, "worker, after a rewrite");
  } finally {
    await f.done();
  }
});

Deno.test("LineIndex: a question past the indexed part waits, then fails with IndexPendingError and a Retry-After", async () => {
  let release = () => {};
  const stalled = new Promise<void>((r) => release = r);
  // A file whose reads never come back while `stalled` holds.
  const handle: IndexHandle = {
    stat: () => Promise.resolve({ dev: 1, ino: 2, size: 1000 }),
    read: async (buf, off, len) => {
      await stalled;
      buf.fill(10, off, off + len);
      return { bytesRead: len };
    },
    close: () => Promise.resolve(),
  };
  const index = new LineIndex(() => Promise.resolve(handle), { stride: 100, chunk: 100 });
  index.sync({ dev: 1, ino: 2, size: 1000 });
  index.start();
  assertEquals(index.total, null);
  const t0 = Date.now();
  let error: unknown;
  await index.waitFor(() => index.newlines >= 500, 150).catch((e) => error = e);
  assert(error instanceof IndexPendingError, `got ${error}`);
  assert(Date.now() - t0 >= 140, "it waited");
  assert(error.retryAfterS >= 1 && error.retryAfterS <= 60, `Retry-After ${error.retryAfterS}`);
  assert(/not there yet \(0 of 1000 bytes indexed\)/.test(error.message), error.message);
  // Released, the same question is answered.
  const waiting = index.waitFor(() => index.newlines >= 500, 5000);
  release();
  await waiting;
  await index.waitFor(() => index.complete, 5000);
  assertEquals(index.total, 1000);
  // A closed index fails what still waits.
  index.sync({ dev: 1, ino: 2, size: 2000 });
  const late = index.waitFor(() => false, 5000).catch((e) => e);
  index.dispose();
  assert((await late) instanceof IndexPendingError);
  index.dispose(); // twice is fine
});

Deno.test("LineIndex reports a failed build to whoever waits (the file shrank under it), and the owner's sync recovers", async () => {
  const f = await tempLog(randomLines(400, 12));
  try {
    const index = new LineIndex(() => open(f.path, "r"), { stride: 64, chunk: 256 });
    const st = await stateOf(f.path);
    index.sync({ ...st, size: st.size + 5000 }); // told more than there is
    index.start();
    const e = await index.waitFor(() => index.complete, 5000).catch((e) => e);
    assert(e instanceof IndexPendingError && /shrank/.test(e.message), String(e));
    index.sync(st);
    await index.waitFor(() => index.complete, 5000);
    checkEntries(index, await Deno.readFile(f.path), 64, "after the owner's sync");
  } finally {
    await f.done();
  }
});

Deno.test("LineIndex memory stays under 1 MiB per GiB even for a file of empty lines (built in the worker)", async () => {
  const size = 64 * 1024 * 1024;
  const f = await tempLog(new Uint8Array(size).fill(10));
  try {
    const index = await built(f.path, { path: f.path });
    assertEquals([index.total, index.builtIn], [size, "worker"]);
    assert(index.entries <= size / INDEX_STRIDE + 1, `${index.entries} entries`);
    const perGiB = index.memoryBytes * (2 ** 30 / size);
    assert(perGiB <= 1024 * 1024, `${perGiB} bytes per GiB`);
    // The entries are right at full stride too: line n starts at byte n - 1.
    for (let i = 0; i < index.entries; i += 37) {
      const e = index.entryAt(i);
      assertEquals(e.offset, e.line - 1);
    }
  } finally {
    await f.done();
  }
});

Deno.test("LineIndex in the worker: a rotation in the middle of a build stops it, and the new file is indexed alone", async () => {
  const size = 96 * 1024 * 1024;
  const f = await tempLog(new Uint8Array(size).fill(10));
  try {
    const index = new LineIndex(() => open(f.path, "r"), { path: f.path });
    index.sync(await stateOf(f.path));
    index.start();
    await index.waitFor(() => index.indexed > 0, 10_000);
    assert(!index.complete, "still building");
    await Deno.rename(f.path, f.path + ".1");
    const fresh = randomLines(200, 14);
    await Deno.writeTextFile(f.path, fresh);
    index.sync(await stateOf(f.path));
    await index.waitFor(() => index.complete, 10_000);
    checkEntries(index, new TextEncoder().encode(fresh), INDEX_STRIDE, "the new file");
    // Reports of the stopped job that were on their way changed nothing.
    await new Promise((r) => setTimeout(r, 300));
    checkEntries(index, new TextEncoder().encode(fresh), INDEX_STRIDE, "the new file, a moment later");
  } finally {
    await f.done();
  }
});
