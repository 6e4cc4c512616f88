/**
 * The server's messages as the page reads them, in either of the subprotocols
 * it offers (docs/protocol.md): `filewatch.bin.v1` binary frames, or
 * `filewatch.v1` JSON from a server that does not speak the compact one; and
 * the URL it connects to (docs/page.md#connection).
 * @module
 */

/** The compact subprotocol (docs/protocol.md#filewatchbinv1-binary-frames). */
export const SUBPROTOCOL_BIN = "filewatch.bin.v1";
/** The JSON subprotocol (docs/protocol.md#filewatchv1-messages). */
export const SUBPROTOCOL_V1 = "filewatch.v1";
/**
 * What the page offers, in its order of preference: the server answers the
 * first it speaks, so a server from before the compact format answers
 * filewatch.v1 and the page reads that.
 */
export const SUBPROTOCOLS: readonly string[] = [SUBPROTOCOL_BIN, SUBPROTOCOL_V1];

/** Bytes of the file as text: `lossy` when they were not valid UTF-8 (bad bytes are U+FFFD in `text`). */
interface Data {
  lastMod: string;
  /** The byte in the file where `text` starts. */
  offset: number;
  /** The byte in the file where `text` ends: the file's size at `lastMod`. */
  size: number;
  text: string;
  lossy: boolean;
}

/** A server message (either subprotocol), checked and decoded. */
export type ServerMessage =
  | ({ type: "content" } & Data)
  | ({ type: "append"; prev: string } & Data)
  | { type: "error"; message: string };

const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/**
 * Parses one `filewatch.v1` frame. Data sent as base64 (bytes that are not
 * valid UTF-8) is decoded lossily: invalid bytes become U+FFFD and `lossy` is
 * true. The server never splits a UTF-8 character across messages, so each
 * message decodes on its own. Returns null for anything that is not a
 * well-formed message; an `append` must say exactly where it goes.
 *
 * A `content` from a server older than appends has no `offset` (it is the
 * whole file: 0) and may have no `size` (then: the bytes it carries).
 */
export function parseMessage(frame: unknown): ServerMessage | null {
  if (typeof frame !== "string") return null;
  let m: unknown;
  try {
    m = JSON.parse(frame);
  } catch {
    return null;
  }
  if (typeof m !== "object" || m === null) return null;
  const o = m as Record<string, unknown>;
  if (o.type === "error") {
    return {
      type: "error",
      message: typeof o.message === "string" ? o.message : "unknown error",
    };
  }
  if (
    (o.type !== "content" && o.type !== "append") || typeof o.data !== "string"
  ) return null;
  let text = o.data;
  let bytes: number | undefined;
  const lossy = o.encoding === "base64";
  if (lossy) {
    let binary: string;
    try {
      binary = atob(o.data);
    } catch {
      return null;
    }
    const raw = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    text = new TextDecoder("utf-8").decode(raw);
    bytes = raw.length;
  }
  const lastMod = typeof o.lastMod === "string" ? o.lastMod : "";
  if (o.type === "append") {
    if (
      typeof o.prev !== "string" || !isCount(o.offset) || !isCount(o.size) ||
      o.size < o.offset
    ) return null;
    return {
      type: "append",
      lastMod,
      prev: o.prev,
      offset: o.offset,
      size: o.size,
      text,
      lossy,
    };
  }
  const offset = isCount(o.offset) ? o.offset : 0;
  const size = isCount(o.size) ? o.size : offset + (bytes ?? utf8Length(text));
  return { type: "content", lastMod, offset, size, text, lossy };
}

/** What the page holds, as a compact append needs it: the token and size of its version. */
export interface Holding {
  lastMod: string;
  size: number;
}

/**
 * Decodes one frame of either subprotocol: a text frame is `filewatch.v1`
 * JSON ({@link parseMessage}), a binary one (`ArrayBuffer`, as the page's
 * socket delivers them) `filewatch.bin.v1` ({@link parseBinary}). Null for
 * anything else.
 */
export function decodeFrame(frame: unknown, held: Holding): ServerMessage | null {
  if (typeof frame === "string") return parseMessage(frame);
  if (frame instanceof ArrayBuffer) return parseBinary(new Uint8Array(frame), held);
  if (frame instanceof Uint8Array) return parseBinary(frame, held);
  return null;
}

const U64 = (1n << 64n) - 1n;
const lossyUtf8 = new TextDecoder("utf-8");

/** A varint (LEB128, at most `max` bytes) at `at`, as a bigint, and where it ends; null when it runs out. */
function varint(b: Uint8Array, at: number, max: number): { v: bigint; end: number } | null {
  let v = 0n;
  for (let i = 0; i < max && at + i < b.length; i++) {
    const byte = b[at + i]!;
    v |= BigInt(byte & 0x7f) << BigInt(7 * i);
    if ((byte & 0x80) === 0) return { v, end: at + i + 1 };
  }
  return null;
}

const hi = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset + at, 8).getBigUint64(0);

/**
 * Parses one `filewatch.bin.v1` frame (docs/protocol.md). An append names the
 * version it extends by its hash and gives the new version's mtime as a
 * difference from it, so it is read against what the page holds: when the
 * hash is not the held version's, the append comes out with a `prev` that is
 * not the held token, and the page starts over as for any append that is not
 * for what it holds. Bytes flagged as not UTF-8 are decoded lossily (`lossy`).
 * Returns null for a frame that is not a well-formed message.
 */
export function parseBinary(b: Uint8Array, held: Holding): ServerMessage | null {
  if (b.length === 0) return null;
  const type = b[0]! & 0x7f;
  const lossy = (b[0]! & 0x80) !== 0;
  if (type === 3) return { type: "error", message: lossyUtf8.decode(b.subarray(1)) || "unknown error" };
  if ((type !== 1 && type !== 2) || b.length < 18) return null;
  let at = 17;
  let delta = 0n;
  if (type === 2) {
    const d = varint(b, at, 10);
    if (!d) return null;
    delta = (d.v & 1n) === 0n ? d.v >> 1n : -((d.v + 1n) >> 1n);
    at = d.end;
  }
  const o = varint(b, at, 8);
  if (!o || o.v > BigInt(Number.MAX_SAFE_INTEGER)) return null;
  const data = b.subarray(o.end);
  const offset = Number(o.v);
  const size = offset + data.length;
  const text = lossyUtf8.decode(data);
  if (type === 1) {
    const lastMod = ((hi(b, 1) << 64n) | hi(b, 9)).toString(16);
    return { type: "content", lastMod, offset, size, text, lossy };
  }
  const token = /^[0-9a-f]{1,32}$/.test(held.lastMod) ? BigInt("0x" + held.lastMod) : null;
  const upper = token === null ? -1n : (token >> 64n) + delta;
  // For what the page holds only when the hashes agree (and the mtime stays in range); otherwise
  // `prev` is no token, so the page treats it as any append that is not for what it holds.
  const fits = token !== null && (token & U64) === hi(b, 9) && upper >= 0n && upper <= U64;
  return {
    type: "append",
    lastMod: fits ? ((upper << 64n) | hi(b, 1)).toString(16) : "",
    prev: fits ? held.lastMod : `~${hi(b, 9).toString(16)}`,
    offset,
    size,
    text,
    lossy,
  };
}

/**
 * How many bytes `text` takes as UTF-8, without encoding it. (For text
 * decoded lossily this counts each U+FFFD as the 3 bytes it encodes to, not
 * the one bad byte it stands for: close enough for "showing the last X".)
 */
export function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) {
        n += 4;
        i++;
      } else n += 3; // a lone surrogate encodes as U+FFFD
    } else n += 3;
  }
  return n;
}

/** The version a page holds, for resuming: its `lastMod` and the byte where its text ends. */
export interface Resume {
  lastMod: string;
  size: number;
}

/**
 * The WebSocket URL for a page at `location`: same host, `wss:` when the page
 * is `https:`, at `path` (the server gives it, under its --base-path),
 * resuming from what it holds when it holds something: with the
 * size too, the server can send just the bytes after it (one `append`).
 * @example
 * ```ts
 * socketUrl({ protocol: "https:", host: "example.com" }, { lastMod: "17f0", size: 42 }, "/logs/ws");
 * // "wss://example.com/logs/ws?lastMod=17f0&size=42"
 * ```
 */
export function socketUrl(
  location: { protocol: string; host: string },
  resume: Resume | null,
  path = "/ws",
): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = resume && resume.lastMod
    ? `?lastMod=${encodeURIComponent(resume.lastMod)}&size=${Math.max(0, Math.floor(resume.size))}`
    : "";
  return `${scheme}//${location.host}${path}${query}`;
}
