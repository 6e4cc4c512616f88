/**
 * The lineage of a file's versions: each version is a prefix of the next
 * (the file only grew) until a replacement or a read error starts over.
 * Holds the newest snapshot and what the server keeps to extend it and to
 * place a resuming client: the bytes (the whole file, or in tail mode its
 * last part), the tokens it handed out, and hash states to check other
 * processes' tokens by (docs/protocol.md#resume). Whether a lineage is in
 * tail mode, and with which window, is fixed when it starts
 * ({@link Lineage.replace}): a read with another window starts a new one.
 *
 * It reads nothing: the watcher (src/watcher.ts) tells it what a read found.
 * @module
 */
import { Fnv64 } from "./fnv.ts";
import { APPEND_CHECK_BYTES, type AppendBase, bytesEqual, type Stamp } from "./read.ts";
import {
  contentHash,
  type ReadFailure,
  type Snapshot,
  TOKEN_TAIL_BYTES,
  tokenHash,
  Version,
  versionToken,
} from "./version.ts";

/**
 * How many versions of the current lineage this process remembers the tokens
 * and hash states of: resuming from one of them costs a map look-up; from
 * any other version (one another process published) it costs hashing the
 * bytes from the nearest remembered one.
 */
export const RESUMABLE_KEPT = 4096;

/**
 * The file's bytes kept for the current lineage: the whole file, or in tail
 * mode its last part. Grows in place with spare room, so an append costs a
 * copy of the new bytes only; views handed out earlier stay valid (new bytes
 * go past their end, and trimming copies into a new buffer).
 */
class KeptBytes {
  #buf: Uint8Array;
  #len: number;
  constructor(bytes: Uint8Array, public base: number) {
    this.#buf = bytes;
    this.#len = bytes.length;
  }
  get end(): number {
    return this.base + this.#len;
  }
  view(): Uint8Array {
    return this.#buf.subarray(0, this.#len);
  }
  /** Adds bytes; with `keepBytes` > 0, drops the front once more than twice `keepBytes` is held. */
  append(chunk: Uint8Array, keepBytes: number): void {
    const need = this.#len + chunk.length;
    if (keepBytes > 0 && need > 2 * keepBytes) {
      const next = new Uint8Array(2 * keepBytes);
      const fromOld = Math.max(0, keepBytes - chunk.length);
      next.set(this.#buf.subarray(this.#len - fromOld, this.#len), 0);
      next.set(chunk.subarray(Math.max(0, chunk.length - keepBytes)), fromOld);
      this.base += need - (fromOld + Math.min(chunk.length, keepBytes));
      this.#buf = next;
      this.#len = fromOld + Math.min(chunk.length, keepBytes);
      return;
    }
    if (need > this.#buf.length) {
      const next = new Uint8Array(Math.max(need, 2 * this.#buf.length, 4096));
      next.set(this.#buf.subarray(0, this.#len));
      this.#buf = next;
    }
    this.#buf.set(chunk, this.#len);
    this.#len = need;
  }
}

/**
 * Where a client's content starts in tail mode: after the first newline of
 * the file's last `tail` bytes (so its first line is whole), or at the first
 * character boundary when that window has no newline. The whole file when it
 * is no larger than `tail`.
 */
export function windowStart(kept: Uint8Array, base: number, tail: number): number {
  const size = base + kept.length;
  const from = Math.max(base, size - tail);
  if (from === 0) return 0;
  const rel = from - base;
  const nl = kept.indexOf(0x0a, rel);
  if (nl !== -1 && nl + 1 < kept.length) return base + nl + 1;
  let i = rel;
  while (i < kept.length && i < rel + 3 && (kept[i]! & 0xc0) === 0x80) i++;
  return base + i;
}

/** Where a client stands: the lineage of the version it holds (-1: none, or an error) and that version's size. */
export interface Position {
  lineage: number;
  size: number;
}

/** What a client needs to reach a snapshot: the whole content, the bytes after an offset, or nothing. */
export type Need = "content" | number | null;

/**
 * What a client at `at` needs to hold `snap`: nothing when it holds it, the
 * bytes after its size when it holds an earlier version of the same lineage
 * whose bytes `snap` still keeps (a prefix of it), else the whole content.
 */
export function needOf(at: Position, snap: Snapshot): Need {
  if (!snap.ok) return "content";
  if (at.lineage !== snap.lineage) return "content";
  if (at.size === snap.size) return null;
  return at.size < snap.size && snap.since(at.size) ? at.size : "content";
}

/**
 * The versions of one watched file as the server holds them. The watcher
 * feeds it what each read found ({@link Lineage.replace},
 * {@link Lineage.extend}, {@link Lineage.alias}, {@link Lineage.fail});
 * everyone else only asks: the newest {@link Lineage.snapshot}, and where a
 * resuming client stands ({@link Lineage.sizeOf}).
 *
 * @example
 * ```ts
 * const lineage = new Lineage();
 * const v1 = lineage.replace(new TextEncoder().encode("a\n"), 0, 1_700_000_000_000_000_000n, false)!;
 * const v2 = lineage.extend(new TextEncoder().encode("b\n"), 1_700_000_000_001_000_000n);
 * lineage.sizeOf(v1.lastMod, v1.size); // 2: a client holding v1 needs v2's bytes from 2 on
 * needOf({ lineage: v1.lineage, size: v1.size }, v2); // 2
 * ```
 */
export class Lineage {
  #snap: Snapshot | null = null;
  /** The current lineage's bytes (null after an error). */
  #kept: KeptBytes | null = null;
  /** The first bytes of the current lineage's file, for the append check. */
  #head = new Uint8Array(0);
  /** Numbers the lineages, one more with every replacement: each version carries it as `lineage`. */
  #number = 0;
  /** The current lineage has had appends. */
  #grew = false;
  /** Tokens of the current lineage's versions → their sizes (resume, and `touch` aliases). */
  #resumable = new Map<string, number>();
  /** Whole mode: FNV-1a state over the current lineage's kept bytes (null in tail mode). */
  #fnv: Fnv64 | null = null;
  /** Whole mode: the hash state at each published version's size, ascending (see {@link RESUMABLE_KEPT}). */
  #marks: { size: number; state: Fnv64 }[] = [];
  /**
   * The last hash {@link sizeOf} computed for a token it did not know: a
   * resume asks twice, and a client that keeps retrying asks again; the
   * bytes before a size never change within a lineage.
   */
  #memo: { size: number; hash: string } | null = null;
  /** The code of the published read error ("" while the file reads). */
  #errorCode = "";
  /** The current lineage's tail window (0: the whole file). */
  #tail = 0;

  /** The newest snapshot, if the file has been read. */
  get snapshot(): Snapshot | null {
    return this.#snap;
  }

  /**
   * Tail mode: the current lineage keeps and serves only the file's last
   * this many bytes (0 = the whole file). Set by {@link replace}.
   */
  get tail(): number {
    return this.#tail;
  }

  /** The current lineage has had appends (a file being written to as a log). */
  get grew(): boolean {
    return this.#grew;
  }

  /** Bytes kept in tail mode after trimming: the window, and never less than the append check needs. */
  get keepBytes(): number {
    return Math.max(this.tail, APPEND_CHECK_BYTES);
  }

  /** True when a client that saw `token` already has the current content. */
  isCurrent(token: string | null): boolean {
    const snap = this.#snap;
    if (token === null || !snap?.ok) return false;
    return this.sizeOf(token) === snap.size;
  }

  /**
   * The size of the version `token` names when it is in the current
   * lineage (a prefix of the current file), else undefined. A token this
   * process did not hand out (another worker or replica did) is checked by
   * its content hash: at `size` when given, else at the current size.
   */
  sizeOf(token: string | null, size: number | null = null): number | undefined {
    if (token === null) return undefined;
    const known = this.#resumable.get(token);
    if (known !== undefined) return known;
    const snap = this.#snap;
    const hash = tokenHash(token);
    if (!snap?.ok || hash === null) return undefined;
    const at = size ?? snap.size;
    if (at > snap.size) return undefined;
    if (this.#memo?.size !== at) {
      const h = this.#hashAt(at);
      if (h === null) return undefined;
      this.#memo = { size: at, hash: h };
    }
    return this.#memo.hash === hash ? at : undefined;
  }

  /** What an append of the file as last read (`stamp`) is checked against; null when nothing is held. */
  appendBase(stamp: Stamp | null): AppendBase | null {
    const snap = this.#snap;
    if (!snap?.ok || !stamp || !this.#kept) return null;
    const kept = this.#kept.view();
    const before = kept.subarray(Math.max(0, kept.length - APPEND_CHECK_BYTES));
    return { stamp, size: snap.size, before, head: this.#head };
  }

  /**
   * A version read whole (or its tail window), the file's bytes from
   * `start`: nothing new (null) when it is the bytes clients hold under a new
   * mtime, an append when it extends them and `sameFile` says the file is
   * the one they came from, else the first version of a new lineage. `tail`
   * is the window it is served with (0: the whole file): a version with
   * another window than the current lineage's starts a new lineage, so a
   * file that grows past `--max-file-size` reaches clients as `content` of
   * its window, never as an append (docs/detection.md#tail-mode).
   */
  replace(bytes: Uint8Array, start: number, mtimeNs: bigint, sameFile: boolean, tail = 0): Version | null {
    const prev = this.#snap;
    const size = start + bytes.length;
    if (prev?.ok && this.#kept && tail === this.#tail && size >= prev.size && start <= prev.size) {
      // Does this read start with what clients hold? In tail mode only the
      // part both hold can be compared.
      const from = Math.max(start, prev.base);
      const extends_ = from < prev.size
        ? bytesEqual(bytes.subarray(from - start, prev.size - start), prev.since(from)!)
        : prev.size === 0;
      if (extends_ && size === prev.size) {
        // Same bytes under a new stamp (a touch, or a copy put in place): nothing to send.
        this.alias(mtimeNs, size);
        return null;
      }
      // Read whole, but the file only grew (a check that saw the mtime of a
      // write before its size): an append, as readAppended would have found.
      if (extends_ && sameFile) return this.extend(bytes.subarray(prev.size - start), mtimeNs);
    }
    this.#number++;
    this.#tail = tail;
    this.#grew = false;
    this.#resumable.clear();
    this.#kept = new KeptBytes(bytes, start);
    this.#fnv = tail > 0 ? null : new Fnv64().update(bytes);
    this.#marks = [];
    this.#memo = null;
    this.#head = start === 0 ? bytes.slice(0, APPEND_CHECK_BYTES) : new Uint8Array(0);
    this.#errorCode = "";
    return this.#next(mtimeNs, null);
  }

  /** The version clients hold plus `bytes` appended, with the file's mtime `mtimeNs`. */
  extend(bytes: Uint8Array, mtimeNs: bigint): Version {
    const prev = this.#snap as Version;
    const kept = this.#kept!;
    kept.append(bytes, this.tail > 0 ? this.keepBytes : 0);
    this.#fnv?.update(bytes);
    if (kept.base === 0 && this.#head.length < APPEND_CHECK_BYTES) {
      this.#head = kept.view().slice(0, APPEND_CHECK_BYTES);
    }
    this.#grew = true;
    this.#errorCode = "";
    return this.#next(mtimeNs, { token: prev.lastMod, size: prev.size });
  }

  /**
   * Remembers the token of the bytes up to `size` under a new mtime (a
   * touch), so a client holding it (from a process that saw only the touched
   * file) is current. The published version keeps its token: clients hold it.
   */
  alias(mtimeNs: bigint, size: number): void {
    const hash = this.#hashAt(size);
    if (hash !== null) this.#remember(versionToken(mtimeNs, hash), size);
  }

  /**
   * The file could not be read: the lineage ends, and the error is the new
   * snapshot unless it is the one already published (null).
   */
  fail(code: string, message: string): ReadFailure | null {
    const snap = this.#snap;
    if (snap && !snap.ok && this.#errorCode === code && snap.error === message) return null;
    this.#errorCode = code;
    this.#kept = null;
    this.#fnv = null;
    this.#marks = [];
    this.#memo = null;
    this.#resumable.clear();
    const failure: ReadFailure = { ok: false, seq: this.#nextSeq(), lastMod: "", error: message };
    this.#snap = failure;
    return failure;
  }

  /**
   * The content hash of the current lineage's file at `size` bytes: FNV-1a
   * of its bytes (whole mode), or of its last {@link TOKEN_TAIL_BYTES} at
   * most (tail mode), with the size; null when those bytes are not held.
   */
  #hashAt(size: number): string | null {
    const kept = this.#kept;
    if (!kept || size > kept.end || size < kept.base) return null;
    const view = kept.view();
    if (this.tail > 0) {
      const from = Math.max(0, size - Math.min(this.tail, TOKEN_TAIL_BYTES));
      if (from < kept.base) return null;
      return contentHash(new Fnv64().update(view.subarray(from - kept.base, size - kept.base)), size);
    }
    if (size === kept.end && this.#fnv) return contentHash(this.#fnv, size);
    // The nearest remembered state at or before `size`, then the bytes after it.
    const marks = this.#marks;
    let lo = 0, hi = marks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (marks[mid]!.size <= size) lo = mid + 1;
      else hi = mid;
    }
    const mark = marks[lo - 1];
    const state = mark ? mark.state.clone() : new Fnv64();
    return contentHash(state.update(view.subarray(mark?.size ?? 0, size)), size);
  }

  #remember(token: string, size: number): void {
    this.#resumable.delete(token);
    this.#resumable.set(token, size);
    if (this.#resumable.size > RESUMABLE_KEPT) this.#resumable.delete(this.#resumable.keys().next().value!);
  }

  #nextSeq(): number {
    return (this.#snap?.seq ?? 0) + 1;
  }

  /** The kept bytes as the newest version, its token made from mtime `mtimeNs` and the bytes. */
  #next(mtimeNs: bigint, appendOf: { token: string; size: number } | null): Version {
    // A token must name one content, or a client holding it would skip the
    // other, in this process and in every other one that watches the file:
    // so it is made from the file's state alone (mtime and a hash of the
    // bytes), never from what this process happened to see. Two writes in
    // one clock tick, or an mtime set back, differ in the hash.
    const kept = this.#kept!;
    const token = versionToken(mtimeNs, this.#hashAt(kept.end)!);
    if (this.#fnv) {
      this.#marks.push({ size: kept.end, state: this.#fnv.clone() });
      if (this.#marks.length > RESUMABLE_KEPT) this.#marks.shift();
    }
    const view = kept.view();
    const tail = this.tail;
    const version = new Version({
      seq: this.#nextSeq(),
      lastMod: token,
      kept: view,
      base: kept.base,
      offset: tail > 0 ? windowStart(view, kept.base, tail) : 0,
      tail,
      lineage: this.#number,
      appendOf,
    });
    this.#remember(token, version.size);
    this.#snap = version;
    return version;
  }
}
