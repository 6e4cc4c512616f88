/**
 * A substring finder over raw bytes, with ASCII case folding: the byte
 * scanner under `search.ts`. Its kernel is the `find` function of the scan
 * modules' one WebAssembly module (src/scan/_wasm.ts); the haystack is a
 * {@link NewlineScanner}'s buffer in that module's memory, so the lines of a
 * window are counted by the same counter as the line index's, in place.
 *
 * Why not `Buffer.indexOf`: on Bun it runs at memory speed, but Deno's
 * `node:buffer` implements it in JavaScript (measured 67–91 MiB/s on a log,
 * against GNU grep's ~1.2 GiB/s), and neither runtime folds case. WebAssembly
 * SIMD runs on both and gives one speed on both.
 *
 * The algorithm is the generic SIMD substring search: compare two chosen bytes
 * of the needle (the rarest ones) against 16 haystack positions at once, and
 * check the whole needle only where both agree. Letters compare with bit 0x20
 * set on both sides, which is exactly ASCII case-insensitive for letters.
 * @module
 */
import { HAY_AT, MASK_OFF, MAX_NEEDLES, type ScanKernel, SLOT } from "./_wasm.ts";
import { NewlineScanner } from "./newlines.ts";

export { MAX_NEEDLES };
/** The longest needle the kernel takes; longer literals search their rarest 255-byte window. */
export const MAX_NEEDLE = 255;

/**
 * A rough frequency of each byte in log text, to pick the two needle bytes the
 * kernel compares first: the rarer they are, the fewer places need a full check.
 */
function byteWeight(b: number): number {
  if (b === 0x20) return 100;
  if (b >= 0x61 && b <= 0x7a) return "etaoinsrlhcdu".includes(String.fromCharCode(b)) ? 60 : 30;
  if (b >= 0x30 && b <= 0x39) return 45;
  if (b >= 0x41 && b <= 0x5a) return 12;
  if (":/.-_=,[]\"'()".includes(String.fromCharCode(b))) return 25;
  return b >= 0x80 ? 8 : 5;
}
const isAsciiLetter = (b: number) => (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);

interface Needle {
  len: number;
  i1: number;
  i2: number;
  at: number;
}

/**
 * Finds any of up to {@link MAX_NEEDLES} byte strings in a haystack that the
 * caller reads straight into {@link ByteFinder.hay} (no copy).
 *
 * ```ts
 * const f = new ByteFinder([new TextEncoder().encode("error")], true, 1 << 20);
 * const n = await fh.read(f.hay, 0, f.hay.length, 0);
 * f.reset();
 * f.find(0, n.bytesRead); // first "error", "ERROR", "Error", … or -1
 * ```
 */
export class ByteFinder {
  /** The haystack: read bytes here, then call {@link reset}. */
  readonly hay: Uint8Array;
  /** The haystack's newline counter (the line index's, over the same bytes). */
  readonly newlines: NewlineScanner;
  readonly #k: ScanKernel;
  readonly #needles: Needle[];
  /** Per needle: its next match at or after #from[i], as found last (-2 = not searched). */
  readonly #next: Int32Array;
  readonly #from: Int32Array;
  readonly #end: Int32Array;

  /**
   * @param needles 1..8 byte strings of 1..255 bytes; a line is a hit when it holds any of them
   * @param fold ASCII letters match either case
   * @param capacity the largest haystack, in bytes
   */
  constructor(needles: Uint8Array[], fold: boolean, capacity: number) {
    if (needles.length < 1 || needles.length > MAX_NEEDLES) {
      throw new RangeError(`Cannot search ${needles.length} needles`);
    }
    this.newlines = new NewlineScanner(capacity, false, HAY_AT);
    const k = this.newlines.kernel;
    if (!k) throw new Error("Cannot search: this runtime has no WebAssembly SIMD");
    this.#k = k;
    const mem = new Uint8Array(k.mem.buffer, 0, HAY_AT);
    this.#needles = needles.map((n, slot) => {
      if (n.length < 1 || n.length > MAX_NEEDLE) throw new RangeError(`Cannot search a needle of ${n.length} bytes`);
      const at = slot * SLOT;
      const weights: number[] = [];
      for (let i = 0; i < n.length; i++) {
        const b = n[i]!;
        const folds = fold && isAsciiLetter(b);
        mem[at + i] = folds ? b | 0x20 : b;
        mem[at + MASK_OFF + i] = folds ? 0x20 : 0;
        weights.push(folds ? byteWeight(b | 0x20) + byteWeight(b & ~0x20) : byteWeight(b));
      }
      // The two rarest positions (distinct when the needle has two bytes).
      const order = weights.map((w, i) => [w, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      const a = order[0]![1], b = (order[1] ?? order[0]!)[1];
      return { len: n.length, i1: Math.min(a, b), i2: Math.max(a, b), at };
    });
    this.hay = this.newlines.buffer;
    this.#next = new Int32Array(needles.length);
    this.#from = new Int32Array(needles.length);
    this.#end = new Int32Array(needles.length);
    this.reset();
  }

  /** Forgets earlier answers: call it whenever the haystack's bytes change. */
  reset(): void {
    this.#next.fill(-2);
  }

  /**
   * The first position in [from, end) where a needle starts and fits before
   * `end`, or -1. Successive calls with growing `from` and the same `end`
   * reuse what they found (each needle's scan moves forward only).
   */
  find(from: number, end: number): number {
    let best = -1;
    for (let i = 0; i < this.#needles.length; i++) {
      let at = this.#next[i]!;
      if (at === -2 || this.#end[i] !== end || from < this.#from[i]! || (at !== -1 && at < from)) {
        const n = this.#needles[i]!;
        at = this.#k.find(from, end, n.len, n.i1, n.i2, n.at);
        this.#next[i] = at;
        this.#from[i] = from;
        this.#end[i] = end;
      }
      if (at !== -1 && (best === -1 || at < best)) best = at;
    }
    return best;
  }

  /** The number of newline bytes in [from, end) of the haystack (src/scan/newlines.ts counts them). */
  count(from: number, end: number): number {
    return from >= end ? 0 : this.newlines.count(from, end - from);
  }
}
