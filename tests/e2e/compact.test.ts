/**
 * filewatch.bin.v1 (docs/protocol.md#filewatchbinv1-binary-frames) against a
 * real server on every runtime: which subprotocol a handshake gets, what each
 * frame costs, and that a compact client ends up with exactly the facts a
 * filewatch.v1 client gets (tokens, offsets, sizes, bytes), non-UTF-8 bytes,
 * errors and resume included. Every frame these clients receive goes through
 * the strict decoder of tests/helpers/binstate.ts (via tests/helpers/client.ts).
 *
 * The appends and torture suites run their reconstruction cases in this format
 * too (tests/e2e/appends.test.ts, tests/e2e/torture.test.ts).
 * @module
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { BIN_PROTOCOL, decodeBin } from "../helpers/binstate.ts";
import { binClient, connect, sleep, type StateClient, v1Client } from "../helpers/client.ts";
import {
  appendBytes,
  EXPECT,
  handshake,
  rawRequest,
  type RuntimeName,
  RUNTIMES,
  type Server,
  waitFor,
  withServer as serve,
} from "../helpers/harness.ts";

const POLL = 200; // ms
const enc = new TextEncoder();

/** A quiet server on a new app.log, polling every POLL ms. */
const withServer = (rt: RuntimeName, content: string | Uint8Array, args: string[], fn: (s: Server) => Promise<void>) =>
  serve(rt, content, ["--poll", `${POLL}ms`, "--quiet", ...args], fn, "app.log");

/** The i-th message's facts (waits for it). */
async function msg(v: StateClient, i: number, ms = POLL + 2_000): Promise<Record<string, unknown>> {
  await v.c.message(i, ms);
  return v.st.messages[i]!.msg;
}

/** Bytes a server frame with this payload takes on the wire (RFC 6455 §5.2; server frames are not masked). */
const onWire = (payload: number) => payload + (payload < 126 ? 2 : payload < 65_536 ? 4 : 10);

function noViolations(v: StateClient, what: string): void {
  assertEquals(v.st.violations, [], `frames a client cannot apply (${what}):\n${v.st.describe()}`);
  assertEquals(v.c.violations, [], `frames the decoder refuses (${what})`);
}

for (const rt of RUNTIMES) {
  const t = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${rt}] ${name}`, fn, sanitizeOps: false, sanitizeResources: false });

  t(
    "subprotocols: the first of the client's list the server speaks; filewatch.v1 whenever it comes first",
    async () => {
      await withServer(rt, "p\n", [], async (s) => {
        const answer = async (offer: string) => {
          const r = await rawRequest(s.port, handshake(s.port, { "Sec-WebSocket-Protocol": offer }));
          return r.status === 101 ? r.headers["sec-websocket-protocol"] ?? "none" : String(r.status);
        };
        assertEquals(await answer("filewatch.bin.v1, filewatch.v1"), BIN_PROTOCOL, "the page's offer");
        assertEquals(await answer("filewatch.v1, filewatch.bin.v1"), "filewatch.v1");
        assertEquals(await answer("filewatch.v1"), "filewatch.v1");
        assertEquals(await answer("filewatch.bin.v1"), BIN_PROTOCOL);
        assertEquals(await answer("x.unknown, filewatch.bin.v1"), BIN_PROTOCOL);
        assertEquals(await answer("filewatch.bin.v2, filewatch.bin"), "none");
        const tight = await answer("x,filewatch.bin.v1");
        assertEquals(tight, EXPECT[rt].commaListWithoutSpace === 101 ? BIN_PROTOCOL : "400");
      });
    },
  );

  t(
    "content, append, error and content again as binary frames; an append costs its bytes plus a small header",
    async () => {
      await withServer(rt, "hello\n", [], async (s) => {
        const b = binClient(s.wsUrl);
        const m0 = await msg(b, 0);
        assertEquals([m0.type, m0.offset, m0.size, m0.data], ["content", 0, 6, "hello\n"]);
        const r0 = await b.c.message(0);
        assert(r0.binary, "a binary frame");
        assertEquals((r0.data as Uint8Array).length, 1 + 16 + 1 + 6, "type, token, offset varint, the bytes");
        await appendBytes(s.file, "world\n");
        const m1 = await msg(b, 1);
        assertEquals(
          { type: m1.type, prev: m1.prev, offset: m1.offset, size: m1.size, data: m1.data },
          { type: "append", prev: m0.lastMod, offset: 6, size: 12, data: "world\n" },
          b.st.describe(),
        );
        const r1 = (await b.c.message(1)).data as Uint8Array;
        const f1 = decodeBin(r1);
        assert(typeof f1 !== "string" && f1.type === "append", String(f1));
        // Two hashes (16), the mtime difference (≤ 10), the offset (1 here), the type (1).
        assert(r1.length - 6 <= 1 + 16 + 10 + 1, `${r1.length - 6} header bytes for 6 bytes appended`);
        await Deno.remove(s.file);
        const m2 = await msg(b, 2, POLL * 3 + 2_000);
        assertEquals(m2.type, "error");
        assert(/not found/.test(String(m2.message)), String(m2.message));
        await Deno.writeTextFile(s.file, "back\n");
        const m3 = await msg(b, 3, POLL * 3 + 2_000);
        assertEquals([m3.type, m3.offset, m3.data], ["content", 0, "back\n"]);
        noViolations(b, "content, append, error, content");
        b.c.close();
      });
    },
  );

  t("a 119-byte line appended to a 10 MiB log is at most 150 bytes on the wire (filewatch.v1: 272)", async () => {
    const line = (n: number) => `seq=${String(n).padStart(8, "0")} `.padEnd(118, "x") + "\n";
    let initial = "";
    for (let i = 0; initial.length < 10 * 1024 * 1024; i++) initial += line(i);
    await withServer(rt, initial, ["--max-file-size", "64MiB"], async (s) => {
      const b = binClient(s.wsUrl);
      const v = v1Client(s.wsUrl);
      await Promise.all([msg(b, 0, 10_000), msg(v, 0, 10_000)]);
      const sizes: number[] = [];
      const v1Sizes: number[] = [];
      for (let k = 1; k <= 3; k++) {
        // One line per append, far enough apart that the server does not join two.
        await sleep(150);
        await appendBytes(s.file, line(100_000 + k));
        const raw = (await b.c.message(k)).data as Uint8Array;
        sizes.push(onWire(raw.length));
        v1Sizes.push(onWire(enc.encode((await v.c.message(k)).data as string).length));
      }
      assert(sizes.every((n) => n <= 150), `bytes on the wire per line: ${sizes} (v1: ${v1Sizes})`);
      assert(v1Sizes.every((n) => n > 250), `filewatch.v1 carries the JSON envelope: ${v1Sizes}`);
      noViolations(b, "lines");
      assertEquals(b.st.lastMod, v.st.lastMod, "the same version as the filewatch.v1 client");
      b.c.close();
      v.c.close();
    });
  });

  t("a filewatch.bin.v1 client holds exactly what a filewatch.v1 client holds, version for version", async () => {
    await withServer(rt, "start\n", [], async (s) => {
      const b = binClient(s.wsUrl);
      const v = v1Client(s.wsUrl);
      await Promise.all([msg(b, 0), msg(v, 0)]);
      const writes = ["a\n", "bb\n", "ccc €\n", "dddd\n"];
      for (const [k, w] of writes.entries()) {
        await appendBytes(s.file, w);
        await Promise.all([msg(b, k + 1), msg(v, k + 1)]);
      }
      // A replacement too: content, not an append.
      await Deno.writeTextFile(s.file + ".new", "replaced\n");
      await Deno.rename(s.file + ".new", s.file);
      await waitFor(() => b.st.text === "replaced\n" && v.st.text === "replaced\n", POLL + 3_000, "the replacement");
      const facts = (c: StateClient) =>
        c.st.messages.map(({ msg: m }) => ({
          type: m.type,
          lastMod: m.lastMod,
          prev: m.prev,
          offset: m.offset,
          size: m.size,
          data: m.data,
        }));
      assertEquals(facts(b), facts(v), `bin:\n${b.st.describe()}\nv1:\n${v.st.describe()}`);
      noViolations(b, "bin");
      assertEquals(v.st.violations, []);
      b.c.close();
      v.c.close();
    });
  });

  t("bytes that are not UTF-8 go raw (no base64), flagged, in content and appends", async () => {
    await withServer(rt, new Uint8Array([0x61, 0xff, 0x0a]), [], async (s) => {
      const b = binClient(s.wsUrl);
      const m0 = await msg(b, 0);
      const r0 = (await b.c.message(0)).data as Uint8Array;
      assertEquals(r0[0], 0x81, "content, flagged not UTF-8");
      assertEquals([...r0.subarray(r0.length - 3)], [0x61, 0xff, 0x0a], "the exact bytes");
      assertEquals([m0.type, m0.size], ["content", 3]);
      await appendBytes(s.file, new Uint8Array([0xfe, 0x0a]));
      await msg(b, 1);
      const r1 = (await b.c.message(1)).data as Uint8Array;
      assertEquals(r1[0], 0x82, "append, flagged not UTF-8");
      await appendBytes(s.file, "text\n");
      await msg(b, 2);
      assertEquals(((await b.c.message(2)).data as Uint8Array)[0], 0x02, "a valid append is not flagged");
      assertEquals([...b.st.bytes], [0x61, 0xff, 0x0a, 0xfe, 0x0a, ...enc.encode("text\n")]);
      noViolations(b, "not UTF-8");
      b.c.close();
    });
  });

  t("resume: a compact client's version resumes by append on either format", async () => {
    await withServer(rt, "line 1\n", [], async (s) => {
      const b = binClient(s.wsUrl);
      await msg(b, 0);
      await appendBytes(s.file, "line 2\n");
      await msg(b, 1);
      b.c.close();
      const held = { lastMod: b.st.lastMod!, bytes: b.st.bytes };
      await appendBytes(s.file, "line 3\n");
      await sleep(POLL * 2);
      const rb = binClient(s.wsUrl, held);
      const rv = v1Client(s.wsUrl, held);
      const [x, y] = await Promise.all([msg(rb, 0), msg(rv, 0)]);
      for (const m of [x, y]) {
        assertEquals([m.type, m.prev, m.offset, m.size, m.data], ["append", held.lastMod, 14, 21, "line 3\n"]);
      }
      assertEquals(x.lastMod, y.lastMod, "the same new version");
      await sleep(POLL * 2);
      assertEquals([rb.st.messages.length, rv.st.messages.length], [1, 1], "one message each");
      noViolations(rb, "resumed");
      rb.c.close();
      rv.c.close();
    });
  });

  t("a plain client beside a compact and a v1 one still gets plain frames", async () => {
    await withServer(rt, "x\n", [], async (s) => {
      const b = binClient(s.wsUrl);
      const p = connect(s.wsUrl);
      await msg(b, 0);
      const p0 = await p.message(0);
      assertEquals([p0.binary, p0.data], [false, "x\n"]);
      await appendBytes(s.file, "y\n");
      await msg(b, 1);
      const p1 = await p.message(1);
      assertEquals([p1.binary, p1.data], [false, "x\ny\n"], "the whole file, as gorilla's clients expect");
      b.c.close();
      p.close();
    });
  });
}
