/**
 * Line links: `#L120` names line 120 of the file.
 * @module
 */

/**
 * The line a URL fragment names (`"#L120"` → 120), or null for anything else
 * (no fragment, `#L0`, `#L12x`, `#top`, a number past 2^31).
 */
export function parseLineHash(hash: string): number | null {
  const m = /^#L([1-9][0-9]{0,9})$/.exec(hash);
  if (!m) return null;
  const n = Number(m[1]);
  return n <= 2 ** 31 ? n : null;
}

/** The fragment for line `n`: `#L120`. */
export function lineHash(n: number): string {
  return `#L${n}`;
}
