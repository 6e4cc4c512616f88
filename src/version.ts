/**
 * One version of the watched file as the server holds it: the bytes it keeps
 * (the whole file, or in tail mode its last part), where a client's content
 * starts, and whether it is the previous version plus appended bytes.
 * @module
 */

import { Fnv64 } from "./fnv.ts";

/**
 * In tail mode a token's hash covers at most this many bytes before the
 * version's end (the whole window when it is smaller): hashing a 16 MiB
 * window again for every append of a busy log would cost more than the
 * append. What lies before that is not in the token (docs/protocol.md).
 */
export const TOKEN_TAIL_BYTES = 65_536;

const HASH_BITS = 64n;
const HASH_MASK = (1n << HASH_BITS) - 1n;

/**
 * The hash a token carries for a file of `size` bytes whose hashed bytes
 * went into `state`: the size is folded in last, so the state itself stays
 * extendable by appended bytes.
 */
export function contentHash(state: Fnv64, size: number): string {
  const le = new Uint8Array(8);
  new DataView(le.buffer).setBigUint64(0, BigInt(size), true);
  return state.clone().update(le).hex();
}

/**
 * A version's token (`lastMod` on the wire): the mtime in ns, truncated to whole
 * milliseconds (what Deno reads; Bun reads ns, and both must name one state
 * alike), in the high bits, and the 64-bit content hash in the low 64 bits,
 * as lowercase hex without leading zeros. Every process that reads the file
 * in one state computes the same token; two contents under one mtime differ
 * in the hash.
 * @example
 * ```ts
 * versionToken(1_700_000_000_123_456_789n, "00000000000000ff"); // "17979cfe3d7ed4c000000000000000ff"
 * ```
 */
export function versionToken(mtimeNs: bigint, hash: string): string {
  const ms = mtimeNs > 0n ? mtimeNs / 1_000_000n : 0n;
  return (((ms * 1_000_000n) << HASH_BITS) | BigInt("0x" + hash)).toString(16);
}

/** The content hash a token carries (16 hex digits), or null for a token that is not one. */
export function tokenHash(token: string): string | null {
  if (!/^[0-9a-f]{1,32}$/.test(token)) return null;
  return (BigInt("0x" + token) & HASH_MASK).toString(16).padStart(16, "0");
}

/** The mtime (ns, whole ms) a token carries. */
export function tokenMtimeNs(token: string): bigint {
  return BigInt("0x" + token) >> HASH_BITS;
}

const fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The bytes as text, or null when they are not valid UTF-8 (never a lossy guess). */
export function utf8OrNull(bytes: Uint8Array): string | null {
  try {
    return fatal.decode(bytes);
  } catch {
    return null;
  }
}

/**
 * The most bytes {@link incompleteUtf8Tail} can hold back: the first three of
 * a four-byte character.
 */
export const MAX_HELD_BYTES = 3;

/**
 * The bytes a UTF-8 lead byte allows in the second place of its character
 * (Unicode's table of well-formed sequences): the ranges that keep out
 * overlong forms (E0, F0), surrogates (ED) and code points past U+10FFFF
 * (F4). Undefined: not a lead byte of a multi-byte character (ASCII, a
 * continuation byte, C0, C1, F5–FF).
 */
function leadOf(b: number): { need: number; lo: number; hi: number } | undefined {
  if (b >= 0xc2 && b <= 0xdf) return { need: 2, lo: 0x80, hi: 0xbf };
  if (b === 0xe0) return { need: 3, lo: 0xa0, hi: 0xbf };
  if (b === 0xed) return { need: 3, lo: 0x80, hi: 0x9f };
  if (b >= 0xe1 && b <= 0xef) return { need: 3, lo: 0x80, hi: 0xbf };
  if (b === 0xf0) return { need: 4, lo: 0x90, hi: 0xbf };
  if (b >= 0xf1 && b <= 0xf3) return { need: 4, lo: 0x80, hi: 0xbf };
  if (b === 0xf4) return { need: 4, lo: 0x80, hi: 0x8f };
  return undefined;
}

/**
 * How many bytes at the end of `bytes` are the start of a UTF-8 character
 * whose other bytes have not arrived yet (0 to {@link MAX_HELD_BYTES}): a
 * lead byte, and the continuation bytes after it, that some bytes still to
 * come can complete. A writer that flushes in blocks stops between the bytes
 * of one character, and the rest may come minutes later: the watcher holds
 * those bytes back, however long, so a character is never split across two
 * messages. Bytes that no later bytes can make a character (0xFF, a stray
 * continuation byte, an overlong or surrogate start) are not counted: they
 * are sent (as base64) like any other invalid bytes.
 * @example
 * ```ts
 * incompleteUtf8Tail(new Uint8Array([0x61, 0xe2])); // 1 (0xe2 starts a 3-byte character)
 * incompleteUtf8Tail(new Uint8Array([0x61, 0xe2, 0x82, 0xac])); // 0 (€ is complete)
 * incompleteUtf8Tail(new Uint8Array([0x61, 0xe0, 0x80])); // 0 (an overlong form: never a character)
 * ```
 */
export function incompleteUtf8Tail(bytes: Uint8Array): number {
  const n = bytes.length;
  for (let back = 1; back <= Math.min(MAX_HELD_BYTES, n); back++) {
    const b = bytes[n - back]!;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: its lead is further back
    const lead = leadOf(b);
    // Not a lead, or a character already complete (any byte after it is a stray one): nothing to wait for.
    if (!lead || lead.need <= back) return 0;
    if (back === 1) return 1;
    const second = bytes[n - back + 1]!;
    return second >= lead.lo && second <= lead.hi ? back : 0;
  }
  // Three continuation bytes in a row: no character starts in them.
  return 0;
}

/** Where a version came from when it is the one before it plus appended bytes. */
export interface AppendOf {
  /** The previous version's token (what an append names as `prev`). */
  token: string;
  /** The previous version's size: where the appended bytes start. */
  size: number;
}

/** What {@link Version}'s constructor takes. */
export interface VersionInit {
  seq: number;
  lastMod: string;
  /** Bytes of the file kept in memory: the file's bytes from `base` to its size. */
  kept: Uint8Array;
  /** File offset of `kept[0]` (0 unless tail mode dropped the start). */
  base?: number;
  /** File offset where a client's content starts (≥ base; the tail window's start). */
  offset?: number;
  /** The lineage's tail window, bytes (0: the whole file; see {@link Version.tail}). */
  tail?: number;
  /**
   * Versions of one lineage are each a prefix of the next (appends only):
   * bytes a client holds of one are bytes of all later ones.
   */
  lineage?: number;
  appendOf?: AppendOf | null;
}

/** A readable version of the file. Immutable; text is decoded on first use. */
export class Version {
  readonly ok = true as const;
  readonly seq: number;
  /**
   * Its token ({@link versionToken}), under the name clients know it by: a
   * snapshot is what they are told.
   */
  readonly lastMod: string;
  readonly lineage: number;
  readonly base: number;
  /** File offset where a client's content starts. */
  readonly offset: number;
  /**
   * The tail window its lineage serves, bytes, or 0 when clients get the
   * whole file: `--tail`, or a file larger than `--max-file-size` at the
   * lineage's start (docs/detection.md#tail-mode). Plain clients get appends
   * only of a windowed version (docs/protocol.md).
   */
  readonly tail: number;
  readonly appendOf: AppendOf | null;
  readonly #kept: Uint8Array;
  #text: string | null | undefined;

  constructor(init: VersionInit) {
    this.seq = init.seq;
    this.lastMod = init.lastMod;
    this.#kept = init.kept;
    this.base = init.base ?? 0;
    this.offset = Math.max(this.base, init.offset ?? this.base);
    this.tail = init.tail ?? 0;
    this.lineage = init.lineage ?? 0;
    this.appendOf = init.appendOf ?? null;
  }

  /** The file's size in this version. */
  get size(): number {
    return this.base + this.#kept.length;
  }

  /** A client's content: the file's bytes from {@link offset} to {@link size}. */
  get bytes(): Uint8Array {
    return this.#kept.subarray(this.offset - this.base);
  }

  /** {@link bytes} as text, or null when they are not valid UTF-8. */
  get text(): string | null {
    if (this.#text === undefined) this.#text = utf8OrNull(this.bytes);
    return this.#text;
  }

  /** The bytes from file offset `from` to the end, or null when they are not kept. */
  since(from: number): Uint8Array | null {
    if (from < this.base || from > this.size) return null;
    return this.#kept.subarray(from - this.base);
  }
}

/** The file could not be read: what a client is told instead of content. */
export interface ReadFailure {
  readonly ok: false;
  readonly seq: number;
  readonly lastMod: "";
  readonly error: string;
}

/** The file's current state as clients see it. `seq` grows with every change worth sending. */
export type Snapshot = Version | ReadFailure;
