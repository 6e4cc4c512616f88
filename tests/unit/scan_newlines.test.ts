/**
 * The newline primitives (src/scan/newlines.ts): the WebAssembly SIMD path and
 * the JavaScript fallback agree with a byte-by-byte reference on random data,
 * at every alignment and length around the 16- and 64-byte blocks, past the
 * byte counters' 63-turn flush, and across the 1 MiB copy slices.
 */
import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";
import {
  countNewlines,
  countNewlinesJs,
  lastNewlineBefore,
  NewlineScanner,
  nthNewline,
  SCAN_BUFFER,
  simdAvailable,
} from "../../src/scan/newlines.ts";
import { scanWasm } from "../../src/scan/_wasm.ts";
import { rng } from "../helpers/scan_fixtures.ts";

/** `len` bytes where about `density` of them are `\n`, the rest any byte (0x0A's neighbours 0x0B, 0x8A included). */
function bytes(len: number, density: number, seed: number): Uint8Array {
  const r = rng(seed);
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) {
    b[i] = r() < density ? 10 : [0x0b, 0x09, 0x8a, 0x0a ^ 0x80, (r() * 256) | 0][(r() * 5) | 0]!;
  }
  return b;
}

function positions(b: Uint8Array): number[] {
  const p: number[] = [];
  for (let i = 0; i < b.length; i++) if (b[i] === 10) p.push(i);
  return p;
}

Deno.test("the WebAssembly SIMD module compiles and validates on this runtime", () => {
  assert(WebAssembly.validate(scanWasm()), "the hand-assembled module is valid WebAssembly");
  assert(simdAvailable(), "both runtimes run WebAssembly SIMD: the fallback must not be in use");
});

Deno.test("countNewlines and countNewlinesJs count every 0x0A byte, at every offset and length near block edges", () => {
  const b = bytes(4096, 0.1, 1);
  for (let off = 0; off < 20; off++) {
    for (const len of [0, 1, 15, 16, 17, 63, 64, 65, 127, 128, 255, 256, 257, 1000, 4000]) {
      const part = b.subarray(off, off + len);
      const want = positions(part).length;
      assertEquals(countNewlines(part), want, `off ${off} len ${len}`);
      assertEquals(countNewlinesJs(part), want, `js off ${off} len ${len}`);
    }
  }
});

Deno.test("countNewlines is exact on all-newline buffers (the byte counters flush before they wrap) and on none", () => {
  for (const len of [64 * 63, 64 * 63 + 64, 64 * 64 * 5 + 7, SCAN_BUFFER + 33]) {
    assertEquals(countNewlines(new Uint8Array(len).fill(10)), len);
    assertEquals(countNewlinesJs(new Uint8Array(len).fill(10)), len);
    assertEquals(countNewlines(new Uint8Array(len).fill(0x0b)), 0);
  }
});

Deno.test("countNewlines across several 1 MiB slices matches the reference", () => {
  const b = bytes(3 * SCAN_BUFFER + 12345, 0.02, 2);
  const want = positions(b).length;
  assertEquals(countNewlines(b), want);
  assertEquals(countNewlines(b.subarray(7)), positions(b.subarray(7)).length);
  assertEquals(countNewlinesJs(b), want);
});

Deno.test("nthNewline finds the n-th newline (1-based), also across slices, and -1 past the last", () => {
  const b = bytes(2 * SCAN_BUFFER + 999, 0.01, 3);
  const p = positions(b);
  for (const n of [1, 2, 3, 16, 17, 100, 5000, p.length - 1, p.length]) {
    assertEquals(nthNewline(b, n), p[n - 1], `n ${n}`);
  }
  assertEquals(nthNewline(b, p.length + 1), -1);
  const from = 1_500_000;
  const after = p.filter((x) => x >= from);
  assertEquals(nthNewline(b, 10, from), after[9]);
  assertEquals(nthNewline(new Uint8Array([10]), 1), 0);
  assert(assertThrows(() => nthNewline(b, 0)) instanceof RangeError);
});

Deno.test("NewlineScanner.nth on both paths: the position, or -1 - found when there are fewer", () => {
  // The third: the module's memory with the search finder's needle slots before the buffer (src/scan/_find.ts).
  for (const [js, reserve] of [[false, 0], [true, 0], [false, 4096]] as const) {
    const s = new NewlineScanner(70000, js, reserve);
    // Newlines before the buffer, which its counts must not see.
    if (reserve) new Uint8Array(s.kernel!.mem.buffer, 0, reserve).fill(10);
    s.buffer.set(bytes(70000, 0.05, 4));
    for (const start of [0, 1, 5, 16, 33]) {
      for (const len of [0, 10, 16, 31, 200, 69000]) {
        const p = positions(s.buffer.subarray(start, start + len));
        for (const n of [1, 2, p.length, p.length + 1, p.length + 5].filter((x) => x >= 1)) {
          const want = n <= p.length ? start + p[n - 1]! : -1 - p.length;
          assertEquals(s.nth(start, len, n), want, `js ${js} reserve ${reserve} start ${start} len ${len} n ${n}`);
        }
        assertEquals(s.count(start, len), p.length);
      }
    }
  }
});

Deno.test("lastNewlineBefore looks strictly before the offset", () => {
  const b = new TextEncoder().encode("ab\ncd\nef");
  assertEquals(lastNewlineBefore(b, 8), 5);
  assertEquals(lastNewlineBefore(b, 6), 5);
  assertEquals(lastNewlineBefore(b, 5), 2);
  assertEquals(lastNewlineBefore(b, 2), -1);
  assertEquals(lastNewlineBefore(b, 0), -1);
  assertEquals(lastNewlineBefore(b, 100), 5);
});
