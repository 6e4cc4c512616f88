/**
 * How the page cuts its text into blocks the browser can skip laying out.
 * Shared: the server writes the first paint in the same blocks the page's
 * script builds, so the script can take them over as they are.
 * @module
 */

/** Lines per `<span class="chunk">` of the content (see {@link chunkStarts}). */
export const CHUNK_LINES = 500;

/**
 * Where each chunk of `text` starts: every `linesPerChunk` lines, so every
 * chunk but the last ends with a newline. The page renders each chunk as its
 * own block with `content-visibility: auto`, so the browser lays out only the
 * chunks on screen: a 16 MiB file in one text node costs seconds of layout,
 * in chunks a few tens of ms. Returns `[0]` for a text of one chunk or less.
 * @example
 * ```ts
 * chunkStarts("a\nb\nc\n", 2); // [0, 4]
 * ```
 */
export function chunkStarts(text: string, linesPerChunk: number): number[] {
  const starts = [0];
  let lines = 0;
  let i = -1;
  while ((i = text.indexOf("\n", i + 1)) !== -1 && i + 1 < text.length) {
    if (++lines === linesPerChunk) {
      starts.push(i + 1);
      lines = 0;
    }
  }
  return starts;
}

/** How many newlines `text` has from `from` to `to`. */
export function countNewlines(
  text: string,
  from = 0,
  to = text.length,
): number {
  let n = 0;
  let i = from - 1;
  while ((i = text.indexOf("\n", i + 1)) !== -1 && i < to) n++;
  return n;
}

/**
 * How many decimal digits the largest line number of `text` has. A final
 * newline ends the last line; it does not start another.
 */
export function lineNumberDigits(text: string): number {
  return lineCountDigits(countNewlines(text) + (text.endsWith("\n") ? 0 : 1));
}

/** How many decimal digits the line number `lines` has (at least 1). */
export function lineCountDigits(lines: number): number {
  return String(Math.max(1, lines)).length;
}
