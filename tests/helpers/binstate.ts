/**
 * The filewatch.bin.v1 contract, checked: a strict decoder of its binary
 * frames ({@link decodeBin}) and a reconstructing client ({@link BinState})
 * that applies them as docs/protocol.md says a client must. It plays the
 * part the JSON Schema and {@link V1State} play for filewatch.v1: the e2e
 * client (./client.ts) runs every frame of a filewatch.bin.v1 connection
 * through the decoder, so a frame the document does not describe fails the
 * test that received it.
 *
 * Written from docs/protocol.md, not from src/messages.ts or the page's
 * decoder: the tests must not trust the code they check.
 *
 * Every message is also recorded as the facts a filewatch.v1 message would
 * carry (`type`, `lastMod`, `prev`, `offset`, `size`, `data` as text, or
 * base64 with `encoding` when the bytes are not UTF-8), so one test can
 * check either format with the same assertions.
 * @module
 */
import { HeldState } from "./v1state.ts";

/** The subprotocol's name (docs/protocol.md). */
export const BIN_PROTOCOL = "filewatch.bin.v1";

const CONTENT = 0x01;
const APPEND = 0x02;
const ERROR = 0x03;
const NOT_UTF8 = 0x80;
const U64 = (1n << 64n) - 1n;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** One filewatch.bin.v1 frame, decoded (nothing about what the client holds is checked here). */
export type BinFrame =
  | { type: "content"; token: bigint; offset: number; size: number; data: Uint8Array; utf8: boolean }
  | {
    type: "append";
    /** The new version's hash (the token's low 64 bits). */
    hash: bigint;
    /** The hash of the version it extends. */
    prevHash: bigint;
    /** The new version's mtime part minus the previous one's (signed). */
    delta: bigint;
    offset: number;
    size: number;
    data: Uint8Array;
    utf8: boolean;
  }
  | { type: "error"; message: string };

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const isUtf8 = (b: Uint8Array) => {
  try {
    fatalUtf8.decode(b);
    return true;
  } catch {
    return false;
  }
};

/** Reads a varint at `at`: its value and end, or why it is not a valid one. */
function varint(b: Uint8Array, at: number, what: string, maxBytes: number): { v: bigint; end: number } | string {
  let v = 0n;
  for (let i = 0; i < maxBytes; i++) {
    const p = at + i;
    if (p >= b.length) return `short frame: ${what} runs past the end (${b.length} bytes)`;
    const byte = b[p]!;
    v |= BigInt(byte & 0x7f) << BigInt(7 * i);
    if ((byte & 0x80) === 0) {
      // Minimal: a last byte of 0 after others would be padding, which the encoder never writes.
      if (byte === 0 && i > 0) return `${what} is not minimally encoded`;
      return { v, end: p + 1 };
    }
  }
  return `${what} is longer than ${maxBytes} bytes`;
}

const u64 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset + at, 8).getBigUint64(0);

/**
 * Decodes one frame strictly: a frame the document does not describe (a text
 * frame, an unknown type or flag, a frame shorter than its header, a varint
 * that is not minimal or runs out, sizes past 2^53, an empty append, data
 * whose UTF-8 validity contradicts the flag, an empty or invalid error
 * message) is refused with the reason as a string.
 */
export function decodeBin(frame: Uint8Array | string): BinFrame | string {
  if (typeof frame === "string") return "a text frame (filewatch.bin.v1 sends binary frames only)";
  if (frame.length === 0) return "short frame: empty";
  const t = frame[0]!;
  const kind = t & ~NOT_UTF8;
  const flagged = (t & NOT_UTF8) !== 0;
  if (kind === ERROR) {
    if (flagged) return `unknown type byte 0x${t.toString(16)}`;
    const msg = frame.subarray(1);
    if (msg.length === 0) return "error without a message";
    if (!isUtf8(msg)) return "error message that is not UTF-8";
    return { type: "error", message: new TextDecoder().decode(msg) };
  }
  if (kind !== CONTENT && kind !== APPEND) return `unknown type byte 0x${t.toString(16)}`;
  // Both headers start with 17 fixed bytes (the token; or the two hashes), then their varints.
  if (frame.length < 18) return `short frame: ${frame.length} bytes, the ${kindName(kind)} header needs more`;
  let at = 17;
  let delta = 0n;
  if (kind === APPEND) {
    const d = varint(frame, at, "the mtime difference", 10);
    if (typeof d === "string") return d;
    if (d.v >= 1n << 65n) return "the mtime difference is out of range";
    delta = (d.v & 1n) === 0n ? d.v >> 1n : -((d.v + 1n) >> 1n);
    at = d.end;
  }
  const o = varint(frame, at, "offset", 8);
  if (typeof o === "string") return o;
  const data = frame.subarray(o.end);
  const size = o.v + BigInt(data.length);
  if (size > MAX_SAFE) return `offset ${o.v} + ${data.length} bytes is past 2^53`;
  const utf8 = isUtf8(data);
  if (utf8 === flagged) {
    return flagged ? "flagged not UTF-8, but the bytes are valid UTF-8" : "bytes that are not UTF-8 without the flag";
  }
  const offset = Number(o.v);
  if (kind === CONTENT) {
    const token = (u64(frame, 1) << 64n) | u64(frame, 9);
    return { type: "content", token, offset, size: Number(size), data, utf8 };
  }
  if (data.length === 0) return "an append without bytes";
  return {
    type: "append",
    hash: u64(frame, 1),
    prevHash: u64(frame, 9),
    delta,
    offset,
    size: Number(size),
    data,
    utf8,
  };
}

function kindName(kind: number): string {
  return kind === CONTENT ? "content" : "append";
}

/** A token as filewatch.v1 writes it: lowercase hex without leading zeros. */
export const tokenHex = (t: bigint) => t.toString(16);

const b64 = (b: Uint8Array) => btoa(Array.from(b, (x) => String.fromCharCode(x)).join(""));

/**
 * The state of one filewatch.bin.v1 client; the same members as
 * {@link V1State}, so the e2e tests drive either.
 */
export class BinState extends HeldState {
  /** Applies one frame; returns the message type, or "violation". */
  apply(frame: Uint8Array | string, at = Date.now()): string {
    const index = this.messages.length;
    const f = decodeBin(frame);
    if (typeof f === "string") {
      this.messages.push({ msg: { type: "<not a filewatch.bin.v1 frame>" }, at });
      return this.violation(index, f);
    }
    if (f.type === "error") {
      this.messages.push({ msg: { type: "error", message: f.message }, at });
      this.errors.push(f.message);
      return "error";
    }
    const data = f.utf8 ? { data: new TextDecoder().decode(f.data) } : { data: b64(f.data), encoding: "base64" };
    if (f.type === "content") {
      const lastMod = tokenHex(f.token);
      this.messages.push({ msg: { type: "content", lastMod, offset: f.offset, size: f.size, ...data }, at });
      return this.take(index, { type: "content", lastMod, offset: f.offset, size: f.size, data: f.data.slice() });
    }
    const held = this.lastMod === null ? null : BigInt("0x" + this.lastMod);
    const upper = held === null ? -1n : (held >> 64n) + f.delta;
    const lastMod = upper >= 0n && upper <= U64 ? tokenHex((upper << 64n) | f.hash) : "<out of range>";
    const prev = held !== null && (held & U64) === f.prevHash ? this.lastMod! : `hash ${f.prevHash.toString(16)}`;
    this.messages.push({ msg: { type: "append", lastMod, prev, offset: f.offset, size: f.size, ...data }, at });
    if (held !== null && prev === this.lastMod && lastMod === "<out of range>") {
      return this.violation(index, "the new version's mtime is out of range");
    }
    return this.take(index, { type: "append", lastMod, prev, offset: f.offset, size: f.size, data: f.data });
  }
}
