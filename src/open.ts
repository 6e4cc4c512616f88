/**
 * The one guarded way to open a watched path for reading
 * (docs/security.md#several-files): every read of a file filewatch serves
 * (the watcher's, `/raw`'s, and any route that reads parts of a file) opens
 * it through {@link openRegular}, so they all refuse the same things.
 *
 * - FIFOs, sockets and devices are never read: the open does not block
 *   (`O_NONBLOCK`: opening a FIFO for reading would otherwise wait for a
 *   writer, holding a thread of the runtime's pool for as long), and the
 *   type is checked on the descriptor, so a path swapped between a `stat`
 *   and the `open` is caught too.
 * - `noFollow`: a symlink as the last component fails (`O_NOFOLLOW`), for a
 *   real path checked just before.
 * - `singleLink`: a file with more than one hard link is refused. In `--dir`
 *   mode a hard link inside DIR can be a file from anywhere on the same
 *   filesystem; unlike a symlink, nothing in the path says so.
 *
 * Errors carry Node-style codes that `describeError` (src/read.ts) words:
 * `ENOTREG`, `EHARDLINK`, or the open's own (`ENOENT`, `ELOOP`, …).
 * @module
 */
import { constants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";

/** The error for a path that is not a regular file (a FIFO, socket or device): code `ENOTREG`. */
export function notRegular(): Error {
  return Object.assign(new Error("not a regular file"), { code: "ENOTREG" });
}

/** The error for a file with more than one hard link where only single links are served: code `EHARDLINK`. */
export function hardLinked(): Error {
  return Object.assign(new Error("more than one hard link"), { code: "EHARDLINK" });
}

/** What {@link openRegular} refuses besides what is not a regular file. */
export interface GuardOptions {
  /** Fail on a symlink as the last component (`O_NOFOLLOW`). */
  noFollow?: boolean;
  /** Refuse a file with more than one hard link. */
  singleLink?: boolean;
}

/**
 * Opens `path` for reading without blocking, and only when the descriptor
 * is a regular file (or a directory, whose reads fail with `EISDIR`), with
 * at most one link when `singleLink` is set. The caller closes the handle.
 *
 * @example
 * ```ts
 * const fh = await openRegular("/var/log/app.log");
 * try { await fh.read(buf, 0, buf.length, 0); } finally { await fh.close(); }
 * ```
 * @throws the open's error, or {@link notRegular} / {@link hardLinked}
 */
export async function openRegular(path: string, options: GuardOptions = {}): Promise<FileHandle> {
  const flags = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (options.noFollow ? constants.O_NOFOLLOW : 0);
  const fh = await open(path, flags);
  try {
    const st = await fh.stat();
    if (!st.isFile() && !st.isDirectory()) throw notRegular();
    if (options.singleLink && st.isFile() && st.nlink > 1) throw hardLinked();
  } catch (e) {
    await fh.close().catch(() => {});
    throw e;
  }
  return fh;
}

/**
 * Throws {@link hardLinked} for a stat of a regular file with more than one
 * link (a directory always has several; a stat without `nlink`, a test's
 * fake, passes).
 */
function refuseLinked(st: object): void {
  const s = st as { nlink?: bigint | number; isFile?(): boolean };
  if (s.nlink !== undefined && Number(s.nlink) > 1 && s.isFile?.() !== false) throw hardLinked();
}

/** What {@link singleLinkFileOps} wraps: the shape of `FileOps` in src/read.ts, which sits above this module. */
interface StatOpen<S extends object, F extends { stat(): Promise<object>; close(): Promise<void> }> {
  stat(path: string): Promise<S>;
  open(path: string): Promise<F>;
}

/**
 * `base` (a `FileOps`, src/read.ts) refusing files with more than one hard
 * link, on the path's stat and again on the open descriptor: the watcher's
 * reads in `--dir` mode without `--allow-hardlinks`.
 */
export function singleLinkFileOps<S extends object, F extends { stat(): Promise<object>; close(): Promise<void> }>(
  base: StatOpen<S, F>,
): StatOpen<S, F> {
  return {
    async stat(path) {
      const st = await base.stat(path);
      refuseLinked(st);
      return st;
    },
    async open(path) {
      const f = await base.open(path);
      try {
        refuseLinked(await f.stat());
      } catch (e) {
        await f.close().catch(() => {});
        throw e;
      }
      return f;
    },
  };
}
