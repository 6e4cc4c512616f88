/**
 * The text on screen as lines, for the filter and the diff. Kept up to date
 * as the text grows and drops its oldest lines, so an append costs what it
 * adds, not a new split of the whole text.
 * @module
 */
import { countNewlines } from "../shared/chunks.ts";

/**
 * `text` cut into lines: a final newline ends the last line, it does not start
 * an empty one; a text that does not end with a newline has an open last line.
 */
export function splitLines(text: string): string[] {
  if (text === "") return [];
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/** The lines on screen, and the number of the first one. */
export class Lines {
  /** The lines; the last one is still open (no newline yet) when {@link open}. */
  lines: string[];
  /** The last line has no newline yet: the next text continues it. */
  open: boolean;
  /** Number of the first line, minus one: lines dropped from the front so far. */
  base: number;

  constructor(text: string, base = 0) {
    this.lines = splitLines(text);
    this.open = text !== "" && !text.endsWith("\n");
    this.base = base;
  }

  /** How many lines there are. */
  get length(): number {
    return this.lines.length;
  }

  /**
   * Adds `text` at the end; returns the index of the first line that changed
   * (the open last line when `text` continues it).
   */
  extend(text: string): number {
    if (text === "") return this.lines.length;
    const more = splitLines(text);
    let first = this.lines.length;
    if (this.open && this.lines.length > 0) {
      first--;
      // "abc" + "\n…": the open line ends; splitLines gives "" for it first.
      const head = text.startsWith("\n") ? "" : more.shift() ?? "";
      this.lines[first] += head;
      if (text.startsWith("\n")) more.shift();
    }
    for (const l of more) this.lines.push(l);
    this.open = !text.endsWith("\n");
    return first;
  }

  /** Removes `text`, which the lines start with, from the front. */
  dropFront(text: string): void {
    if (text === "") return;
    const whole = countNewlines(text);
    this.lines.splice(0, whole);
    this.base += whole;
    const cut = text.length - (text.lastIndexOf("\n") + 1);
    if (cut > 0 && this.lines.length > 0) this.lines[0] = this.lines[0]!.slice(cut);
    if (this.lines.length === 0) this.open = false;
  }
}
