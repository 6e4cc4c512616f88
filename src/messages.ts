/**
 * What goes on the wire for a snapshot, per subprotocol. Each snapshot is
 * encoded once per format and the same frame is handed to every client.
 * @module
 */
import { Buffer } from "node:buffer";
import type { Snapshot } from "./watcher.ts";

/** The one subprotocol the server speaks; the page always offers it. */
export const PROTOCOL_V1 = "filewatch.v1";

/** How a client wants its messages: plain frames (gorilla's) or filewatch.v1 JSON. */
export type Format = "plain" | "v1";

/** A text frame is a string; a binary frame is bytes. */
export type Frame = string | Uint8Array;

/** A filewatch.v1 message. */
export type V1Message =
  | { type: "content"; lastMod: string; size: number; data: string; encoding?: "base64" }
  | { type: "error"; message: string };

/**
 * The filewatch.v1 message for a snapshot. Content that is not valid UTF-8 is
 * sent base64-encoded (`"encoding":"base64"`), so nothing is lost and no
 * invalid text ever reaches a browser.
 */
export function v1Message(s: Snapshot): V1Message {
  if (!s.ok) return { type: "error", message: s.error };
  return s.text !== null ? { type: "content", lastMod: s.lastMod, size: s.size, data: s.text } : {
    type: "content",
    lastMod: s.lastMod,
    size: s.size,
    data: Buffer.from(s.bytes.buffer, s.bytes.byteOffset, s.bytes.length).toString("base64"),
    encoding: "base64",
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
const cache = new WeakMap<Snapshot, Partial<Record<Format, Encoded>>>();

function encoded(s: Snapshot, format: Format): Encoded {
  let c = cache.get(s);
  if (!c) cache.set(s, c = {});
  return c[format] ??= (() => {
    const frame = format === "v1" ? JSON.stringify(v1Message(s)) : plainFrame(s);
    return { frame, bytes: typeof frame === "string" ? Buffer.byteLength(frame, "utf8") : frame.length };
  })();
}

/** The frame for a snapshot in a format, encoded once and shared by every client. */
export function frameFor(s: Snapshot, format: Format): Frame {
  return encoded(s, format).frame;
}

/** The frame's payload size in bytes, measured once per snapshot and format. */
export function frameSize(s: Snapshot, format: Format): number {
  return encoded(s, format).bytes;
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
 * The client's last seen version from `?lastMod=`: lowercase hex ns without a
 * prefix, at most 32 digits. Anything else counts as nothing seen.
 */
export function parseLastMod(q: string | null | undefined): string | null {
  if (!q || !/^[0-9a-fA-F]{1,32}$/.test(q)) return null;
  return BigInt("0x" + q).toString(16);
}
