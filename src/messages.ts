/**
 * What goes on the wire for a snapshot, per subprotocol. Each frame is
 * encoded once per snapshot, format and starting point, and the same frame is
 * handed to every client that needs it.
 * @module
 */
import { Buffer } from "node:buffer";
import { type Snapshot, utf8OrNull } from "./version.ts";

/** The one subprotocol the server speaks; the page always offers it. */
export const PROTOCOL_V1 = "filewatch.v1";

/** How a client wants its messages: plain frames (gorilla's) or filewatch.v1 JSON. */
export type Format = "plain" | "v1";

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

interface Encoded {
  frame: Frame;
  bytes: number;
}
/** Per snapshot: "plain" / "v1" for content, "plain@N" / "v1@N:TOKEN" for appends from N to a client holding TOKEN. */
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
  if (from === undefined || !s.ok) {
    return encoded(s, format, () => format === "v1" ? JSON.stringify(v1Message(s)) : plainFrame(s));
  }
  if (format === "v1") {
    return encoded(s, `v1@${from}:${prevToken}`, () => {
      const m = v1Append(s, from, prevToken);
      if (!m) throw new RangeError(`Cannot append from byte ${from}: the version keeps bytes from ${s.base}`);
      return JSON.stringify(m);
    });
  }
  return encoded(s, `plain@${from}`, () => {
    const bytes = s.since(from);
    if (!bytes) throw new RangeError(`Cannot append from byte ${from}: the version keeps bytes from ${s.base}`);
    return utf8OrNull(bytes) ?? bytes;
  });
}

/**
 * Picks the subprotocol from a `Sec-WebSocket-Protocol` header: filewatch.v1
 * when offered, otherwise none (a client offering only unknown ones is served
 * plain frames, and the answer names no protocol).
 */
export function chooseProtocol(header: string | null | undefined): string | null {
  if (!header) return null;
  return header.split(",").some((p) => p.trim() === PROTOCOL_V1) ? PROTOCOL_V1 : null;
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
