import { assertEquals, assertNotEquals } from "../helpers/assert.ts";
import { chooseProtocol, frameFor, frameSize, parseLastMod, plainFrame, v1Message } from "../../src/messages.ts";
import { type Snapshot, Version } from "../../src/version.ts";

const content = (_text: string | null, bytes: Uint8Array): Snapshot =>
  new Version({ seq: 1, lastMod: "18eb", kept: bytes });

Deno.test("plainFrame() is the text, the raw bytes when not UTF-8, or the error text", () => {
  const enc = new TextEncoder();
  assertEquals(plainFrame(content("héllo", enc.encode("héllo"))), "héllo");
  const raw = new Uint8Array([0xff, 0x00]);
  assertEquals(plainFrame(content(null, raw)), raw);
  assertEquals(plainFrame({ ok: false, seq: 2, lastMod: "", error: "f: file not found" }), "f: file not found");
});

Deno.test("v1Message() carries lastMod and size; non-UTF-8 content goes as base64", () => {
  const enc = new TextEncoder();
  assertEquals(v1Message(content('a"b', enc.encode('a"b'))), {
    type: "content",
    lastMod: "18eb",
    offset: 0,
    size: 3,
    data: 'a"b',
  });
  assertEquals(v1Message(content(null, new Uint8Array([0xff, 0xfe]))), {
    type: "content",
    lastMod: "18eb",
    offset: 0,
    size: 2,
    data: "//4=",
    encoding: "base64",
  });
  assertEquals(v1Message({ ok: false, seq: 1, lastMod: "", error: "nope" }), { type: "error", message: "nope" });
});

Deno.test("frameFor() encodes once per snapshot and format; frameSize() counts UTF-8 bytes", () => {
  const s = content("é", new TextEncoder().encode("é"));
  const a = frameFor(s, "v1");
  const b = frameFor(s, "v1");
  assertEquals(a === b, true);
  assertEquals(JSON.parse(a as string).data, "é");
  assertEquals(frameSize(s, "plain"), 2);
  assertNotEquals(frameFor(s, "plain"), a);
});

Deno.test("chooseProtocol() picks filewatch.v1 wherever it is offered, otherwise none", () => {
  assertEquals(chooseProtocol("filewatch.v1"), "filewatch.v1");
  assertEquals(chooseProtocol("chat, filewatch.v1"), "filewatch.v1");
  assertEquals(chooseProtocol("chat,filewatch.v1"), "filewatch.v1");
  assertEquals(chooseProtocol("chat, superchat"), null);
  assertEquals(chooseProtocol(""), null);
  assertEquals(chooseProtocol(undefined), null);
  assertEquals(chooseProtocol("filewatch.v10"), null);
});

Deno.test("parseLastMod() accepts hex ns (normalised), and anything else means nothing seen", () => {
  assertEquals(parseLastMod("18EB66CC16206B91"), "18eb66cc16206b91");
  assertEquals(parseLastMod("00ff"), "ff");
  for (const bad of [null, undefined, "", "-1", "0x10", "xyz", "１２", "f".repeat(33)]) {
    assertEquals(parseLastMod(bad), null);
  }
});
