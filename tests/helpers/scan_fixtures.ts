/**
 * Made-up files for the scan tests (tests/unit/scan_*.test.ts): seeded, so a
 * failure can be replayed.
 * @module
 */

/** A seeded generator, so a failure can be replayed. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Text of `n` lines of random length (some empty, some over `long` bytes), optionally without a last newline. */
export function randomLines(n: number, seed: number, long = 300, endNewline = true): string {
  const r = rng(seed);
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const kind = r();
    const len = kind < 0.1 ? 0 : kind < 0.13 ? long + Math.floor(r() * long) : Math.floor(r() * 60);
    lines.push(`${i + 1}:` + "abcdefghij".repeat(Math.ceil(len / 10)).slice(0, len));
  }
  return lines.join("\n") + (endNewline ? "\n" : "");
}

/** Where each line starts (line i + 1 at starts[i]), as a reference. */
export function lineStarts(bytes: Uint8Array): number[] {
  const starts = bytes.length ? [0] : [];
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 10 && i + 1 < bytes.length) starts.push(i + 1);
  return starts;
}
