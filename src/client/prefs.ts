/**
 * The reader's remembered choices (wrap, line numbers, theme) in
 * `localStorage`, under `filewatch.<key>`. Storage can be refused at every
 * step (disabled: the getter throws; privacy mode or a full quota: reads or
 * writes throw): the toggles then still work, just not remembered.
 * @module
 */

/** The part of `Storage` used here. */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/**
 * Remembered choices.
 * @example
 * ```ts
 * const prefs = Prefs.open(() => localStorage);
 * prefs.save("wrap", true);
 * prefs.flag("wrap"); // true
 * ```
 */
export class Prefs {
  readonly #storage: StorageLike | null;

  constructor(storage: StorageLike | null) {
    this.#storage = storage;
  }

  /** Prefs over the storage `get` returns; none (nothing remembered) when it throws. */
  static open(get: () => StorageLike): Prefs {
    try {
      return new Prefs(get());
    } catch {
      return new Prefs(null);
    }
  }

  /** Whether `key` was saved on. */
  flag(key: string): boolean {
    return this.text(key) === "1";
  }

  /** What `key` was saved as (null: nothing, or storage refused). */
  text(key: string): string | null {
    try {
      return this.#storage?.getItem("filewatch." + key) ?? null;
    } catch {
      return null;
    }
  }

  /** Remembers `value` (a flag as "1" or "0") for `key`, if storage lets it. */
  save(key: string, value: boolean | string): void {
    try {
      this.#storage?.setItem("filewatch." + key, typeof value === "string" ? value : value ? "1" : "0");
    } catch {
      // quota or privacy mode: not worth bothering the user
    }
  }
}
