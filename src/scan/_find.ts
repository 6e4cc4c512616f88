/**
 * A substring finder over raw bytes, as a small WebAssembly SIMD kernel, with
 * ASCII case folding: the byte scanner under `search.ts`.
 *
 * Why not `Buffer.indexOf`: on Bun it runs at memory speed, but Deno's
 * `node:buffer` implements it in JavaScript (measured 67–91 MiB/s on a log,
 * against GNU grep's ~1.2 GiB/s), and neither runtime folds case. WebAssembly
 * SIMD runs on both and gives one speed on both. The module is a few hundred
 * bytes, assembled below (there is no assembler among the dependencies, and
 * the kernel is small enough to read as code).
 *
 * The algorithm is the generic SIMD substring search: compare two chosen bytes
 * of the needle (the rarest ones) against 16 haystack positions at once, and
 * check the whole needle only where both agree. Letters compare with bit 0x20
 * set on both sides, which is exactly ASCII case-insensitive for letters.
 * @module
 */

/** Needle slots at the start of memory: needle bytes, then its fold mask 256 bytes on. */
const SLOT = 512;
/** How many needles one finder holds (a regular expression's alternatives). */
export const MAX_NEEDLES = 8;
const MASK_OFF = 256;
/** Where the haystack starts (16-aligned, after the needle slots). */
export const HAY_AT = SLOT * MAX_NEEDLES;
/** The longest needle the kernel takes; longer literals search their rarest 255-byte window. */
export const MAX_NEEDLE = 255;

// --- a minimal WebAssembly encoder (only what the kernel uses) ---
const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
};
const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
};
const name = (s: string): number[] => [...uleb(s.length), ...[...s].map((ch) => ch.charCodeAt(0))];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];

const I32 = 0x7f, V128 = 0x7b, VOID = 0x40;
const op = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  ret: 0x0f,
  get: 0x20,
  set: 0x21,
  tee: 0x22,
  load8u: 0x2d,
  const: 0x41,
  eqz: 0x45,
  eq: 0x46,
  ne: 0x47,
  gtU: 0x4b,
  geU: 0x4f,
  ctz: 0x68,
  popcnt: 0x69,
  add: 0x6a,
  sub: 0x6b,
  and: 0x71,
  or: 0x72,
} as const;
const simd = (code: number, ...imm: number[]): number[] => [0xfd, ...uleb(code), ...imm];
const v128load = (offset = 0) => simd(0x00, 0, ...uleb(offset)); // align 2^0: the kernel loads unaligned
const splat = simd(0x0f), eq8 = simd(0x23), vand = simd(0x4e), vor = simd(0x50), bitmask = simd(0x64);
const get = (i: number) => [op.get, ...uleb(i)];
const set = (i: number) => [op.set, ...uleb(i)];
const tee = (i: number) => [op.tee, ...uleb(i)];
const c = (n: number) => [op.const, ...sleb(n)];
const load8 = (offset = 0) => [op.load8u, 0, ...uleb(offset)];

/**
 * `find(start, end, nlen, i1, i2, nd) -> i32`: the first position q in
 * [start, end - nlen] of the haystack where the needle in the slot at `nd`
 * matches, or -1. Params 0..5; locals: 6 p, 7 m, 8 q, 9 j, 10 F, 11 Fm,
 * 12 L, 13 Lm (v128).
 *
 * `count(start, end) -> i32`: the number of 0x0a bytes in [start, end).
 * Params 0..1; locals: 2 p, 3 n, 4 NL (v128).
 */
function kernel(): Uint8Array {
  const [start, end, nlen, i1, i2, nd, p, m, q, j, F, Fm, L, Lm] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
  // verify(q): j = 0; loop { if j == nlen: return q; if (mem[q+j] | mask[j]) != needle[j] break; j++ }
  const verify = [
    ...c(0),
    ...set(j),
    op.block,
    VOID,
    op.loop,
    VOID,
    ...get(j),
    ...get(nlen),
    op.eq,
    op.if,
    VOID,
    ...get(q),
    op.ret,
    op.end,
    ...get(q),
    ...get(j),
    op.add,
    ...load8(HAY_AT),
    ...get(nd),
    ...get(j),
    op.add,
    ...load8(MASK_OFF),
    op.or,
    ...get(nd),
    ...get(j),
    op.add,
    ...load8(0),
    op.ne,
    op.brIf,
    1,
    ...get(j),
    ...c(1),
    op.add,
    ...set(j),
    op.br,
    0,
    op.end,
    op.end,
  ];
  const splatFrom = (off: number, idx: number, into: number) => [
    ...get(nd),
    ...get(idx),
    op.add,
    ...load8(off),
    ...splat,
    ...set(into),
  ];
  const find = [
    ...splatFrom(0, i1, F),
    ...splatFrom(MASK_OFF, i1, Fm),
    ...splatFrom(0, i2, L),
    ...splatFrom(MASK_OFF, i2, Lm),
    ...get(start),
    ...set(p),
    // SIMD part: while p + i2 + 16 <= end
    op.block,
    VOID,
    op.loop,
    VOID,
    ...get(p),
    ...get(i2),
    op.add,
    ...c(16),
    op.add,
    ...get(end),
    op.gtU,
    op.brIf,
    1,
    ...get(p),
    ...get(i1),
    op.add,
    ...v128load(HAY_AT),
    ...get(Fm),
    ...vor,
    ...get(F),
    ...eq8,
    ...get(p),
    ...get(i2),
    op.add,
    ...v128load(HAY_AT),
    ...get(Lm),
    ...vor,
    ...get(L),
    ...eq8,
    ...vand,
    ...bitmask,
    ...set(m),
    // for each candidate bit
    op.block,
    VOID,
    op.loop,
    VOID,
    ...get(m),
    op.eqz,
    op.brIf,
    1,
    ...get(p),
    ...get(m),
    op.ctz,
    op.add,
    ...tee(q),
    ...get(nlen),
    op.add,
    ...get(end),
    op.gtU,
    op.eqz, // q + nlen <= end
    op.if,
    VOID,
    ...verify,
    op.end,
    ...get(m),
    ...get(m),
    ...c(1),
    op.sub,
    op.and,
    ...set(m),
    op.br,
    0,
    op.end,
    op.end,
    ...get(p),
    ...c(16),
    op.add,
    ...set(p),
    op.br,
    0,
    op.end,
    op.end,
    // scalar tail: q from p while q + nlen <= end
    ...get(p),
    ...set(q),
    op.block,
    VOID,
    op.loop,
    VOID,
    ...get(q),
    ...get(nlen),
    op.add,
    ...get(end),
    op.gtU,
    op.brIf,
    1,
    ...verify,
    ...get(q),
    ...c(1),
    op.add,
    ...set(q),
    op.br,
    0,
    op.end,
    op.end,
    ...c(-1),
    op.end,
  ];
  // count(start, end): 16 bytes at a time with popcnt of the bitmask, then byte by byte.
  const [cs, ce, cp, cn, NL] = [0, 1, 2, 3, 4];
  const count = [
    ...c(10),
    ...splat,
    ...set(NL),
    ...get(cs),
    ...set(cp),
    op.block,
    VOID,
    op.loop,
    VOID,
    ...get(cp),
    ...c(16),
    op.add,
    ...get(ce),
    op.gtU,
    op.brIf,
    1,
    ...get(cp),
    ...v128load(HAY_AT),
    ...get(NL),
    ...eq8,
    ...bitmask,
    op.popcnt,
    ...get(cn),
    op.add,
    ...set(cn),
    ...get(cp),
    ...c(16),
    op.add,
    ...set(cp),
    op.br,
    0,
    op.end,
    op.end,
    op.block,
    VOID,
    op.loop,
    VOID,
    ...get(cp),
    ...get(ce),
    op.geU,
    op.brIf,
    1,
    ...get(cn),
    ...get(cp),
    ...load8(HAY_AT),
    ...c(10),
    op.eq,
    op.add,
    ...set(cn),
    ...get(cp),
    ...c(1),
    op.add,
    ...set(cp),
    op.br,
    0,
    op.end,
    op.end,
    ...get(cn),
    op.end,
  ];
  const body = (locals: number[][], code: number[]) => {
    const b = [...vec(locals), ...code];
    return [...uleb(b.length), ...b];
  };
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([[0x60, 6, I32, I32, I32, I32, I32, I32, 1, I32], [0x60, 2, I32, I32, 1, I32]])),
    ...section(3, vec([[0], [1]])),
    ...section(5, vec([[0x00, 1]])), // one memory, min 1 page, grown from JavaScript
    ...section(
      7,
      vec([[...name("find"), 0x00, 0], [...name("count"), 0x00, 1], [...name("memory"), 0x02, 0]]),
    ),
    ...section(
      10,
      vec([
        body([[4, I32], [4, V128]], find),
        body([[2, I32], [1, V128]], count),
      ]),
    ),
  ];
  return new Uint8Array(bytes);
}

/** The compiled kernel, shared by every finder (compiling a few hundred bytes at load costs ~nothing). */
const MODULE = new WebAssembly.Module(kernel() as Uint8Array<ArrayBuffer>);

interface Kernel {
  find(start: number, end: number, nlen: number, i1: number, i2: number, nd: number): number;
  count(start: number, end: number): number;
  memory: WebAssembly.Memory;
}

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
  readonly #k: Kernel;
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
    const inst = new WebAssembly.Instance(MODULE);
    this.#k = inst.exports as unknown as Kernel;
    const pages = Math.ceil((HAY_AT + capacity + 64) / 65536);
    this.#k.memory.grow(pages - this.#k.memory.buffer.byteLength / 65536);
    const mem = new Uint8Array(this.#k.memory.buffer);
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
    this.hay = new Uint8Array(this.#k.memory.buffer, HAY_AT, capacity);
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

  /** The number of newline bytes in [from, end) of the haystack. */
  count(from: number, end: number): number {
    return from >= end ? 0 : this.#k.count(from, end);
  }
}
