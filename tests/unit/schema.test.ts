import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";
import { assertV1, SchemaViolation, v1Violation } from "../helpers/schema.ts";
import { frameFor, v1Append, v1Message } from "../../src/messages.ts";
import { Version } from "../../src/version.ts";

const enc = new TextEncoder();
const PROTOCOL_MD = new URL("../../docs/protocol.md", import.meta.url);

/** A version as the watcher makes them: `text` from `offset`, the file's bytes kept from `base`. */
const version = (lastMod: string, kept: Uint8Array, base = 0, offset = base) =>
  new Version({ seq: 1, lastMod, kept, base, offset });

/** Messages the server's own encoders produce, one of each kind and shape. */
function serverMessages(): Array<[string, unknown]> {
  const v1 = version("18c3f0a9b2e4d000", enc.encode("first line\n"));
  const v2 = version("18c3f0a9b2e4d001", enc.encode("first line\nsecond line\n"));
  const binary = version("18c3f0a9b2e4d002", new Uint8Array([0x66, 0x6f, 0xff, 0xfe, 0x0a]));
  const tail = version("18c3f0a9c0000000", enc.encode("xx\nlast lines\n"), 4096, 4099);
  return [
    ["content", v1Message(v1)],
    ["content, base64", v1Message(binary)],
    ["content, tail window", v1Message(tail)],
    ["content, empty file", v1Message(version("0", new Uint8Array(0)))],
    ["append", v1Append(v2, 11, v1.lastMod)],
    ["append, base64", v1Append(binary, 2, "18c3f0a9b2e4d001")],
    ["error", v1Message({ ok: false, seq: 2, lastMod: "", error: "file not found: /var/log/app.log" })],
    // What goes on the wire is the JSON text: parse it back, as a client does.
    ["wire frame", JSON.parse(frameFor(v2, "v1") as string)],
    ["wire append frame", JSON.parse(frameFor(v2, "v1", 11, v1.lastMod) as string)],
  ];
}

Deno.test("the schema accepts every kind of message the server's encoders produce", () => {
  for (const [what, msg] of serverMessages()) {
    assert(msg !== null, what);
    assertEquals(v1Violation(msg), null, what);
  }
});

Deno.test("the schema accepts every filewatch.v1 example in docs/protocol.md", async () => {
  const md = await Deno.readTextFile(PROTOCOL_MD);
  // Each ```json block there is one message (a block per example).
  const blocks = [...md.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]!);
  assert(blocks.length >= 5, `expected examples of content, append, base64, tail and error; found ${blocks.length}`);
  const types = new Set<string>();
  for (const block of blocks) {
    const msg = JSON.parse(block);
    assertEquals(v1Violation(msg), null, block);
    types.add(msg.type);
  }
  assertEquals([...types].sort(), ["append", "content", "error"]);
});

const good = {
  content: { type: "content", lastMod: "18c3f0a9b2e4d000", offset: 0, size: 6, data: "hello\n" },
  append: { type: "append", lastMod: "18c3f0a9b2e4d001", prev: "18c3f0a9b2e4d000", offset: 6, size: 9, data: "ab\n" },
  error: { type: "error", message: "file not found" },
};

const malformed: Array<[string, unknown]> = [
  ["append without prev", { ...good.append, prev: undefined }],
  ["negative offset", { ...good.append, offset: -1 }],
  ["offset that is not an integer", { ...good.content, offset: 1.5 }],
  ["size as a string", { ...good.content, size: "6" }],
  ["unknown type", { ...good.content, type: "patch" }],
  ["extra field on content", { ...good.content, seq: 3 }],
  ["extra field on error", { ...good.error, code: 404 }],
  ['encoding "hex"', { ...good.content, encoding: "hex", data: "68656c6c6f0a" }],
  ["base64 data that is not base64", { ...good.content, encoding: "base64", data: "héllo" }],
  ["lastMod in upper case", { ...good.content, lastMod: "18C3F0A9B2E4D000" }],
  ["lastMod with 0x", { ...good.content, lastMod: "0x18c3" }],
  ["lastMod with a leading zero", { ...good.content, lastMod: "018c3" }],
  ["prev that is not hex", { ...good.append, prev: "yesterday" }],
  ["content without data", { ...good.content, data: undefined }],
  ["error without a message", { type: "error" }],
  ["not an object", "hello\n"],
  ["null", null],
];

Deno.test("the schema refuses malformed messages: missing prev, negative offset, unknown type, extra field, encoding hex", () => {
  for (const msg of Object.values(good)) assertEquals(v1Violation(msg), null, JSON.stringify(msg));
  for (const [what, msg] of malformed) {
    // JSON has no undefined: drop such fields as JSON.stringify would.
    const wire = msg === null || typeof msg !== "object" ? msg : JSON.parse(JSON.stringify(msg));
    assert(v1Violation(wire) !== null, `the schema accepted ${what}: ${JSON.stringify(wire)}`);
  }
});

Deno.test("assertV1() throws with ajv's errors, naming the field", () => {
  const e = assertThrows(() => assertV1({ ...good.append, offset: -1 }));
  assert(e instanceof SchemaViolation);
  assert(e.errors.length > 0);
  assert(/\/offset must be >= 0/.test(e.message), e.message);
  const extra = assertThrows(() => assertV1({ ...good.error, code: 404 })) as SchemaViolation;
  assert(/must NOT have additional properties/.test(extra.message), extra.message);
});

Deno.test("the e2e client (tests/helpers/client.ts) fails a test on a filewatch.v1 message the schema refuses", async () => {
  // A stand-in server that speaks filewatch.v1 and sends one good and one bad message.
  const { WebSocketServer } = await import("ws");
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, handleProtocols: () => "filewatch.v1" });
  await new Promise<void>((r) => wss.once("listening", () => r()));
  wss.on("connection", (ws: { send(data: string): void }) => {
    ws.send(JSON.stringify(good.content));
    ws.send(JSON.stringify({ ...good.append, offset: -1 }));
  });
  const { connect } = await import("../helpers/client.ts");
  const c = connect(`ws://127.0.0.1:${(wss.address() as { port: number }).port}/ws`, { protocols: ["filewatch.v1"] });
  try {
    assertEquals((await c.json(0)).type, "content");
    const e = await c.json(1).then(() => null, (e: Error) => e);
    assert(e && /#1: .*\/offset must be >= 0/.test(e.message), String(e));
    assertEquals(c.violations.map((v) => v.index), [1]);
    assert(/#1/.test(String(assertThrows(() => c.close()))), "close() reports the violation too");
    await c.closed;
  } finally {
    await new Promise((r) => wss.close(r));
  }
});
