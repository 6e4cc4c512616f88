/**
 * Marks on lines, kept per file in `localStorage` so they survive a reload.
 * A mark names a line by the byte in the file where it starts: that stays
 * true as the log grows, in tail mode (whose line numbers count from the
 * window, not the file) and in the large-file view, which reads lines by
 * their offsets. A file replaced by another may leave marks on lines that
 * no longer start there: those simply mark nothing.
 * @module
 */
import type { StorageLike } from "./prefs.ts";

/** The most marks kept per file; beyond it the oldest go. */
export const MAX_MARKS = 10_000;

/**
 * The marked lines of one file.
 * @example
 * ```ts
 * const marks = Marks.open(() => localStorage, "/f/app.log");
 * marks.toggle(1234); // true: marked
 * marks.has(1234);    // true, after a reload too
 * ```
 */
export class Marks {
  readonly #storage: StorageLike | null;
  readonly #key: string;
  #set: Set<number>;

  constructor(storage: StorageLike | null, file: string) {
    this.#storage = storage;
    this.#key = `filewatch.marks:${file}`;
    this.#set = new Set(read(storage, this.#key));
  }

  /** The marks of `file` (a name the page knows its file by, such as its path) in the storage `get` gives; none kept when it throws. */
  static open(get: () => StorageLike, file: string): Marks {
    try {
      return new Marks(get(), file);
    } catch {
      return new Marks(null, file);
    }
  }

  /** How many lines are marked. */
  get size(): number {
    return this.#set.size;
  }

  /** Whether the line starting at byte `offset` is marked. */
  has(offset: number): boolean {
    return this.#set.has(offset);
  }

  /** Marks or unmarks the line starting at byte `offset`; true when it is marked now. */
  toggle(offset: number): boolean {
    const on = !this.#set.delete(offset);
    if (on) {
      this.#set.add(offset);
      // A Set keeps insertion order: the first ones are the oldest.
      for (const old of this.#set) {
        if (this.#set.size <= MAX_MARKS) break;
        this.#set.delete(old);
      }
    }
    try {
      this.#storage?.setItem(this.#key, JSON.stringify([...this.#set]));
    } catch {
      // quota or privacy mode: the marks stay for this visit
    }
    return on;
  }
}

/** The offsets stored under `key`; anything unreadable is no marks. */
function read(storage: StorageLike | null, key: string): number[] {
  try {
    const v: unknown = JSON.parse(storage?.getItem(key) ?? "[]");
    return Array.isArray(v)
      ? v.filter((x): x is number => Number.isSafeInteger(x) && x >= 0).slice(
        -MAX_MARKS,
      )
      : [];
  } catch {
    return [];
  }
}
