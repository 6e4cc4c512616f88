/**
 * The WebAssembly module behind {@link ../newlines.ts}: two functions that
 * find newline bytes 16 at a time with SIMD compares, written here as the
 * binary format's bytes.
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
 * Exports: `mem` (the memory, grown by the caller), `count(ptr, len) -> i32`
 * and `nth(ptr, len, n) -> i32`.
 * @module
 */

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
const eqz = [0x45], eq = [0x46], geU = [0x4f];
const ctz = [0x68], popcnt = [0x69], add = [0x6a], sub = [0x6b], and = [0x71];
// SIMD instructions: prefix 0xFD then the opcode as unsigned LEB128.
const simd = (op: number, ...imm: number[]) => [0xfd, ...uleb(op), ...imm];
const v128load = (offset: number) => simd(0x00, 0x04, ...uleb(offset)); // align 2^4
const i8x16splat = simd(0x0f);
const i32x4extract = (lane: number) => simd(0x1b, lane);
const i8x16eq = simd(0x23);
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

/** The module's `.wasm` bytes (see the module comment). */
export function newlineWasm(): Uint8Array<ArrayBuffer> {
  const func = (
    params: number[],
    results: number[],
  ) => [0x60, ...vec(params.map((t) => [t])), ...vec(results.map((t) => [t]))];
  // deno-fmt-ignore
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
    ...section(1, vec([func([I32, I32], [I32]), func([I32, I32, I32], [I32])])), // types
    ...section(3, vec([uleb(0), uleb(1)])), // functions: count has type 0, nth type 1
    ...section(5, vec([[0x00, ...uleb(1)]])), // memory: min 1 page, no max
    ...section(7, vec([
      [...name("mem"), 0x02, ...uleb(0)],
      [...name("count"), 0x00, ...uleb(0)],
      [...name("nth"), 0x00, ...uleb(1)],
    ])),
    ...section(10, vec([countBody(), nthBody()].map((b) => [...uleb(b.length), ...b]))),
  ];
  return new Uint8Array(bytes);
}
