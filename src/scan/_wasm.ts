/**
 * The one WebAssembly module of the scan modules: counting and finding
 * newlines 16 bytes at a time with SIMD compares (for src/scan/newlines.ts:
 * the line index, `/lines`, and search's line numbers), and finding a
 * needle in a haystack with ASCII case folding (for src/scan/_find.ts:
 * search), written here as the binary format's bytes. One memory holds the
 * finder's needle slots, then the bytes to scan; every function scans it in
 * place, so a file read straight into it is never copied.
 *
 * Why bytes in TypeScript: the repository builds nothing at run time and
 * ships no binary blobs, and there is no WAT assembler among its tools. The
 * module is small enough to assemble by hand: {@link newlineWasm} returns the
 * `.wasm` bytes, made with the little encoder below (LEB128 numbers, sections,
 * and the opcodes used, each named after its text-format instruction), so the
 * program reads as the text format would. The text form is in each function's
 * comment. The bytes are made once per process (microseconds) and compiled
 * with `new WebAssembly.Module`, which both runtimes accept synchronously.
 *
 * Exports: `mem` (the memory, grown by the caller), `count(ptr, len) -> i32`,
 * `nth(ptr, len, n) -> i32` and `find(start, end, nlen, i1, i2, nd) -> i32`.
 * @module
 */

/** Needle slots at the start of memory: a needle's bytes, then its fold mask {@link MASK_OFF} bytes on. */
export const SLOT = 512;
/** Where a slot's fold mask starts, from the slot's start. */
export const MASK_OFF = 256;
/** How many needles the memory has slots for (a regular expression's alternatives). */
export const MAX_NEEDLES = 8;
/** Where the haystack starts (16-aligned, after the needle slots): `find`'s positions count from here. */
export const HAY_AT = SLOT * MAX_NEEDLES;

/** Unsigned LEB128. */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 of a 32-bit integer. */
function sleb(n: number): number[] {
  const out: number[] = [];
  n |= 0;
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    const done = (n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0);
    out.push(done ? b : b | 0x80);
    if (done) return out;
  }
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const name = (s: string): number[] => vec([...new TextEncoder().encode(s)].map((b) => [b]));

const I32 = 0x7f, V128 = 0x7b, VOID = 0x40;

// Core instructions (WebAssembly 2.0 binary format, §5.4).
const block = [0x02, VOID], loop = [0x03, VOID], if_ = [0x04, VOID], end = [0x0b];
const br = (d: number) => [0x0c, ...uleb(d)];
const brIf = (d: number) => [0x0d, ...uleb(d)];
const ret = [0x0f];
const get = (l: number) => [0x20, ...uleb(l)];
const set = (l: number) => [0x21, ...uleb(l)];
const tee = (l: number) => [0x22, ...uleb(l)];
const i32 = (n: number) => [0x41, ...sleb(n)];
const load8u = [0x2d, 0x00, 0x00]; // align 2^0, offset 0
const load8uAt = (offset: number) => [0x2d, 0x00, ...uleb(offset)];
const eqz = [0x45], eq = [0x46], ne = [0x47], gtU = [0x4b], geU = [0x4f];
const ctz = [0x68], popcnt = [0x69], add = [0x6a], sub = [0x6b], and = [0x71], or = [0x72];
// SIMD instructions: prefix 0xFD then the opcode as unsigned LEB128.
const simd = (op: number, ...imm: number[]) => [0xfd, ...uleb(op), ...imm];
const v128load = (offset: number) => simd(0x00, 0x04, ...uleb(offset)); // align 2^4
const v128loadAnyAlign = (offset: number) => simd(0x00, 0x00, ...uleb(offset)); // align 2^0: find loads at any byte
const i8x16splat = simd(0x0f);
const i32x4extract = (lane: number) => simd(0x1b, lane);
const i8x16eq = simd(0x23);
const v128and = simd(0x4e), v128or = simd(0x50);
const i8x16bitmask = simd(0x64);
const i8x16add = simd(0x6e);
const i8x16sub = simd(0x71);
const i16x8extaddU = simd(0x7d); // i16x8.extadd_pairwise_i8x16_u
const i32x4extaddU = simd(0x7f); // i32x4.extadd_pairwise_i16x8_u
const i32x4add = simd(0xae);
const v128zero = simd(0x0c, ...new Array(16).fill(0));

/**
 * ```wat
 * (func $count (param $p i32) (param $len i32) (result i32)
 *   ;; 64 bytes per turn into byte counters $acc (at most 4 per turn, so 63
 *   ;; turns fit in a byte), then widened into the i32x4 $total.
 *   $end = $p + $len;  $vend = $p + ($len & ~63);  $nl = i8x16.splat(10)
 *   block $out loop $outer
 *     br_if $out ($p >= $vend)
 *     $acc = 0;  $k = 63
 *     block $flush loop $inner
 *       $acc -= eq(load $p, $nl) + eq(load $p+16, $nl) + eq(load $p+32, $nl) + eq(load $p+48, $nl)
 *       $p += 64;  $k -= 1
 *       br_if $flush ($p >= $vend);  br_if $inner ($k != 0)
 *     end end
 *     $total += extadd_u(extadd_u($acc));  br $outer
 *   end end
 *   $r = lanes($total) summed;  then a byte loop over [$p, $end)
 * ```
 */
function countBody(): number[] {
  // params 0 p, 1 len; locals 2 end, 3 vend, 4 k, 5 r (i32); 6 nl, 7 acc, 8 total (v128)
  const [P, LEN, END, VEND, K, R, NL, ACC, TOTAL] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const eqAt = (off: number) => [...get(P), ...v128load(off), ...get(NL), ...i8x16eq];
  // One instruction group per line, as the text format would be written.
  // deno-fmt-ignore
  const code = [
    ...get(P), ...get(LEN), ...add, ...set(END),
    ...get(P), ...get(LEN), ...i32(~63), ...and, ...add, ...set(VEND),
    ...i32(10), ...i8x16splat, ...set(NL),
    ...v128zero, ...set(TOTAL),
    ...block, ...loop,
    ...get(P), ...get(VEND), ...geU, ...brIf(1),
    ...v128zero, ...set(ACC), ...i32(63), ...set(K),
    ...block, ...loop,
    ...get(ACC), ...eqAt(0), ...eqAt(16), ...i8x16add, ...eqAt(32), ...i8x16add, ...eqAt(48), ...i8x16add,
    ...i8x16sub, ...set(ACC),
    ...get(P), ...i32(64), ...add, ...set(P),
    ...get(K), ...i32(1), ...sub, ...set(K),
    ...get(P), ...get(VEND), ...geU, ...brIf(1),
    ...get(K), ...brIf(0),
    ...end, ...end,
    ...get(TOTAL), ...get(ACC), ...i16x8extaddU, ...i32x4extaddU, ...i32x4add, ...set(TOTAL),
    ...br(0),
    ...end, ...end,
    ...get(TOTAL), ...i32x4extract(0), ...get(TOTAL), ...i32x4extract(1), ...add,
    ...get(TOTAL), ...i32x4extract(2), ...add, ...get(TOTAL), ...i32x4extract(3), ...add, ...set(R),
    ...block, ...loop,
    ...get(P), ...get(END), ...geU, ...brIf(1),
    ...get(R), ...get(P), ...load8u, ...i32(10), ...eq, ...add, ...set(R),
    ...get(P), ...i32(1), ...add, ...set(P),
    ...br(0),
    ...end, ...end,
    ...get(R),
    ...end,
  ];
  return [...vec([[4, I32], [3, V128]]), ...code];
}

/**
 * ```wat
 * (func $nth (param $p i32) (param $len i32) (param $n i32) (result i32)
 *   ;; where the $n-th (1-based) newline of [$p, $p + $len) is, relative to the
 *   ;; start; or -1 - found when there are fewer.
 *   16 bytes per turn: $m = bitmask(eq(load $p, $nl)); $c = popcnt($m)
 *   if $c >= $n: drop the $n - 1 lowest bits of $m, return $p + ctz($m) - $start
 *   else $n -= $c; then a byte loop over the tail
 * ```
 */
function nthBody(): number[] {
  // params 0 p, 1 len, 2 n; locals 3 start, 4 end, 5 vend, 6 m, 7 c, 8 want (i32); 9 nl (v128)
  const [P, LEN, N, START, END, VEND, M, C, WANT, NL] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  // One instruction group per line, as the text format would be written.
  // deno-fmt-ignore
  const code = [
    ...get(P), ...set(START), ...get(N), ...set(WANT),
    ...get(P), ...get(LEN), ...add, ...set(END),
    ...get(P), ...get(LEN), ...i32(~15), ...and, ...add, ...set(VEND),
    ...i32(10), ...i8x16splat, ...set(NL),
    ...block, ...loop,
    ...get(P), ...get(VEND), ...geU, ...brIf(1),
    ...get(P), ...v128load(0), ...get(NL), ...i8x16eq, ...i8x16bitmask, ...tee(M), ...popcnt, ...tee(C),
    ...get(N), ...geU, ...if_,
    // drop the n - 1 lowest set bits
    ...block, ...loop,
    ...get(N), ...i32(1), ...eq, ...brIf(1),
    ...get(M), ...get(M), ...i32(1), ...sub, ...and, ...set(M),
    ...get(N), ...i32(1), ...sub, ...set(N),
    ...br(0),
    ...end, ...end,
    ...get(P), ...get(M), ...ctz, ...add, ...get(START), ...sub, ...ret,
    ...end,
    ...get(N), ...get(C), ...sub, ...set(N),
    ...get(P), ...i32(16), ...add, ...set(P),
    ...br(0),
    ...end, ...end,
    ...block, ...loop,
    ...get(P), ...get(END), ...geU, ...brIf(1),
    ...get(P), ...load8u, ...i32(10), ...eq, ...if_,
    ...get(N), ...i32(1), ...sub, ...tee(N), ...eqz, ...if_,
    ...get(P), ...get(START), ...sub, ...ret,
    ...end,
    ...end,
    ...get(P), ...i32(1), ...add, ...set(P),
    ...br(0),
    ...end, ...end,
    // -1 - (want - n)
    ...i32(-1), ...get(WANT), ...get(N), ...sub, ...sub,
    ...end,
  ];
  return [...vec([[6, I32], [1, V128]]), ...code];
}

/**
 * ```wat
 * (func $find (param $start i32) (param $end i32) (param $nlen i32)
 *             (param $i1 i32) (param $i2 i32) (param $nd i32) (result i32)
 *   ;; the first q in [start, end - nlen] where the needle in the slot at $nd
 *   ;; matches hay[q, q + nlen), or -1. The generic SIMD substring search:
 *   ;; compare the needle's bytes $i1 and $i2 (its rarest, chosen by the
 *   ;; caller) with 16 positions at once, each side ORed with its fold mask
 *   ;; (0x20 on letters: ASCII case-insensitive), and verify the whole
 *   ;; needle only where both agree.
 *   $F, $Fm, $L, $Lm = splat(needle[$i1]), splat(mask[$i1]), splat(needle[$i2]), splat(mask[$i2])
 *   for $p from $start while $p + $i2 + 16 <= $end, by 16:
 *     $m = bitmask(eq(load($p + $i1) | $Fm, $F) & eq(load($p + $i2) | $Lm, $L))
 *     for each set bit of $m: $q = $p + ctz($m); if $q + $nlen <= $end: verify($q)
 *   for $q from $p while $q + $nlen <= $end: verify($q)
 *   -1
 *   ;; verify($q): return $q if (hay[$q + $j] | mask[$j]) == needle[$j] for every $j < $nlen
 * ```
 */
function findBody(): number[] {
  // params 0 start, 1 end, 2 nlen, 3 i1, 4 i2, 5 nd; locals 6 p, 7 m, 8 q, 9 j (i32); 10 F, 11 Fm, 12 L, 13 Lm (v128)
  const [START, END, NLEN, I1, I2, ND, P, M, Q, J, F, FM, L, LM] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
  // deno-fmt-ignore
  const verify = [
    ...i32(0), ...set(J),
    ...block, ...loop,
    ...get(J), ...get(NLEN), ...eq, ...if_, ...get(Q), ...ret, ...end,
    ...get(Q), ...get(J), ...add, ...load8uAt(HAY_AT),
    ...get(ND), ...get(J), ...add, ...load8uAt(MASK_OFF), ...or,
    ...get(ND), ...get(J), ...add, ...load8uAt(0), ...ne, ...brIf(1),
    ...get(J), ...i32(1), ...add, ...set(J),
    ...br(0),
    ...end, ...end,
  ];
  const splatAt = (off: number, idx: number, into: number) => [
    ...get(ND),
    ...get(idx),
    ...add,
    ...load8uAt(off),
    ...i8x16splat,
    ...set(into),
  ];
  const cmpAt = (idx: number, mask: number, want: number) => [
    ...get(P),
    ...get(idx),
    ...add,
    ...v128loadAnyAlign(HAY_AT),
    ...get(mask),
    ...v128or,
    ...get(want),
    ...i8x16eq,
  ];
  // One instruction group per line, as the text format would be written.
  // deno-fmt-ignore
  const code = [
    ...splatAt(0, I1, F), ...splatAt(MASK_OFF, I1, FM), ...splatAt(0, I2, L), ...splatAt(MASK_OFF, I2, LM),
    ...get(START), ...set(P),
    ...block, ...loop,
    ...get(P), ...get(I2), ...add, ...i32(16), ...add, ...get(END), ...gtU, ...brIf(1),
    ...cmpAt(I1, FM, F), ...cmpAt(I2, LM, L), ...v128and, ...i8x16bitmask, ...set(M),
    ...block, ...loop,
    ...get(M), ...eqz, ...brIf(1),
    ...get(P), ...get(M), ...ctz, ...add, ...tee(Q), ...get(NLEN), ...add, ...get(END), ...gtU, ...eqz,
    ...if_, ...verify, ...end,
    ...get(M), ...get(M), ...i32(1), ...sub, ...and, ...set(M),
    ...br(0),
    ...end, ...end,
    ...get(P), ...i32(16), ...add, ...set(P),
    ...br(0),
    ...end, ...end,
    ...get(P), ...set(Q),
    ...block, ...loop,
    ...get(Q), ...get(NLEN), ...add, ...get(END), ...gtU, ...brIf(1),
    ...verify,
    ...get(Q), ...i32(1), ...add, ...set(Q),
    ...br(0),
    ...end, ...end,
    ...i32(-1),
    ...end,
  ];
  return [...vec([[4, I32], [4, V128]]), ...code];
}

/** The module's `.wasm` bytes (see the module comment). */
export function scanWasm(): Uint8Array<ArrayBuffer> {
  const func = (
    params: number[],
    results: number[],
  ) => [0x60, ...vec(params.map((t) => [t])), ...vec(results.map((t) => [t]))];
  // deno-fmt-ignore
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
    ...section(1, vec([
      func([I32, I32], [I32]),
      func([I32, I32, I32], [I32]),
      func([I32, I32, I32, I32, I32, I32], [I32]),
    ])), // types
    ...section(3, vec([uleb(0), uleb(1), uleb(2)])), // functions: count has type 0, nth type 1, find type 2
    ...section(5, vec([[0x00, ...uleb(1)]])), // memory: min 1 page, no max
    ...section(7, vec([
      [...name("mem"), 0x02, ...uleb(0)],
      [...name("count"), 0x00, ...uleb(0)],
      [...name("nth"), 0x00, ...uleb(1)],
      [...name("find"), 0x00, ...uleb(2)],
    ])),
    ...section(10, vec([countBody(), nthBody(), findBody()].map((b) => [...uleb(b.length), ...b]))),
  ];
  return new Uint8Array(bytes);
}

/** The module's exports. */
export interface ScanKernel {
  mem: WebAssembly.Memory;
  /** The number of `\n` bytes in memory [ptr, ptr + len). */
  count(ptr: number, len: number): number;
  /** Where the n-th `\n` of [ptr, ptr + len) is, from ptr; or -1 - found when there are fewer. */
  nth(ptr: number, len: number, n: number): number;
  /** See {@link findBody}: positions from {@link HAY_AT}. */
  find(start: number, end: number, nlen: number, i1: number, i2: number, nd: number): number;
}

let compiled: WebAssembly.Module | null | undefined;

/** The compiled module (once per process), or null when this runtime cannot run WebAssembly SIMD. */
export function scanModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(scanWasm());
    } catch {
      compiled = null;
    }
  }
  return compiled;
}
