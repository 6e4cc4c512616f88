/**
 * FNV-1a, 64 bits, over bytes, in a form that can be extended: hashing a
 * file and then the bytes appended to it gives the same value as hashing the
 * grown file from the start, so a growing log costs a hash of its new bytes
 * only. Version tokens carry it (src/version.ts).
 *
 * Written here rather than taken from npm: it is a dozen lines, and the
 * packages that have it either want BigInt per byte (slow) or only 32 bits.
 * The 64-bit state is kept in four 16-bit limbs so every product stays an
 * exact integer in a double.
 * @module
 */

/** FNV-1a's 64-bit offset basis, 0xcbf29ce484222325, as four 16-bit limbs (low first). */
const BASIS = [0x2325, 0x8422, 0x9ce4, 0xcbf2] as const;

/**
 * A running FNV-1a 64 hash.
 * @example
 * ```ts
 * const h = new Fnv64().update(new TextEncoder().encode("a"));
 * h.hex(); // "af63dc4c8601ec8c" (FNV-1a 64 of "a")
 * ```
 */
export class Fnv64 {
  #h0: number = BASIS[0];
  #h1: number = BASIS[1];
  #h2: number = BASIS[2];
  #h3: number = BASIS[3];

  /** Feeds bytes; returns this. */
  update(bytes: Uint8Array): this {
    let h0 = this.#h0, h1 = this.#h1, h2 = this.#h2, h3 = this.#h3;
    for (let i = 0; i < bytes.length; i++) {
      h0 ^= bytes[i]!;
      // × the FNV prime 2^40 + 0x1b3: limb products with 0x1b3, plus the
      // input shifted left by 40 bits (limb 2 and 3 gain limbs 0 and 1 << 8).
      const t0 = h0 * 0x1b3;
      const t1 = h1 * 0x1b3 + (t0 >>> 16);
      const t2 = h2 * 0x1b3 + (h0 << 8) + (t1 >>> 16);
      const t3 = h3 * 0x1b3 + (h1 << 8) + (t2 >>> 16);
      h0 = t0 & 0xffff;
      h1 = t1 & 0xffff;
      h2 = t2 & 0xffff;
      h3 = t3 & 0xffff;
    }
    this.#h0 = h0;
    this.#h1 = h1;
    this.#h2 = h2;
    this.#h3 = h3;
    return this;
  }

  /** A copy that can be extended without changing this one. */
  clone(): Fnv64 {
    const c = new Fnv64();
    c.#h0 = this.#h0;
    c.#h1 = this.#h1;
    c.#h2 = this.#h2;
    c.#h3 = this.#h3;
    return c;
  }

  /** The hash so far, 16 lowercase hex digits. */
  hex(): string {
    return [this.#h3, this.#h2, this.#h1, this.#h0].map((l) => l.toString(16).padStart(4, "0")).join("");
  }
}
