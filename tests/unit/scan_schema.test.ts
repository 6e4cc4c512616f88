/**
 * docs/http.schema.json against the server's own answers: `/lines` and
 * `/time` answers that src/scan/ produces (numbered and not, cut lines, U+FFFD,
 * empty, not found) validate against `$defs/lines` and `$defs/time`, every
 * such example in docs/protocol.md does, and malformed answers are refused —
 * so the schema and the page that documents it cannot drift from the code.
 */
import { open } from "node:fs/promises";
import { Ajv2020 } from "ajv/dist/2020.js";
import schema from "../../docs/http.schema.json" with { type: "json" };
import { assert, assertEquals } from "../helpers/assert.ts";
import { LogFile, type OpenedState } from "../../src/scan/log_file.ts";
import type { LinesQuery } from "../../src/scan/lines.ts";

const ajv = new Ajv2020({ strict: true, allErrors: true });
ajv.addSchema(schema, "http");
const check = (def: "lines" | "time" | "files", answer: unknown): string | null => {
  const validate = ajv.getSchema(`http#/$defs/${def}`)!;
  return validate(answer) ? null : ajv.errorsText(validate.errors);
};

async function withLog<T>(bytes: Uint8Array, fn: (log: LogFile, f: () => Promise<OpenedState>) => Promise<T>) {
  const dir = await Deno.makeTempDir({ prefix: "filewatch-schema-" });
  const path = `${dir}/a.log`;
  await Deno.writeFile(path, bytes);
  const log = new LogFile(path);
  const handles: OpenedState[] = [];
  const f = async () => {
    const fh = await open(path, "r");
    const st = await fh.stat();
    const o = { fh, size: st.size, dev: st.dev, ino: st.ino, mtimeMs: st.mtimeMs };
    handles.push(o);
    return o;
  };
  try {
    return await fn(log, f);
  } finally {
    log.dispose();
    for (const h of handles) await h.fh.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the schema accepts every shape of /lines and /time answer the scan modules produce", async () => {
  const enc = new TextEncoder();
  const text = [
    "2026-12-07T00:11:49.120Z INFO started",
    "",
    "2026-12-07T00:11:50Z " + "L".repeat(70_000),
    "2026-12-07T00:11:51Z żółw",
  ].join("\n");
  const bytes = new Uint8Array([...enc.encode(text), 0x0a, 0x62, 0xff, 0x64]);
  await withLog(bytes, async (log, f) => {
    const queries: LinesQuery[] = [
      { by: "end", count: 3 },
      { by: "line", line: 1, count: 10 },
      { by: "line", line: 3, count: -2 },
      { by: "offset", offset: 5, count: 2 },
      { by: "offset", offset: 1_000_000, count: 2 },
      { by: "line", line: 99, count: 1 },
    ];
    let cut = 0;
    for (const q of queries) {
      const a = await log.lines(await f(), q);
      assertEquals(check("lines", a), null, JSON.stringify(q));
      // What goes on the wire is the JSON text: parse it back, as a client does.
      assertEquals(check("lines", JSON.parse(JSON.stringify(a))), null);
      cut += a.lines.filter((l) => l.cut).length;
    }
    assert(cut > 0, "a cut line was among them");
    for (const t of [0, Date.UTC(2026, 11, 7, 0, 11, 50), Date.UTC(2030, 0, 1)]) {
      const a = await log.time(await f(), t);
      assertEquals(check("time", a), null, JSON.stringify(a));
    }
  });
  // Line numbers not known yet: null n and total.
  const unknown = {
    size: 10,
    lastMod: "1",
    total: null,
    lines: [{ n: null, offset: 4, text: "x" }],
  };
  assertEquals(check("lines", unknown), null);
});

Deno.test("the schema accepts every /lines, /time and /files example in docs/protocol.md", async () => {
  const md = await Deno.readTextFile(new URL("../../docs/protocol.md", import.meta.url));
  const blocks = [...md.matchAll(/```json (lines|time|files)\n([\s\S]*?)```/g)];
  assertEquals(blocks.map((b) => b[1]).sort(), ["files", "lines", "time"]);
  for (const [, def, body] of blocks) {
    assertEquals(check(def as "lines" | "time" | "files", JSON.parse(body!)), null, body);
  }
});

Deno.test("the schema refuses malformed /lines and /time answers", () => {
  const line = { n: 1, offset: 0, text: "x" };
  const lines = { size: 2, lastMod: "1f", total: 1, lines: [line] };
  assertEquals(check("lines", lines), null);
  const bad: Array<[string, unknown]> = [
    ["no total", { size: 2, lastMod: "1f", lines: [] }],
    ["negative size", { ...lines, size: -1 }],
    ["line 0", { ...lines, lines: [{ ...line, n: 0 }] }],
    ["fractional offset", { ...lines, lines: [{ ...line, offset: 1.5 }] }],
    ["cut without bytes", { ...lines, lines: [{ ...line, cut: true }] }],
    ["bytes without cut", { ...lines, lines: [{ ...line, bytes: 70000 }] }],
    ["cut false", { ...lines, lines: [{ ...line, cut: false, bytes: 70000 }] }],
    ["a short line said cut", { ...lines, lines: [{ ...line, cut: true, bytes: 10 }] }],
    ["an unknown field", { ...lines, lines: [{ ...line, level: "info" }] }],
    ["a lastMod with 0x", { ...lines, lastMod: "0x1f" }],
    ["too many lines", { ...lines, lines: new Array(10_001).fill(line) }],
  ];
  for (const [what, answer] of bad) assert(check("lines", answer) !== null, what);
  assertEquals(check("time", { n: 1, offset: 0, t: "2026-12-07T00:11:49.120Z" }), null);
  assertEquals(check("time", { n: null, offset: null, t: null }), null);
  for (
    const [what, answer] of [
      ["t not UTC", { n: 1, offset: 0, t: "2026-12-07T00:11:49+01:00" }],
      ["t as a number", { n: 1, offset: 0, t: 1765066309000 }],
      ["no offset", { n: 1, t: null }],
    ] as const
  ) assert(check("time", answer) !== null, what);
});
