/**
 * Newline primitives at `wc -l` speed, for the line index, `/lines` and
 * search: count the `\n` bytes of a buffer, find the N-th one, find the last
 * one before an offset.
 *
 * Counting with a loop of `indexOf(10)` costs a native call per line (1.9 to
 * 4.5 s per GiB of log here, against 0.2 to 0.3 s for `wc -l`). Both runtimes
 * run WebAssembly SIMD, so the counting is a small WebAssembly module that
 * compares 16 bytes at a time (`src/scan/_wasm.ts` writes its bytes; no build
 * step). It is the one newline counter of the scan modules: the line index,
 * `/lines` and search (whose finder scans the same memory, src/scan/_find.ts)
 * all count with it. When WebAssembly SIMD is missing, plain JavaScript does the same
 * work, 4 bytes at a time ({@link countNewlinesJs}). `bench/scan.ts` measures
 * both against `wc -l`.
 *
 * ```ts
 * import { countNewlines } from "./newlines.ts";
 * countNewlines(new TextEncoder().encode("a\nb\n")); // 2
 * ```
 * @module
 */
import { type ScanKernel, scanModule } from "./_wasm.ts";

const NL = 10;

/** How many bytes a {@link NewlineScanner} holds (its `buffer`), and the slice `countNewlines` copies at a time. */
export const SCAN_BUFFER = 1 << 20;

/** Whether the SIMD path is in use (false: the JavaScript fallback). */
export function simdAvailable(): boolean {
  return scanModule() !== null;
}

/**
 * A byte buffer with newline search over it. With WebAssembly the buffer is
 * the module's own memory, so a file can be read straight into it
 * (`fh.read(scanner.buffer, …)`) and counted without a copy; each scanner has
 * its own instance, so scanners used across `await`s do not share bytes.
 */
export class NewlineScanner {
  /** Where to put the bytes to scan: `SCAN_BUFFER` bytes (or the size asked for). */
  readonly buffer: Uint8Array<ArrayBuffer>;
  /** The module's instance (null on the JavaScript path): src/scan/_find.ts searches the same memory. */
  readonly kernel: ScanKernel | null;
  /** Where {@link buffer} starts in the module's memory. */
  readonly #at: number;

  /**
   * @param size the buffer's size in bytes; `js` forces the JavaScript path (tests, bench)
   * @param reserve bytes of the module's memory kept before the buffer (the finder's needle slots)
   */
  constructor(size = SCAN_BUFFER, js = false, reserve = 0) {
    const mod = js ? null : scanModule();
    this.#at = mod ? reserve : 0;
    if (mod) {
      const wasm = new WebAssembly.Instance(mod, {}).exports as unknown as ScanKernel;
      // Every load stays inside [ptr, ptr + len): no slack is needed past the buffer.
      const pages = Math.ceil((reserve + size) / 65536) || 1;
      if (pages > 1) wasm.mem.grow(pages - 1);
      this.kernel = wasm;
      this.buffer = new Uint8Array(wasm.mem.buffer as ArrayBuffer, reserve, size);
    } else {
      this.kernel = null;
      this.buffer = new Uint8Array(size);
    }
  }

  /** The number of `\n` bytes in `buffer[start, start + len)`. */
  count(start: number, len: number): number {
    if (this.kernel) return this.kernel.count(this.#at + start, len);
    return countNewlinesJs(this.buffer.subarray(start, start + len));
  }

  /**
   * The index (in `buffer`) of the `n`-th `\n` (1-based) in `buffer[start,
   * start + len)`, or `-1 - found` when there are only `found` < n of them.
   */
  nth(start: number, len: number, n: number): number {
    if (n < 1) throw new RangeError(`Cannot find newline ${n}: expected 1 or more`);
    if (this.kernel) {
      const r = this.kernel.nth(this.#at + start, len, n);
      return r >= 0 ? start + r : r;
    }
    return nthNewlineJs(this.buffer, start, start + len, n);
  }
}

let shared: NewlineScanner | undefined;

/**
 * The number of `\n` (0x0A) bytes in `bytes`, 16 at a time with WebAssembly
 * SIMD (a copy into the module's memory in 1 MiB slices costs a tenth of the
 * count), or {@link countNewlinesJs} without it.
 * @example
 * ```ts
 * countNewlines(new TextEncoder().encode("one\ntwo\nthree")); // 2
 * ```
 */
export function countNewlines(bytes: Uint8Array): number {
  if (bytes.length < 256 || !simdAvailable()) return countNewlinesJs(bytes);
  const s = shared ??= new NewlineScanner();
  let n = 0;
  for (let at = 0; at < bytes.length; at += SCAN_BUFFER) {
    const part = bytes.subarray(at, at + SCAN_BUFFER);
    s.buffer.set(part);
    n += s.count(0, part.length);
  }
  return n;
}

/**
 * The index of the `n`-th (1-based) `\n` in `bytes` at or after `from`, or
 * -1 when there are fewer.
 * @example
 * ```ts
 * nthNewline(new TextEncoder().encode("a\nb\nc\n"), 2); // 3
 * ```
 */
export function nthNewline(bytes: Uint8Array, n: number, from = 0): number {
  if (n < 1) throw new RangeError(`Cannot find newline ${n}: expected 1 or more`);
  if (bytes.length - from < 256 || !simdAvailable()) {
    const r = nthNewlineJs(bytes, from, bytes.length, n);
    return r < 0 ? -1 : r;
  }
  const s = shared ??= new NewlineScanner();
  for (let at = from; at < bytes.length; at += SCAN_BUFFER) {
    const part = bytes.subarray(at, at + SCAN_BUFFER);
    s.buffer.set(part);
    const r = s.nth(0, part.length, n);
    if (r >= 0) return at + r;
    n -= -1 - r;
  }
  return -1;
}

/**
 * The index of the last `\n` before `end` (that is, in `bytes[0, end)`), or
 * -1. A native `lastIndexOf` is a memrchr: one call, no per-line cost.
 */
export function lastNewlineBefore(bytes: Uint8Array, end: number): number {
  return end <= 0 ? -1 : bytes.lastIndexOf(NL, Math.min(end, bytes.length) - 1);
}

/**
 * {@link countNewlines} in plain JavaScript, 4 bytes at a time: a word's zero
 * bytes after XOR with 0x0A0A0A0A are found exactly (no carries between
 * bytes: the high bit is kept aside) and counted with a popcount.
 */
export function countNewlinesJs(bytes: Uint8Array): number {
  let n = 0;
  let i = 0;
  const len = bytes.length;
  // Bytes before the first 4-byte boundary, then whole words, then the rest.
  const head = Math.min(len, (4 - (bytes.byteOffset & 3)) & 3);
  for (; i < head; i++) if (bytes[i] === NL) n++;
  const words = (len - i) >>> 2;
  if (words > 0) {
    const w = new Uint32Array(bytes.buffer, bytes.byteOffset + i, words);
    for (let k = 0; k < words; k++) {
      const x = w[k]! ^ 0x0a0a0a0a;
      // A byte of x is zero exactly when its high bit ends up set here.
      let y = ((x & 0x7f7f7f7f) + 0x7f7f7f7f) | x | 0x7f7f7f7f;
      y = ~y & 0x80808080;
      if (y !== 0) {
        // popcount of at most 4 bits at 7, 15, 23, 31
        y = (y >>> 7) + (y >>> 15) + (y >>> 23) + (y >>> 31);
        n += y & 0xff;
      }
    }
    i += words << 2;
  }
  for (; i < len; i++) if (bytes[i] === NL) n++;
  return n;
}

/** The JavaScript path of {@link NewlineScanner.nth}: `-1 - found` when there are fewer than `n`. */
function nthNewlineJs(bytes: Uint8Array, start: number, end: number, n: number): number {
  let found = 0;
  let i = start;
  while (i < end) {
    const j = bytes.indexOf(NL, i);
    if (j < 0 || j >= end) break;
    if (++found === n) return j;
    i = j + 1;
  }
  return -1 - found;
}
