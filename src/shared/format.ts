/**
 * Sizes and times for people. Pure and shared: the server renders the first
 * paint with the same functions as the page's script, so the page reads the
 * same before and after its script.
 * @module
 */

/**
 * A byte count for people: `"0 B"`, `"812 B"`, `"1.5 KiB"`, `"16 MiB"`.
 * @example
 * ```ts
 * formatSize(1536); // "1.5 KiB"
 * ```
 */
export function formatSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "";
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  // Move up a unit before rounding could print "1024 KiB".
  while (value >= 1023.95 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const shown = value < 10 ? value.toFixed(1).replace(/\.0$/, "") : String(Math.round(value));
  return `${shown} ${units[unit]}`;
}

/**
 * What the page says when it holds only the end of the file (a tail window,
 * or lines it dropped itself): `"Showing the last 8 KiB of 1.2 MiB."`.
 * Empty when it holds the whole file (`offset` 0).
 */
export function windowNotice(offset: number, size: number): string {
  if (offset <= 0) return "";
  return `Showing the last ${formatSize(size - offset)} of ${formatSize(size)}.`;
}

/**
 * The modification time a version token carries, in ms since the epoch; null
 * when `token` is not one. A token (the wire's `lastMod`) is the mtime in ns
 * shifted left by 64 bits over a content hash (docs/protocol.md); one of 16
 * hex digits or fewer is a bare mtime in ns (a server from before the hash).
 * @example
 * ```ts
 * tokenTimeMs("17979cfe3d7ed4c0" + "00000000000000ff"); // 1_700_000_000_123
 * ```
 */
export function tokenTimeMs(token: string): number | null {
  if (!/^[0-9a-f]{1,32}$/i.test(token)) return null;
  const v = BigInt("0x" + token);
  const ms = Number((token.length > 16 ? v >> 64n : v) / 1_000_000n);
  return Number.isSafeInteger(ms) ? ms : null;
}

/**
 * How long ago `thenMs` was, at `nowMs`, in words: `"just now"`, `"42 s ago"`,
 * `"5 min ago"`, `"3 h ago"`, `"2 d ago"`. A time in the future (clock skew
 * between the file's filesystem and this browser) reads as `"just now"`.
 */
export function formatAgo(thenMs: number, nowMs: number): string {
  const s = Math.floor((nowMs - thenMs) / 1000);
  if (s < 5) return "just now";
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.floor(h / 24)} d ago`;
}
