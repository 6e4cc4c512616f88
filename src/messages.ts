/**
 * What goes on the wire for a snapshot, per subprotocol: gorilla's plain
 * frames, filewatch.v1 JSON, or filewatch.bin.v1 binary frames
 * (docs/protocol.md). Each frame is encoded once per snapshot, format and
 * starting point, and the same frame is handed to every client that needs it.
 * @module
 */
import { Buffer, isUtf8 } from "node:buffer";
import { type Snapshot, utf8OrNull, type Version } from "./version.ts";

/** The JSON subprotocol: every client that asks for it gets it (docs/protocol.md#filewatchv1-messages). */
export const PROTOCOL_V1 = "filewatch.v1";

/**
 * The compact subprotocol: the same messages as binary frames, the file's
 * bytes raw after a small header (docs/protocol.md#filewatchbinv1-binary-frames).
 * The page offers it first.
 */
export const PROTOCOL_BIN = "filewatch.bin.v1";

/** How a client wants its messages: plain frames (gorilla's), filewatch.v1 JSON, or filewatch.bin.v1 frames. */
export type Format = "plain" | "v1" | "bin";

/** Every {@link Format}. */
export const FORMATS: readonly Format[] = ["plain", "v1", "bin"];

/** The subprotocols the server speaks, and the format each stands for. */
const PROTOCOLS: ReadonlyMap<string, Format> = new Map([[PROTOCOL_V1, "v1"], [PROTOCOL_BIN, "bin"]]);

/** A text frame is a string; a binary frame is bytes. */
export type Frame = string | Uint8Array;

/** A filewatch.v1 message (docs/protocol.md; its JSON Schema: docs/filewatch.v1.schema.json). */
export type V1Message =
  | { type: "content"; lastMod: string; offset: number; size: number; data: string; encoding?: "base64" }
  | {
    type: "append";
    lastMod: string;
    prev: string;
    offset: number;
    size: number;
    data: string;
    encoding?: "base64";
  }
  | { type: "error"; message: string };

/** `data` for bytes: the text, or base64 with `encoding` when they are not valid UTF-8. */
function payload(bytes: Uint8Array, text: string | null): { data: string; encoding?: "base64" } {
  return text !== null
    ? { data: text }
    : { data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("base64"), encoding: "base64" };
}

/**
 * The filewatch.v1 message for a snapshot: its content (from its `offset`:
 * 0, or the tail window's start), or its error. Content that is not valid
 * UTF-8 is sent base64-encoded (`"encoding":"base64"`), so nothing is lost and
 * no invalid text ever reaches a browser.
 */
export function v1Message(s: Snapshot): V1Message {
  if (!s.ok) return { type: "error", message: s.error };
  return { type: "content", lastMod: s.lastMod, offset: s.offset, size: s.size, ...payload(s.bytes, s.text) };
}

/**
 * The filewatch.v1 append that takes a client holding the version whose
 * token is `prevToken` (of size `from`) to snapshot `s`; null when `s` does
 * not keep those bytes.
 */
export function v1Append(s: Snapshot, from: number, prevToken: string): V1Message | null {
  const bytes = s.ok ? s.since(from) : null;
  if (!s.ok || !bytes) return null;
  return {
    type: "append",
    lastMod: s.lastMod,
    prev: prevToken,
    offset: from,
    size: s.size,
    ...payload(bytes, utf8OrNull(bytes)),
  };
}

/**
 * The plain frame for a snapshot, as gorilla's example sends it: the content as
 * a text frame, or the error's text. Content that is not valid UTF-8 goes as a
 * binary frame with the exact bytes, since a text frame must be valid UTF-8
 * (browsers fail the connection with 1007 otherwise).
 */
export function plainFrame(s: Snapshot): Frame {
  if (!s.ok) return s.error;
  return s.text ?? s.bytes;
}

/**
 * The first byte of a filewatch.bin.v1 frame: its type, and for `content` and
 * `append` the {@link BIN_NOT_UTF8} flag. The layouts are in docs/protocol.md.
 */
export const BIN_TYPE = { content: 0x01, append: 0x02, error: 0x03 } as const;
/** Set in the type byte when the frame's bytes are not valid UTF-8 (the page then decodes them lossily). */
export const BIN_NOT_UTF8 = 0x80;

const U64 = (1n << 64n) - 1n;

// LEB128 takes a dozen lines here; npm's `varint` stops at 2^53 (plain numbers), and the zigzag mtime
// difference of an append can need 65 bits.

/** How many bytes {@link putVarint} takes for `n` (an unsigned integer). */
function varintLength(n: number | bigint): number {
  let len = 1;
  if (typeof n === "bigint") {
    while (n >= 0x80n) {
      n >>= 7n;
      len++;
    }
    return len;
  }
  // Offsets pass 2^32 (a log of several GiB), where JS bit operators stop: divide instead.
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    len++;
  }
  return len;
}

/** Writes `n` as an unsigned LEB128 varint (7 bits a byte, low bits first) at `at`; returns the end. */
function putVarint(out: Uint8Array, at: number, n: number | bigint): number {
  if (typeof n === "bigint") {
    while (n >= 0x80n) {
      out[at++] = Number(n & 0x7fn) | 0x80;
      n >>= 7n;
    }
    out[at++] = Number(n);
    return at;
  }
  while (n >= 0x80) {
    out[at++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  out[at++] = n;
  return at;
}

/** A token (hex, at most 32 digits) as a number; throws for anything else. */
function tokenValue(token: string): bigint {
  if (!/^[0-9a-f]{1,32}$/.test(token)) throw new RangeError(`Cannot encode version "${token}": not a token`);
  return BigInt("0x" + token);
}

/** Writes the low 64 bits of `v` big-endian at `at`. */
function putU64(out: Uint8Array, at: number, v: bigint): void {
  new DataView(out.buffer, out.byteOffset + at, 8).setBigUint64(0, v & U64);
}

/** Zigzag: a signed difference as an unsigned number, small when the difference is small either way. */
function zigzag(d: bigint): bigint {
  return d >= 0n ? d << 1n : ((-d) << 1n) - 1n;
}

/**
 * The filewatch.bin.v1 content frame of a version: type, the token as 16
 * bytes, `offset` as a varint, then the bytes from `offset` to the size
 * (which is `offset` + their count).
 */
export function binContent(s: Version): Uint8Array {
  const data = s.bytes;
  const head = 1 + 16 + varintLength(s.offset);
  const out = new Uint8Array(head + data.length);
  out[0] = BIN_TYPE.content | (s.text === null ? BIN_NOT_UTF8 : 0);
  const token = tokenValue(s.lastMod);
  putU64(out, 1, token >> 64n);
  putU64(out, 9, token);
  putVarint(out, 17, s.offset);
  out.set(data, head);
  return out;
}

/**
 * The filewatch.bin.v1 append that takes a client holding the version whose
 * token is `prevToken` (of size `from`) to snapshot `s`; null when `s` does
 * not keep those bytes. The new version is named by its hash and the
 * difference of its mtime from the previous one's (a client holds that one),
 * the previous one by its hash: 17 bytes and two varints, so a 119-byte
 * line costs under 150 bytes on the wire.
 */
export function binAppend(s: Snapshot, from: number, prevToken: string): Uint8Array | null {
  const data = s.ok ? s.since(from) : null;
  if (!s.ok || !data) return null;
  const token = tokenValue(s.lastMod);
  const prev = tokenValue(prevToken);
  const delta = zigzag((token >> 64n) - (prev >> 64n));
  const head = 1 + 8 + 8 + varintLength(delta) + varintLength(from);
  const out = new Uint8Array(head + data.length);
  out[0] = BIN_TYPE.append | (isUtf8(data) ? 0 : BIN_NOT_UTF8);
  putU64(out, 1, token);
  putU64(out, 9, prev);
  putVarint(out, putVarint(out, 17, delta), from);
  out.set(data, head);
  return out;
}

/** The filewatch.bin.v1 error frame: type, then the message as UTF-8. */
export function binError(message: string): Uint8Array {
  const text = Buffer.from(message, "utf8");
  const out = new Uint8Array(1 + text.length);
  out[0] = BIN_TYPE.error;
  out.set(text, 1);
  return out;
}

interface Encoded {
  frame: Frame;
  bytes: number;
}
/**
 * Per snapshot: the format's name for its content ("plain", "v1", "bin"), and
 * "plain@N" / "v1@N:TOKEN" / "bin@N:TOKEN" for appends from N to a client
 * holding TOKEN.
 */
const cache = new WeakMap<Snapshot, Map<string, Encoded>>();

function encode(frame: Frame): Encoded {
  return { frame, bytes: typeof frame === "string" ? Buffer.byteLength(frame, "utf8") : frame.length };
}

function encoded(s: Snapshot, key: string, make: () => Frame): Encoded {
  let c = cache.get(s);
  if (!c) cache.set(s, c = new Map());
  let e = c.get(key);
  if (!e) c.set(key, e = encode(make()));
  return e;
}

/**
 * What to send a client to bring it to snapshot `s`: the content, or with
 * `from` (and, for filewatch.v1, `prevToken`, the token of the version the
 * client holds, sent as `prev`) only the bytes appended since. Plain appends
 * are the new bytes alone, as `tail -f` shows them. Encoded once and shared
 * by every client that needs the same.
 */
export function frameFor(s: Snapshot, format: Format, from?: number, prevToken = ""): Frame {
  return encodedFor(s, format, from, prevToken).frame;
}

/** The payload size in bytes of {@link frameFor}'s frame, measured once. */
export function frameSize(s: Snapshot, format: Format, from?: number, prevToken = ""): number {
  return encodedFor(s, format, from, prevToken).bytes;
}

function encodedFor(s: Snapshot, format: Format, from: number | undefined, prevToken: string): Encoded {
  if (from === undefined || !s.ok) return encoded(s, format, () => contentFrame(s, format));
  if (format === "plain") {
    return encoded(s, `plain@${from}`, () => {
      const bytes = s.since(from);
      if (!bytes) throw notKept(s, from);
      return utf8OrNull(bytes) ?? bytes;
    });
  }
  return encoded(s, `${format}@${from}:${prevToken}`, () => {
    if (format === "bin") return binAppend(s, from, prevToken) ?? throwing(notKept(s, from));
    const m = v1Append(s, from, prevToken);
    if (!m) throw notKept(s, from);
    return JSON.stringify(m);
  });
}

/** A snapshot's whole frame (content or error) in `format`. */
function contentFrame(s: Snapshot, format: Format): Frame {
  if (format === "plain") return plainFrame(s);
  if (format === "v1") return JSON.stringify(v1Message(s));
  return s.ok ? binContent(s) : binError(s.error);
}

function notKept(s: Snapshot, from: number): RangeError {
  return new RangeError(`Cannot append from byte ${from}: the version keeps bytes from ${s.ok ? s.base : "none"}`);
}

function throwing(e: Error): never {
  throw e;
}

/**
 * Picks the subprotocol from a `Sec-WebSocket-Protocol` header: the first one
 * in the client's list that the server speaks (RFC 6455 lists them in the
 * client's order of preference), so a client offering filewatch.bin.v1 then
 * filewatch.v1 gets the compact one, and one that offers filewatch.v1 alone
 * or first gets filewatch.v1. A client offering only unknown ones is served
 * plain frames, and the answer names no protocol: a browser fails a
 * handshake whose answer names one it did not offer.
 */
export function chooseProtocol(header: string | null | undefined): string | null {
  if (!header) return null;
  for (const p of header.split(",")) {
    const name = p.trim();
    if (PROTOCOLS.has(name)) return name;
  }
  return null;
}

/** The format a chosen subprotocol (or none) stands for. */
export function formatOf(protocol: string | null): Format {
  return (protocol !== null && PROTOCOLS.get(protocol)) || "plain";
}

/**
 * The token of the client's last seen version from `?lastMod=`: hex without
 * a prefix, at most 32 digits, returned in lowercase without leading zeros.
 * Anything else counts as nothing seen.
 */
export function parseLastMod(q: string | null | undefined): string | null {
  if (!q || !/^[0-9a-fA-F]{1,32}$/.test(q)) return null;
  return BigInt("0x" + q).toString(16);
}

/**
 * The size of the client's version from `?size=` (a resume): a byte count in
 * decimal. Anything else counts as not given.
 */
export function parseResumeSize(q: string | null | undefined): number | null {
  if (!q || !/^\d{1,16}$/.test(q)) return null;
  const n = Number(q);
  return Number.isSafeInteger(n) ? n : null;
}
