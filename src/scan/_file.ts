/**
 * What the scan modules need of an open file, and positioned reads over it.
 * A node:fs `FileHandle` is one; tests can pass their own.
 * @module
 */

/** The part of a node:fs `FileHandle` the scan modules use: positioned reads. */
export interface ReadHandle {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
}

/** A handle the line index opens for itself (and closes when it is done). */
export interface IndexHandle extends ReadHandle {
  stat(): Promise<{ dev: number | bigint; ino: number | bigint; size: number | bigint }>;
  close(): Promise<void>;
}

/** Who a file is and how big: the descriptor's stat at one moment. */
export interface FileState {
  dev: number;
  ino: number;
  size: number;
}

/**
 * Reads `len` bytes at file offset `pos` into `buf` from `at` (several reads
 * if the system returns fewer); returns how many there were (fewer at the
 * end of the file).
 */
export async function readFully(
  fh: ReadHandle,
  buf: Uint8Array,
  at: number,
  len: number,
  pos: number,
): Promise<number> {
  let n = 0;
  while (n < len) {
    const { bytesRead } = await fh.read(buf, at + n, len - n, pos + n);
    if (bytesRead === 0) break;
    n += bytesRead;
  }
  return n;
}
