/**
 * `/lines` (src/scan/lines.ts and the LogFile facade): the query's parsing,
 * and answers by line, by offset and from the end checked against the file
 * itself (a reference that splits its bytes) at its start, middle and end,
 * with negative counts, offsets that snap to line starts, lines longer than
 * 64 KiB cut on a character boundary, bytes that are not UTF-8, a BOM, and
 * numbers that are null while the index has not reached them. LogFile: after
 * an append, a truncation and a rotation; a late request is not a truncation.
 */
import { open } from "node:fs/promises";
import { assert, assertEquals } from "../helpers/assert.ts";
import type { IndexHandle } from "../../src/scan/_file.ts";
import { IndexPendingError, LineIndex } from "../../src/scan/line_index.ts";
import {
  ANSWER_BUDGET,
  DEFAULT_COUNT,
  LINE_CUT,
  type LineOut,
  type LinesQuery,
  MAX_COUNT,
  parseLinesQuery,
  readLines,
} from "../../src/scan/lines.ts";
import { LogFile, mtimeToken, type OpenedState, scanErrorStatus } from "../../src/scan/log_file.ts";
import { rng } from "../helpers/scan_fixtures.ts";
import { openForRead } from "../../src/raw.ts";

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { ignoreBOM: true });

Deno.test("parseLinesQuery reads line, offset and end with a count, and says why it refuses the rest", () => {
  const q = (s: string) => parseLinesQuery(new URLSearchParams(s));
  assertEquals(q("line=1"), { query: { by: "line", line: 1, count: DEFAULT_COUNT } });
  assertEquals(q("line=10&count=-5"), { query: { by: "line", line: 10, count: -5 } });
  assertEquals(q("offset=0&count=10000"), { query: { by: "offset", offset: 0, count: MAX_COUNT } });
  assertEquals(q("offset=123456789012&count=-1"), { query: { by: "offset", offset: 123456789012, count: -1 } });
  assertEquals(q("end=1&count=50"), { query: { by: "end", count: 50 } });
  assertEquals(
    q("end=1&count=50&file=app.log.1"),
    { query: { by: "end", count: 50 } },
    "other parameters are the route's",
  );
  const refused: Array<[string, RegExp]> = [
    ["", /give "line", "offset" or "end=1"/],
    ["count=5", /give "line", "offset" or "end=1"/],
    ["line=1&offset=2", /give only one of "line", "offset"/],
    ["line=0", /"line" must be a whole number from 1, got "0"/],
    ["line=-3", /"line" must be a whole number from 1/],
    ["line=1.5", /"line" must be a whole number from 1, got "1.5"/],
    ["line=abc", /got "abc"/],
    ["line=", /got ""/],
    ["line=99999999999999999", /"line" must be a whole number/],
    ["offset=-1", /"offset" must be a whole number from 0/],
    ["offset=1e3", /"offset" must be a whole number from 0, got "1e3"/],
    ["end=2", /"end" must be 1, got "2"/],
    ["end=1&count=-5", /"count" must be positive with "end"/],
    ["line=1&count=0", /"count" must be a whole number from -10000 to 10000 other than 0, got "0"/],
    ["line=1&count=10001", /got "10001"/],
    ["line=1&count=-10001", /got "-10001"/],
    ["line=1&count=x", /got "x"/],
    ["line=1&line=2", /"line" is given more than once/],
    ["line=1&count=1&count=2", /"count" is given more than once/],
  ];
  for (const [s, why] of refused) {
    const r = q(s);
    assert("error" in r, `${s}: refused`);
    assert(r.error.startsWith("Cannot read lines: ") && why.test(r.error), `${s}: ${r.error}`);
  }
});

/** The file's lines as a reader splits them: offset and bytes without the newline. */
function reference(bytes: Uint8Array): { offset: number; bytes: Uint8Array }[] {
  const out: { offset: number; bytes: Uint8Array }[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 10) {
      out.push({ offset: start, bytes: bytes.subarray(start, i) });
      start = i + 1;
    }
  }
  if (start < bytes.length) out.push({ offset: start, bytes: bytes.subarray(start) });
  return out;
}

/** What an answer holds for reference lines [from, to): ASCII where lines are long, so a cut is at LINE_CUT exactly. */
function expected(ref: ReturnType<typeof reference>, from: number, to: number, numbered = true): LineOut[] {
  return ref.slice(Math.max(0, from), Math.max(0, to)).map((l, i) => {
    const n = numbered ? Math.max(0, from) + i + 1 : null;
    return l.bytes.length > LINE_CUT
      ? { n, offset: l.offset, text: dec.decode(l.bytes.subarray(0, LINE_CUT)), cut: true, bytes: l.bytes.length }
      : { n, offset: l.offset, text: dec.decode(l.bytes) };
  });
}

/** A file of `n` lines: mostly short, some empty, a few longer than LINE_CUT, some bytes that are not UTF-8, CRLF now and then. */
function makeLog(n: number, seed: number, endNewline: boolean): Uint8Array {
  const r = rng(seed);
  const parts: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const k = r();
    let line: Uint8Array;
    if (k < 0.08) line = new Uint8Array(0);
    else if (k < 0.1) line = enc.encode(`${i + 1} ` + "L".repeat(LINE_CUT - 50 + Math.floor(r() * 200)));
    else if (k < 0.13) line = new Uint8Array([...enc.encode(`${i + 1} bad `), 0xff, 0xc3, 0x28, 0x80]);
    else if (k < 0.16) line = enc.encode(`${i + 1} windows line\r`);
    else line = enc.encode(`${i + 1} żółw ${"x".repeat(Math.floor(r() * 120))}`);
    parts.push(line, new Uint8Array([10]));
  }
  if (!endNewline) parts.pop();
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
}

async function withFile<T>(bytes: Uint8Array, fn: (path: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "filewatch-lines-" });
  try {
    await Deno.writeFile(`${dir}/a.log`, bytes);
    return await fn(`${dir}/a.log`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function opened(path: string): Promise<OpenedState> {
  const fh = await open(path, "r");
  const st = await fh.stat();
  return { fh, size: st.size, dev: st.dev, ino: st.ino, mtimeMs: st.mtimeMs };
}

Deno.test("/lines by line, by offset and from the end match the file, at its start, middle and end", async () => {
  for (const [seed, endNewline] of [[1, true], [2, false]] as const) {
    const bytes = makeLog(1500, seed, endNewline);
    const ref = reference(bytes);
    const total = ref.length;
    await withFile(bytes, async (path) => {
      const log = new LogFile(path, { index: { stride: 4096 } });
      const f = await opened(path);
      try {
        await log.lines(f, { by: "end", count: 1 });
        await log.index.waitFor(() => log.index.complete, 10_000);
        const ask = (query: LinesQuery) => log.lines(f, query, { lastMod: "abc" });
        const mid = Math.floor(total / 2);
        const cases: Array<[LinesQuery, number, number]> = [
          [{ by: "line", line: 1, count: 10 }, 0, 10],
          [{ by: "line", line: mid, count: 100 }, mid - 1, mid + 99],
          [{ by: "line", line: total - 3, count: 10 }, total - 4, total],
          [{ by: "line", line: total, count: 1 }, total - 1, total],
          [{ by: "line", line: total + 1, count: 5 }, total, total],
          [{ by: "line", line: mid, count: -7 }, mid - 7, mid],
          [{ by: "line", line: 3, count: -10 }, 0, 3],
          [{ by: "line", line: total + 5, count: -10 }, total - 5, total],
          [{ by: "end", count: 25 }, total - 25, total],
          [{ by: "end", count: 10_000 }, 0, total],
          [{ by: "line", line: 1, count: 10_000 }, 0, total],
        ];
        // Offsets snap forward to a line start: exactly on one, inside a line, on a newline byte.
        for (const i of [0, 1, mid, total - 2, total - 1]) {
          const l = ref[i]!;
          cases.push([{ by: "offset", offset: l.offset, count: 3 }, i, i + 3]);
          cases.push([{ by: "offset", offset: l.offset, count: -4 }, i - 4, i]);
          if (l.bytes.length > 0) {
            cases.push([{ by: "offset", offset: l.offset + 1, count: 2 }, i + 1, i + 3]);
            cases.push([{ by: "offset", offset: l.offset + l.bytes.length, count: 2 }, i + 1, i + 3]);
            cases.push([{ by: "offset", offset: l.offset + 1, count: -2 }, i - 1, i + 1]);
          }
        }
        cases.push([{ by: "offset", offset: bytes.length, count: 5 }, total, total]);
        cases.push([{ by: "offset", offset: bytes.length + 100, count: -3 }, total - 3, total]);
        for (const [query, from, to] of cases) {
          const a = await ask(query);
          assertEquals(a.lines, expected(ref, from, to), `seed ${seed} ${JSON.stringify(query)}`);
          assertEquals([a.size, a.total, a.lastMod], [bytes.length, total, "abc"]);
        }
      } finally {
        await f.fh.close();
        log.dispose();
      }
    });
  }
});

Deno.test("/lines cuts a line longer than 64 KiB on a character boundary, with cut and its whole length", async () => {
  const twoByte = "x" + "é".repeat(40_000); // byte 65,536 is the middle of an é
  const fourByte = "ab" + "😀".repeat(20_000); // and here the third byte of an emoji
  const huge = "H".repeat(3 * 1024 * 1024 + 7); // longer than a read: its end is found further on
  const exact = "E".repeat(LINE_CUT); // exactly the limit: not cut
  const text = `${twoByte}\n${fourByte}\n${huge}\n${exact}\nafter\n${huge}`;
  await withFile(enc.encode(text), async (path) => {
    for (const stride of [1 << 20, 256 * 1024]) {
      const log = new LogFile(path, { index: { stride } });
      const f = await opened(path);
      try {
        const a = await log.lines(f, { by: "line", line: 1, count: 10 });
        const [l1, l2, l3, l4, l5, l6] = a.lines;
        assertEquals(l1!.text, "x" + "é".repeat(32_767));
        assertEquals([l1!.cut, l1!.bytes], [true, enc.encode(twoByte).length]);
        assertEquals(l2!.text, "ab" + "😀".repeat(16_383));
        assertEquals([l2!.cut, l2!.bytes], [true, enc.encode(fourByte).length]);
        assertEquals([l3!.text, l3!.cut, l3!.bytes, l3!.offset], [
          "H".repeat(LINE_CUT),
          true,
          huge.length,
          enc.encode(`${twoByte}\n${fourByte}\n`).length,
        ]);
        assertEquals([l4!.text.length, l4!.cut, l4!.bytes], [LINE_CUT, undefined, undefined]);
        assertEquals([l5!.n, l5!.text], [5, "after"]);
        assertEquals([l6!.n, l6!.cut, l6!.bytes], [6, true, huge.length], "the last line, without a newline");
        assertEquals(a.lines.length, 6);
        assert(!a.lines.some((l) => l.text.includes("\ufffd")), "no U+FFFD from a cut");
        // From the end and by offset, the same lines.
        assertEquals((await log.lines(f, { by: "end", count: 4 })).lines, a.lines.slice(2));
        assertEquals((await log.lines(f, { by: "offset", offset: 1, count: 2 })).lines, a.lines.slice(1, 3));
      } finally {
        await f.fh.close();
        log.dispose();
      }
    }
  });
});

Deno.test("/lines shows bytes that are not UTF-8 as U+FFFD and keeps a BOM and a \\r", async () => {
  const bytes = new Uint8Array([0xef, 0xbb, 0xbf, 0x61, 0x0a, 0x62, 0xff, 0x63, 0x0a, 0xc3, 0x0a, 0x64, 0x0d, 0x0a]);
  await withFile(bytes, async (path) => {
    const log = new LogFile(path);
    const f = await opened(path);
    try {
      const a = await log.lines(f, { by: "line", line: 1, count: 10 });
      assertEquals(a.lines.map((l) => l.text), ["\ufeffa", "b\ufffdc", "\ufffd", "d\r"]);
      assertEquals(a.lines.map((l) => [l.n, l.offset]), [[1, 0], [2, 5], [3, 9], [4, 11]]);
      assertEquals(a.total, 4);
      assertEquals(a.lastMod, mtimeToken(f.mtimeMs), "without a token from the owner: the mtime's");
    } finally {
      await f.fh.close();
      log.dispose();
    }
  });
});

Deno.test("/lines stops early past the answer budget, with at least one line", async () => {
  const line = "B".repeat(LINE_CUT + 10);
  const n = Math.ceil(ANSWER_BUDGET / LINE_CUT) + 20;
  await withFile(enc.encode((line + "\n").repeat(n)), async (path) => {
    const log = new LogFile(path);
    const f = await opened(path);
    try {
      await log.lines(f, { by: "end", count: 1 }); // first need: the index is built
      await log.index.waitFor(() => log.index.complete, 10_000);
      const a = await log.lines(f, { by: "line", line: 1, count: n });
      assertEquals(a.lines.length, ANSWER_BUDGET / LINE_CUT);
      assert(a.lines.every((l) => l.cut && l.bytes === line.length));
      assertEquals(a.total, n);
    } finally {
      await f.fh.close();
      log.dispose();
    }
  });
});

Deno.test("/lines while the index is not there: total null, n null past it, a line question waits then 503s", async () => {
  const bytes = makeLog(300, 3, true);
  const ref = reference(bytes);
  await withFile(bytes, async (path) => {
    const f = await opened(path);
    // An index whose build never reads a byte.
    const never: IndexHandle = {
      stat: () => Promise.resolve({ dev: f.dev, ino: f.ino, size: f.size }),
      read: () => new Promise(() => {}),
      close: () => Promise.resolve(),
    };
    const index = new LineIndex(() => Promise.resolve(never), { waitMs: 100 });
    index.sync(f);
    index.start();
    const opts = { lastMod: "1" };
    try {
      let a = await readLines(f.fh, f.size, index, { by: "end", count: 3 }, opts);
      assertEquals(a.total, null);
      assertEquals(a.lines, expected(ref, ref.length - 3, ref.length, false));
      a = await readLines(f.fh, f.size, index, { by: "offset", offset: ref[50]!.offset, count: 2 }, opts);
      assertEquals(a.lines, expected(ref, 50, 52, false));
      // The first line's number is known without an index: line 1 starts at 0.
      a = await readLines(f.fh, f.size, index, { by: "line", line: 1, count: 2 }, opts);
      assertEquals(a.lines, expected(ref, 0, 2));
      a = await readLines(f.fh, f.size, index, { by: "offset", offset: 0, count: 1 }, opts);
      assertEquals(a.lines, expected(ref, 0, 1));
      const t0 = Date.now();
      const e = await readLines(f.fh, f.size, index, { by: "line", line: 100, count: 2 }, opts).catch((e) => e);
      assert(e instanceof IndexPendingError, String(e));
      assert(Date.now() - t0 >= 90, "it waited");
      const s = scanErrorStatus(e);
      assertEquals(s?.status, 503);
      assert(
        s!.retryAfterS! >= 1 && /^Service Unavailable: The line index is not there yet/.test(s!.reason),
        s?.reason,
      );
      assertEquals(scanErrorStatus(new Error("x")), null);
    } finally {
      index.dispose();
      await f.fh.close();
    }
  });
});

Deno.test("LogFile after an append, a truncation and a rotation: the lines and total of the file now", async () => {
  await withFile(enc.encode("one\ntwo\n"), async (path) => {
    const log = new LogFile(path);
    const ask = async (query: LinesQuery) => {
      const f = await opened(path);
      try {
        return await log.lines(f, query);
      } finally {
        await f.fh.close();
      }
    };
    try {
      assertEquals((await ask({ by: "end", count: 5 })).total, 2);
      await Deno.writeTextFile(path, "thr", { append: true });
      let a = await ask({ by: "end", count: 2 });
      assertEquals([a.total, a.lines.map((l) => [l.n, l.text])], [3, [[2, "two"], [3, "thr"]]]);
      await Deno.writeTextFile(path, "ee\nfour\n", { append: true });
      a = await ask({ by: "line", line: 3, count: 5 });
      assertEquals([a.total, a.lines.map((l) => [l.n, l.text])], [4, [[3, "three"], [4, "four"]]]);
      await Deno.writeTextFile(path, "fresh\n"); // truncated and written again
      a = await ask({ by: "line", line: 1, count: 5 });
      assertEquals([a.total, a.lines.map((l) => l.text)], [1, ["fresh"]]);
      await Deno.rename(path, path + ".1");
      await Deno.writeTextFile(path, "new file\nline 2\nline 3\n");
      a = await ask({ by: "end", count: 1 });
      assertEquals([a.total, a.lines.map((l) => [l.n, l.text])], [3, [[3, "line 3"]]]);
    } finally {
      log.dispose();
    }
  });
});

Deno.test("LogFile: a request that stat'ed before another's append is late, not a truncation", async () => {
  await withFile(enc.encode("a\nb\n"), async (path) => {
    const log = new LogFile(path);
    const early = await opened(path); // stat'ed at 4 bytes
    await Deno.writeTextFile(path, "c\nd\n", { append: true });
    const late = await opened(path);
    try {
      assertEquals((await log.lines(late, { by: "end", count: 1 })).total, 4);
      const entries = log.index.entries;
      const a = await log.lines(early, { by: "end", count: 1 });
      // Not dropped: the second stat saw the file grow; the answer is the file as far as the index knows it.
      assertEquals([a.size, a.total, a.lines[0]!.text], [8, 4, "d"]);
      assertEquals(log.index.entries, entries);
      assertEquals(log.index.indexed, 8);
    } finally {
      await early.fh.close();
      await late.fh.close();
      log.dispose();
    }
  });
});

Deno.test("LogFile reads a file opened by openForRead from src/raw.ts, the routes' way, with and without DIR's root", async () => {
  await withFile(enc.encode("alpha\nbeta\ngamma\n"), async (path) => {
    const root = await Deno.realPath(path.replace(/\/[^/]+$/, ""));
    const log = new LogFile(path);
    try {
      for (const r of [undefined, root]) {
        const o = await openForRead(path, "a.log", r);
        assert(!(o instanceof Response), "opened");
        try {
          const a = await log.lines(o, { by: "line", line: 2, count: 2 });
          assertEquals([a.total, a.lines.map((l) => l.text)], [3, ["beta", "gamma"]]);
        } finally {
          await o.fh.close();
        }
      }
    } finally {
      log.dispose();
    }
  });
});

Deno.test("on Bun, the index (built in its worker) and /lines answer as on Deno", async () => {
  const bytes = makeLog(3000, 4, false);
  await withFile(bytes, async (path) => {
    const script = `${path}.check.ts`;
    const src = new URL("../../src/scan/log_file.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { open } from "node:fs/promises";
import { LogFile } from ${JSON.stringify(src)};
const path = ${JSON.stringify(path)};
const log = new LogFile(path, { index: { stride: 4096, workerMinBytes: 0 } });
const fh = await open(path, "r");
const st = await fh.stat();
const f = { fh, size: st.size, dev: st.dev, ino: st.ino, mtimeMs: st.mtimeMs };
await log.lines(f, { by: "end", count: 1 });
await log.index.waitFor(() => log.index.complete, 10000);
const entries = Array.from({ length: log.index.entries }, (_, i) => log.index.entryAt(i));
const lines = await log.lines(f, { by: "line", line: 1500, count: 20 }, { lastMod: "1" });
console.log(JSON.stringify({ entries, lines, builtIn: log.index.builtIn }));
await fh.close();
log.dispose();
`,
    );
    const run = async (cmd: string[]) => {
      const out = await new Deno.Command(cmd[0]!, { args: cmd.slice(1), stdout: "piped", stderr: "piped" }).output();
      assert(out.success, new TextDecoder().decode(out.stderr));
      return JSON.parse(new TextDecoder().decode(out.stdout));
    };
    const bin = new URL("../../node_modules/.bin/", import.meta.url).pathname;
    const [deno, bun] = await Promise.all([run([`${bin}deno`, "run", "-A", script]), run([`${bin}bun`, script])]);
    assert(deno.entries.length > 20, `${deno.entries.length} entries`);
    assertEquals(bun, deno);
    assertEquals(deno.builtIn, "worker", "a worker started on both runtimes");
    assertEquals(deno.lines.lines, expected(reference(bytes), 1499, 1519));
  });
});

Deno.test("LogFile: requests on both sides of a rotation, at once, get their own file's lines or ask again (503)", async () => {
  const oldText = Array.from({ length: 400 }, (_, i) => `old ${i + 1}`).join("\n") + "\n";
  const newText = Array.from({ length: 300 }, (_, i) => `the new file ${i + 1}`).join("\n") + "\n";
  await withFile(enc.encode(oldText), async (path) => {
    const log = new LogFile(path, { index: { stride: 256 } });
    try {
      for (let round = 0; round < 5; round++) {
        await Deno.writeTextFile(path, oldText);
        const early = await opened(path);
        await Deno.rename(path, path + ".1");
        await Deno.writeTextFile(path, newText);
        const late = await opened(path);
        try {
          const results = await Promise.allSettled([
            log.lines(early, { by: "line", line: 200, count: 2 }),
            log.lines(late, { by: "line", line: 200, count: 2 }),
          ]);
          for (const [i, r] of results.entries()) {
            const which = i === 0 ? "old" : "the new file";
            if (r.status === "fulfilled") {
              assertEquals(r.value.lines.map((l) => [l.n, l.text]), [[200, `${which} 200`], [201, `${which} 201`]]);
            } else assert(r.reason instanceof IndexPendingError, String(r.reason));
          }
        } finally {
          await early.fh.close();
          await late.fh.close();
          await Deno.remove(path);
          await Deno.remove(path + ".1");
        }
      }
    } finally {
      log.dispose();
    }
  });
});
