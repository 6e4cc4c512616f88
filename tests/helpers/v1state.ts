/**
 * A reconstructing filewatch.v1 client: applies `content` and `append`
 * messages the way the contract says a client must, keeps the exact bytes it
 * holds, and records every message that a correct client could not apply (a
 * "violation") instead of papering over it. The e2e tests compare what it
 * holds with the bytes on disk.
 *
 * Written here rather than taken from the page's script: the tests must not
 * trust the code they check, and the page keeps text in the DOM, not bytes.
 *
 * Every message is first checked against the protocol's JSON Schema
 * (docs/filewatch.v1.schema.json, through ./schema.ts): one the schema refuses
 * is a violation with ajv's reasons, so the document cannot drift from what
 * the server sends.
 * @module
 */
import { v1Violation } from "./schema.ts";

/** One filewatch.v1 message as received, with its receive time. */
export interface Recorded {
  msg: Record<string, unknown>;
  at: number;
}

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** Decodes standard base64 to bytes, or null when it is not valid base64. */
export function fromBase64(s: string): Uint8Array | null {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s)) return null;
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Whether two byte arrays hold the same bytes. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/**
 * What a reconstructing client holds, whatever the format it speaks, and the
 * rules for applying a `content` or an `append` to it: {@link V1State} and
 * the filewatch.bin.v1 client (./binstate.ts) decode their frames, then apply
 * them here.
 */
export abstract class HeldState {
  /** The bytes held: the file's bytes from {@link offset} to {@link size}. */
  bytes: Uint8Array = new Uint8Array(0);
  /** Where the held bytes start in the file (0 = the whole file). */
  offset = 0;
  /** The file's size as of the version held. */
  size = 0;
  /** The version held, or null before the first content. */
  lastMod: string | null = null;
  /** Every message, in order, applied or not (as the facts a filewatch.v1 message carries). */
  readonly messages: Recorded[] = [];
  /** Why a message could not be applied: index into {@link messages} and reason. */
  readonly violations: Array<{ index: number; reason: string }> = [];
  /** The `message` of every error received. */
  readonly errors: string[] = [];

  /** True when the client holds a version and it is the whole file. */
  get whole(): boolean {
    return this.lastMod !== null && this.offset === 0;
  }

  /** The held bytes as text (lossy; for messages in assertions). */
  get text(): string {
    return new TextDecoder().decode(this.bytes);
  }

  /**
   * Starts from a version the client already holds (a client that resumes
   * with `?lastMod=&size=` held it from an earlier connection).
   */
  hold(lastMod: string, bytes: Uint8Array, offset = 0): this {
    this.lastMod = lastMod;
    this.bytes = bytes.slice();
    this.offset = offset;
    this.size = offset + bytes.length;
    return this;
  }

  /** Applies one frame; returns the message type, or "violation". */
  abstract apply(frame: string | Uint8Array, at?: number): string;

  /**
   * Applies a decoded `content` (`prev` unused) or `append` recorded at
   * `index`: an append must extend the version held, at its size. `data` is
   * the client's to keep.
   */
  protected take(
    index: number,
    m: { type: "content" | "append"; lastMod: string; prev?: unknown; offset: number; size: number; data: Uint8Array },
  ): string {
    if (m.type === "append") {
      if (this.lastMod === null) return this.violation(index, "append before any content");
      if (m.prev !== this.lastMod) {
        return this.violation(index, `append for prev ${String(m.prev)}, held ${this.lastMod}`);
      }
      if (m.offset !== this.size) return this.violation(index, `append at offset ${m.offset}, held size ${this.size}`);
    }
    this.bytes = m.type === "content" ? m.data : concat(this.bytes, m.data);
    if (m.type === "content") this.offset = m.offset;
    this.size = m.size;
    this.lastMod = m.lastMod;
    return m.type;
  }

  protected violation(index: number, reason: string): "violation" {
    this.violations.push({ index, reason });
    return "violation";
  }

  /** A one-line-per-message summary (type, prev→lastMod, offset..size, data length) for failure output. */
  describe(from = 0): string {
    return this.messages.slice(from).map(({ msg }, i) => {
      const d = typeof msg.data === "string" ? ` data(${msg.data.length}${msg.encoding ? ",b64" : ""})` : "";
      const v = msg.type === "error"
        ? ` ${JSON.stringify(msg.message)}`
        : ` ${msg.prev ? `${msg.prev}→` : ""}${msg.lastMod} ${msg.offset}..${msg.size}${d}`;
      return `#${from + i} ${String(msg.type)}${v}`;
    }).join("\n");
  }
}

/** The state of one filewatch.v1 client. */
export class V1State extends HeldState {
  /**
   * Applies one frame: a text frame's string, or its raw bytes (then checked
   * to be valid UTF-8, as a browser would), or an already parsed message.
   * Returns the message type, or "violation".
   */
  apply(frame: string | Uint8Array | Record<string, unknown>, at = Date.now()): string {
    let msg: Record<string, unknown>;
    const index = this.messages.length;
    if (typeof frame === "string" || frame instanceof Uint8Array) {
      let text: string;
      if (frame instanceof Uint8Array) {
        try {
          text = fatalUtf8.decode(frame);
        } catch {
          this.messages.push({ msg: { type: "<invalid UTF-8 text frame>" }, at });
          return this.violation(index, "a text frame that is not valid UTF-8");
        }
      } else text = frame;
      try {
        msg = JSON.parse(text);
      } catch {
        this.messages.push({ msg: { type: "<not JSON>", text: text.slice(0, 200) }, at });
        return this.violation(index, "a frame that is not JSON");
      }
    } else msg = frame;
    this.messages.push({ msg, at });
    const refused = v1Violation(msg);
    if (refused) return this.violation(index, refused);
    if (msg === null || typeof msg !== "object") return this.violation(index, "not a JSON object");
    switch (msg.type) {
      case "error":
        if (typeof msg.message !== "string") return this.violation(index, "error without a message");
        this.errors.push(msg.message);
        return "error";
      case "content":
      case "append":
        break;
      default:
        return this.violation(index, `unknown type ${JSON.stringify(msg.type)}`);
    }
    const { lastMod, offset, size } = msg;
    if (typeof lastMod !== "string" || !/^[0-9a-f]+$/.test(lastMod)) return this.violation(index, "bad lastMod");
    if (!isCount(offset) || !isCount(size) || offset > size) {
      return this.violation(index, `bad offset/size ${offset}/${size}`);
    }
    const data = this.#decode(msg);
    if (typeof data === "string") return this.violation(index, data);
    if (data.length !== size - offset) {
      return this.violation(index, `data is ${data.length} bytes, offset..size is ${size - offset}`);
    }
    return this.take(index, { type: msg.type as "content" | "append", lastMod, prev: msg.prev, offset, size, data });
  }

  /** The exact bytes a content/append message carries, or why there are none. */
  #decode(msg: Record<string, unknown>): Uint8Array | string {
    if (typeof msg.data !== "string") return "data is not a string";
    if (msg.encoding === "base64") return fromBase64(msg.data) ?? "data is not valid base64";
    if (msg.encoding !== undefined) return `unknown encoding ${JSON.stringify(msg.encoding)}`;
    // A lone surrogate (half a character as a JSON escape) has no exact bytes.
    if (!msg.data.isWellFormed()) return "text data with a lone surrogate";
    return encoder.encode(msg.data);
  }
}
