/**
 * A file larger than `--max-file-size` without `--tail` is followed in tail
 * mode (docs/detection.md#tail-mode), against real server processes on every
 * runtime: a filewatch.v1 client gets `content` of the window, then appends;
 * a plain client the window, then each append's text; a file that grows past
 * the limit while watched switches with one `content`; one replaced by a
 * small file is sent whole again; two processes that read the file name its
 * versions alike, so a client resumes on either. The files (a few MiB) are
 * made at test time.
 * @module
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { connect, sleep, type V1Client, v1Client as v1 } from "../helpers/client.ts";
import { RUNTIMES, type Server, startServer, tempFile, waitFor } from "../helpers/harness.ts";
import { sameBytes } from "../helpers/v1state.ts";

const POLL = 200; // ms
const MiB = 1024 * 1024;
/** The limit these tests run with; the window is then 1 MiB too (docs/detection.md#tail-mode). */
const LIMIT = ["--max-file-size", "1MiB"];

/** `n` numbered lines of 64 bytes, tagged, from `from`. */
function lines(tag: string, from: number, n: number): string {
  let out = "";
  for (let i = from; i < from + n; i++) {
    const head = `${tag} ${i} `;
    out += head + "x".repeat(64 - head.length - 1) + "\n";
  }
  return out;
}

async function appendText(file: string, text: string): Promise<void> {
  await Deno.writeTextFile(file, text, { append: true });
}

/** The file's bytes from `offset` to its end. */
async function readFrom(file: string, offset: number): Promise<Uint8Array> {
  return (await Deno.readFile(file)).subarray(offset);
}

async function msg(v: V1Client, i: number, ms = POLL + 2_000): Promise<Record<string, unknown>> {
  await v.c.message(i, ms);
  return v.st.messages[i]!.msg;
}

/** The client holds the file's bytes from its offset to the end, at the file's size. */
async function holdsDisk(v: V1Client, file: string): Promise<boolean> {
  const disk = await Deno.readFile(file);
  return v.st.size === disk.length && sameBytes(v.st.bytes, disk.subarray(v.st.offset));
}

async function settles(v: V1Client, file: string, what: string): Promise<void> {
  await waitFor(() => holdsDisk(v, file), 10_000, `${what}: the client holds the file\n${v.st.describe()}`);
  const n = v.st.messages.length;
  await sleep(POLL * 2);
  assertEquals(v.st.messages.length, n, `${what}: nothing more once the file is still\n${v.st.describe(n)}`);
  assertEquals(v.st.violations, [], `${what}: every message applies\n${v.st.describe()}`);
}

/** A content message is a window of at most 1 MiB of the file, from the start of a line. */
async function isWindow(m: Record<string, unknown>, file: string, what: string): Promise<void> {
  const offset = Number(m.offset);
  const size = Number(m.size);
  assertEquals(m.type, "content", what);
  assert(offset > 0 && offset >= size - MiB && offset <= size, `${what}: the window is ${offset}..${size}`);
  assertEquals((await Deno.readFile(file))[offset - 1], 0x0a, `${what}: the window starts after a newline`);
}

async function withFile(content: string, fn: (file: string) => Promise<void>): Promise<void> {
  const file = await tempFile(content, "app.log");
  try {
    await fn(file);
  } finally {
    await Deno.remove(file.replace(/\/[^/]+$/, ""), { recursive: true });
  }
}

async function serve(rt: (typeof RUNTIMES)[number], file: string, servers: Server[]): Promise<Server> {
  const s = await startServer(rt, { file, args: ["--poll", `${POLL}ms`, ...LIMIT] });
  servers.push(s);
  return s;
}

for (const rt of RUNTIMES) {
  const t = (name: string, fn: (servers: Server[]) => Promise<void>) =>
    Deno.test({
      name: `[${rt}] ${name}`,
      sanitizeOps: false,
      sanitizeResources: false,
      fn: async () => {
        const servers: Server[] = [];
        try {
          await fn(servers);
        } finally {
          for (const s of servers) await s.stop();
        }
      },
    });

  t(
    "a 3 MiB file over --max-file-size 1MiB without --tail: the window, then appends (v1 and plain)",
    async (servers) => {
      await withFile(lines("big", 0, (3 * MiB) / 64), async (file) => {
        const s = await serve(rt, file, servers);
        const a = v1(s.wsUrl);
        const plain = connect(s.wsUrl);
        const m0 = await msg(a, 0, 5_000);
        assertEquals(m0.size, 3 * MiB);
        await isWindow(m0, file, "v1");
        assert(sameBytes(a.st.bytes, await readFrom(file, Number(m0.offset))), "the window is the file's end");
        const p0 = await plain.message(0, 5_000);
        assertEquals([p0.binary, p0.data], [false, m0.data], "a plain client gets the window as one text frame");
        for (let k = 0; k < 5; k++) {
          const line = `appended ${k}\n`;
          await appendText(file, line);
          const pk = await plain.message(1 + k, POLL + 2_000);
          assertEquals([pk.binary, pk.data], [false, line], `plain frame ${1 + k} is append ${k}'s text`);
          await waitFor(() => holdsDisk(a, file), POLL + 2_000, `append ${k} at the v1 client`);
        }
        await settles(a, file, "appends");
        assert(a.st.messages.slice(1).every((m) => m.msg.type === "append"), `appends only:\n${a.st.describe()}`);
        assertEquals(a.st.offset, Number(m0.offset), "appends extend the window");
        assertEquals(plain.messages.length, 6, "one plain frame per append, nothing more");
        // Ready, listed with its size, no read error counted, and the page is the large view that follows.
        const ready = await fetch(s.url + "readyz");
        assertEquals([ready.status, await ready.text()], [200, "ok\n"]);
        const files = await (await fetch(s.url + "files")).json() as Array<{ size?: number; error?: string }>;
        assertEquals([files.length, files[0]?.size, files[0]?.error], [1, a.st.size, undefined]);
        assertMatch(await (await fetch(s.url + "metrics")).text(), /^filewatch_read_errors_total 0$/m);
        const page = await (await fetch(s.url)).text();
        assert(page.includes(`data-view="large"`), "the large-file view");
        assert(!page.includes("--tail") && !page.includes("too large"), "no notice that it is not followed");
        a.c.close();
        plain.close();
      });
    },
  );

  t("a file that grows past the limit while watched: one content of the window, then appends", async (servers) => {
    const start = lines("small", 0, MiB / 64 - 16); // 1 KiB under the limit
    await withFile(start, async (file) => {
      const s = await serve(rt, file, servers);
      const a = v1(s.wsUrl);
      const plain = connect(s.wsUrl);
      const m0 = await msg(a, 0, 5_000);
      assertEquals([m0.type, m0.offset, m0.size], ["content", 0, start.length], "held whole under the limit");
      assertEquals((await plain.message(0, 5_000)).data, start);
      await appendText(file, lines("past", 0, 100)); // 6.25 KiB: past the limit
      await settles(a, file, "past the limit");
      const more = ["after 1\n", "after 2\n", "after 3\n"];
      for (const line of more) {
        await appendText(file, line);
        await waitFor(() => holdsDisk(a, file), POLL + 2_000, `"${line.trim()}" at the v1 client`);
      }
      await settles(a, file, "appends after the switch");
      const after = a.st.messages.slice(1).map((m) => m.msg);
      const contents = after.filter((m) => m.type === "content");
      assertEquals(contents.length, 1, `one content: the switch\n${a.st.describe()}`);
      const c = contents[0]!;
      assert(Number(c.size) > MiB, `the content is of the file past the limit:\n${a.st.describe()}`);
      await isWindow(c, file, "the switch");
      const at = after.indexOf(c);
      assert(after.slice(0, at).every((m) => Number(m.size) <= MiB), "before it, appends under the limit only");
      assert(after.slice(at + 1).every((m) => m.type === "append"), `then appends:\n${a.st.describe()}`);
      assert(after.length - at - 1 >= more.length, "each later line came as an append");
      // A plain client: the whole file while under the limit, then the window, then each append's text.
      await waitFor(() => plain.messages.at(-1)?.data === more.at(-1), POLL + 2_000, "the last line, plain");
      const frames = plain.messages.map((m) => m.data as string);
      const w = frames.indexOf(c.data as string);
      assert(w > 0, "the plain client got the window v1 got");
      assertEquals(frames.slice(w + 1).slice(-more.length), more, "then each append's text");
      a.c.close();
      plain.close();
    });
  });

  t("a file in tail mode replaced by a small one is sent whole again", async (servers) => {
    await withFile(lines("big", 0, (3 * MiB) / 64), async (file) => {
      const s = await serve(rt, file, servers);
      const a = v1(s.wsUrl);
      const plain = connect(s.wsUrl);
      await isWindow(await msg(a, 0, 5_000), file, "first");
      await plain.message(0, 5_000);
      await Deno.writeTextFile(file + ".new", "small now\n");
      await Deno.rename(file + ".new", file); // logrotate's create: a new file in its place
      await settles(a, file, "replaced");
      const m = a.st.messages.at(-1)!.msg;
      assertEquals([m.type, m.offset, m.size, m.data], ["content", 0, 10, "small now\n"]);
      await waitFor(() => plain.messages.at(-1)?.data === "small now\n", POLL + 2_000, "the whole file, plain");
      // Under the limit plain clients get the whole file each time again.
      await appendText(file, "more\n");
      await settles(a, file, "an append to the small file");
      assertEquals(a.st.messages.at(-1)!.msg.type, "append");
      await waitFor(() => plain.messages.at(-1)?.data === "small now\nmore\n", POLL + 2_000, "whole again, plain");
      a.c.close();
      plain.close();
    });
  });

  t("two processes name the window's versions alike: a client resumes on either with one append", async (servers) => {
    const start = lines("small", 0, MiB / 64 - 16);
    await withFile(start, async (file) => {
      // One process saw the file under the limit and switched; the other reads it only past the limit.
      const one = await serve(rt, file, servers);
      const a = v1(one.wsUrl);
      await msg(a, 0, 5_000);
      await appendText(file, lines("past", 0, 100));
      await settles(a, file, "past the limit");
      const two = await serve(rt, file, servers);
      const b = v1(two.wsUrl);
      const n0 = await msg(b, 0, 5_000);
      assertEquals([n0.lastMod, n0.offset, n0.size], [a.st.lastMod, a.st.offset, a.st.size], "the same version");
      const held = { lastMod: a.st.lastMod!, size: a.st.size };
      await appendText(file, "one more\n");
      await settles(a, file, "one more");
      await settles(b, file, "one more, the other process");
      const resumed = connect(`${two.wsUrl}?lastMod=${held.lastMod}&size=${held.size}`, {
        protocols: ["filewatch.v1"],
      });
      const r0 = await resumed.json(0, 5_000);
      assertEquals(
        [r0.type, r0.prev, r0.offset, r0.data, r0.lastMod],
        ["append", held.lastMod, held.size, "one more\n", b.st.lastMod],
        "a version the other process published resumes with one append",
      );
      await sleep(POLL * 2);
      assertEquals(resumed.messages.length, 1, "nothing more");
      for (const c of [a.c, b.c, resumed]) c.close();
    });
  });
}
