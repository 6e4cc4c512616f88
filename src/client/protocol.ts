/**
 * The `filewatch.v1` messages as the page reads them (docs/protocol.md), and
 * the URL it connects to (docs/page.md#connection).
 * @module
 */

/** The WebSocket subprotocol the page speaks (docs/protocol.md#handshake). */
export const SUBPROTOCOL = "filewatch.v1";

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

/** A `filewatch.v1` message, checked and decoded. */
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
