/**
 * A large log made fast at test time, whose every line is known without
 * reading it back: one 1 MiB block of numbered lines written again and
 * again, each copy with its block number stamped into every line, and
 * optional markers planted in a fixed-width field (so no offset moves).
 * Line `n`'s offset and text come from arithmetic ({@link BlockLog.line}),
 * so a test can hold `/lines` and `/search` to the file itself.
 * @module
 */

/** Bytes per block. */
export const BLOCK = 1 << 20;
/** The plain value of each line's marker field (`w=`); a planted marker has the same width. */
const PLAIN = "plain-words-here";

/** One line of the log. */
export interface KnownLine {
  n: number;
  offset: number;
  text: string;
}

/** A log written by {@link writeBlockLog}. */
export interface BlockLog {
  path: string;
  size: number;
  linesPerBlock: number;
  /** Lines in the file. */
  total: number;
  /** Line `n` (1-based). */
  line(n: number): KnownLine;
  /** The lines holding planted markers, in file order. */
  planted: KnownLine[];
}

const pad = (n: number, w: number) => String(n).padStart(w, "0");

/** The block's lines: each line's text with `BBBBBB` for the block number, and where its fields are. */
function template(): { lines: string[]; starts: number[]; tagAt: number[]; markAt: number[] } {
  const lines: string[] = [];
  const starts: number[] = [];
  const tagAt: number[] = [];
  const markAt: number[] = [];
  let at = 0;
  for (let i = 0;; i++) {
    const line = `2026-12-07T00:00:00.000Z INFO block=BBBBBB line=${pad(i, 6)} w=${PLAIN} ${"abcdefgh".repeat(i % 9)}`;
    // The last line is filled out so that the block ends with its newline exactly.
    if (at + line.length + 1 + 120 > BLOCK) {
      const last = line + "z".repeat(BLOCK - at - line.length - 1);
      lines.push(last);
      starts.push(at);
      tagAt.push(at + last.indexOf("BBBBBB"));
      markAt.push(at + last.indexOf(PLAIN));
      return { lines, starts, tagAt, markAt };
    }
    lines.push(line);
    starts.push(at);
    tagAt.push(at + line.indexOf("BBBBBB"));
    markAt.push(at + line.indexOf(PLAIN));
    at += line.length + 1;
  }
}

/**
 * Writes `blocks` MiB to `path` and returns what is in it. `markers`
 * (each exactly 16 ASCII characters) are planted one per line, spread over
 * the file: marker k in block ⌊(k + ½)·blocks/markers⌋.
 */
export async function writeBlockLog(path: string, blocks: number, markers: string[] = []): Promise<BlockLog> {
  const t = template();
  const L = t.lines.length;
  const enc = new TextEncoder();
  const block = enc.encode(t.lines.join("\n") + "\n");
  if (block.length !== BLOCK) throw new Error(`block of ${block.length} bytes`);
  const planted = new Map<number, string>(); // line number → marker
  markers.forEach((m, k) => {
    if (m.length !== PLAIN.length) throw new RangeError(`Cannot plant "${m}": markers are ${PLAIN.length} characters`);
    const b = Math.floor(((k + 0.5) * blocks) / markers.length);
    const i = (k * 7919 + 13) % (L - 1);
    planted.set(b * L + i + 1, m);
  });
  const f = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    for (let b = 0; b < blocks; b++) {
      const tag = enc.encode(pad(b, 6));
      for (const p of t.tagAt) block.set(tag, p);
      const here = [...planted].filter(([n]) => Math.floor((n - 1) / L) === b);
      for (const [n, m] of here) block.set(enc.encode(m), t.markAt[(n - 1) % L]!);
      let part: Uint8Array = block;
      while (part.length) part = part.subarray(await f.write(part));
      for (const [n] of here) block.set(enc.encode(PLAIN), t.markAt[(n - 1) % L]!);
    }
  } finally {
    f.close();
  }
  const line = (n: number): KnownLine => {
    const b = Math.floor((n - 1) / L), i = (n - 1) % L;
    let text = t.lines[i]!.replace("BBBBBB", pad(b, 6));
    const m = planted.get(n);
    if (m) text = text.replace(PLAIN, m);
    return { n, offset: b * BLOCK + t.starts[i]!, text };
  };
  return {
    path,
    size: blocks * BLOCK,
    linesPerBlock: L,
    total: blocks * L,
    line,
    planted: [...planted.keys()].sort((a, b) => a - b).map(line),
  };
}
