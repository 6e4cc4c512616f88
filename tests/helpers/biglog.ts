/**
 * Large logs made at test time (never committed) for the large-file view's
 * browser test and bench/bigpage.ts: two lines, then one 64 MiB block of
 * numbered lines written as many times as asked (writing one block again is
 * what makes a GiB quick to make), then a last line. Every line's text is
 * known from its number, so a test can tell which line it is looking at.
 * @module
 */

/** What a written log holds. */
export interface BigLog {
  path: string;
  /** Bytes. */
  size: number;
  /** Lines (each ends with a newline). */
  lines: number;
  /** The text of line `n` (1-based). */
  text(n: number): string;
  /** A word on line 2 only: a search for it must reach the file's start. */
  needle: string;
  /** The last line's text. */
  last: string;
}

/** The lines before the blocks. */
const HEAD = ["first line of the file", "needle-4242 only here, near the start"];
const LAST = "the very last line of the file";
/** About this many bytes per block. */
const BLOCK_BYTES = 64 * 1024 * 1024;

/** Line `i` (0-based) of the block: 80 ASCII bytes with its newline. */
function blockLine(i: number): string {
  return `block line ${String(i).padStart(7, "0")} INFO worker[${i % 8}] request served in ${
    String((i * 7) % 97).padStart(2, " ")
  } ms ......`;
}

/** The lines of one block, and its bytes, for blocks of about `blockBytes`. */
function blockOf(blockBytes: number): { perBlock: number; block: Uint8Array } {
  const first = blockLine(0) + "\n";
  const perBlock = Math.max(1, Math.floor(blockBytes / first.length));
  const parts: string[] = [];
  for (let i = 0; i < perBlock; i++) parts.push(blockLine(i));
  return { perBlock, block: new TextEncoder().encode(parts.join("\n") + "\n") };
}

/**
 * What a log of `blocks` blocks of about `blockBytes` holds (written by
 * {@link writeBigLog}, or found at `path` already, e.g. a benchmark's kept file).
 */
export function bigLogOf(path: string, blocks: number, blockBytes = BLOCK_BYTES): BigLog {
  const enc = new TextEncoder();
  const first = blockLine(0) + "\n";
  const perBlock = Math.max(1, Math.floor(blockBytes / first.length));
  const lines = HEAD.length + blocks * perBlock + 1;
  return {
    path,
    size: enc.encode(HEAD.join("\n") + "\n").length + blocks * perBlock * first.length + enc.encode(LAST + "\n").length,
    lines,
    text: (n) => n <= HEAD.length ? HEAD[n - 1]! : n === lines ? LAST : blockLine((n - HEAD.length - 1) % perBlock),
    needle: "needle-4242",
    last: LAST,
  };
}

/**
 * Writes a log of `blocks` × 64 MiB (or `blockBytes`), plus three lines, at `path`.
 * @example
 * ```ts
 * const log = await writeBigLog(`${dir}/big.log`, 16); // 1 GiB
 * log.text(log.lines); // "the very last line of the file"
 * ```
 */
export async function writeBigLog(path: string, blocks: number, blockBytes = BLOCK_BYTES): Promise<BigLog> {
  const enc = new TextEncoder();
  const { block } = blockOf(blockBytes);
  const f = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    const writeAll = async (b: Uint8Array) => {
      for (let at = 0; at < b.length;) at += await f.write(b.subarray(at));
    };
    await writeAll(enc.encode(HEAD.join("\n") + "\n"));
    for (let k = 0; k < blocks; k++) await writeAll(block);
    await writeAll(enc.encode(LAST + "\n"));
  } finally {
    f.close();
  }
  return bigLogOf(path, blocks, blockBytes);
}
