/**
 * `GET /raw`: the watched file's bytes as a download, streamed from a file
 * handle so a large file (tail mode follows logs of any size) is never held
 * in memory whole.
 *
 * The handler takes the file's path and nothing from the request, so the same
 * function serves `/raw` and, per file, `/raw/{name}` (DESIGN §10: the name is
 * looked up in the server's list, never joined to a path):
 *
 * ```ts
 * app.get("/raw", (c) => rawFile(c.req.raw, options.file));
 * app.get("/raw/:name", (c) => { const f = files.get(c.req.param("name")); return f ? rawFile(c.req.raw, f.path) : c.notFound(); });
 * ```
 * @module
 */
import { constants } from "node:fs";
import { lstat, open, realpath } from "node:fs/promises";
import { basename, sep } from "node:path";
import { notRegular, openRegular } from "./open.ts";
import { describeError } from "./read.ts";

/** Bytes read per pull: big enough to keep a fast client busy, small enough to keep memory flat. */
export const RAW_CHUNK = 64 * 1024;
/** How much of the file's start decides its Content-Type (see {@link rawContentType}). */
export const SNIFF_BYTES = 64 * 1024;

/**
 * The Content-Type for a file that starts with `head`: UTF-8 text as
 * `text/plain; charset=utf-8`, anything else as `application/octet-stream`.
 * Only the start is checked (the file may be huge); a character cut at the
 * end of `head` does not count as invalid when `more` says the file goes on.
 */
export function rawContentType(head: Uint8Array, more: boolean): string {
  let bytes = head;
  if (more) {
    // Back off a UTF-8 sequence the cut may have split (at most 3 bytes of it).
    let i = bytes.length;
    let back = 0;
    while (i > 0 && back < 3 && (bytes[i - 1]! & 0xc0) === 0x80) {
      i--;
      back++;
    }
    if (i > 0 && bytes[i - 1]! >= 0xc0) bytes = bytes.subarray(0, i - 1);
  }
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return "text/plain; charset=utf-8";
  } catch {
    return "application/octet-stream";
  }
}

/**
 * `Content-Disposition: attachment` naming `name`: an ASCII `filename` for old
 * clients (other characters as `_`) and, when the name is not plain ASCII,
 * RFC 6266's `filename*=UTF-8''…` with the real name percent-encoded.
 * @example
 * ```ts
 * contentDisposition("app.log");   // 'attachment; filename="app.log"'
 * contentDisposition("журнал.log"); // `attachment; filename="______.log"; filename*=UTF-8''%D0%B6...`
 * ```
 */
export function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\%]/g, "_");
  if (ascii === name) return `attachment; filename="${name}"`;
  // encodeURIComponent leaves ' ( ) * ! which RFC 5987's attr-char does not allow.
  const star = encodeURIComponent(name).replace(/['()*!]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
  return `attachment; filename="${ascii}"; filename*=UTF-8''${star}`;
}

const text = (status: number, body: string) =>
  new Response(body + "\n", {
    status,
    headers: { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store" },
  });

/** A failed stat, realpath or open as 404 (gone) or 503 (cannot be read), with the reason. */
function failed(e: unknown, name: string): Response {
  const { code, message } = describeError(e, name);
  return code === "ENOENT" || code === "ENOTDIR"
    ? text(404, `Not Found: ${message}`)
    : text(503, `Service Unavailable: ${message}`);
}

/**
 * Opens the file at `path` only if it is a regular file inside `root` (a
 * real path) at the moment it is opened, closing as much of the race with a
 * writer in DIR as a path API allows: the real path is checked, its last
 * component is opened with `O_NOFOLLOW` (a symlink put there since fails),
 * and the descriptor's device and inode must be those the check stat'ed. A
 * file outside is 403; one that changed between the check and the open is
 * 503 (a rotation, or an attempt: either way, ask again). What is left is
 * documented in docs/security.md ("Several files").
 */
async function openInside(
  path: string,
  root: string,
  name: string,
  allowHardlinks: boolean,
): Promise<{ fh: Awaited<ReturnType<typeof open>>; size: number } | Response> {
  const outside = () => text(403, `Forbidden: ${name}: not in the watched directory`);
  const changed = () => text(503, `Service Unavailable: ${name}: changed while it was opened, try again`);
  let real: string;
  let checked: { dev: bigint; ino: bigint };
  try {
    real = await realpath(path);
    if (!root || !real.startsWith(root + sep)) return outside(); // an empty root: DIR's path unknown, refuse
    const s = await lstat(real, { bigint: true });
    if (s.isSymbolicLink()) return changed();
    if (!s.isFile()) return text(503, `Service Unavailable: ${name}: not a regular file`);
    checked = s;
  } catch (e) {
    return failed(e, name);
  }
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    return (e as { code?: string })?.code === "ELOOP" ? changed() : failed(e, name);
  }
  try {
    const s = await fh.stat({ bigint: true });
    if (s.dev !== checked.dev || s.ino !== checked.ino) {
      await fh.close().catch(() => {});
      return changed();
    }
    // A hard link in DIR may be any file of the filesystem: nothing in its path says so (src/open.ts).
    if (!allowHardlinks && s.nlink > 1n) {
      await fh.close().catch(() => {});
      return text(403, `Forbidden: ${name}: has more than one hard link (--allow-hardlinks serves it)`);
    }
    return { fh, size: Number(s.size) };
  } catch (e) {
    await fh.close().catch(() => {});
    return failed(e, name);
  }
}

/**
 * The response to `GET /raw` (or `HEAD`) for the file at `path`: its bytes as
 * they are when the request comes (up to the size it has then: a log that
 * grows meanwhile is not chased), with `Content-Length`, a Content-Type from
 * {@link rawContentType}, `Content-Disposition: attachment` with the base
 * name (or `name`), `Cache-Control: no-store` and `nosniff`.
 *
 * A missing file is 404; one that cannot be read (permission, not a regular
 * file) is 503 with the reason: never a 500. A FIFO or device is refused
 * before it is opened (opening a FIFO would hang).
 *
 * With `root` (`--dir`'s real path; empty refuses every file) the file must resolve inside it when it
 * is opened, not only when DIR was listed: a listed file swapped for a
 * symlink out of DIR is 403 (see {@link openInside}), and so is one with
 * more than one hard link unless `allowHardlinks`. Without `root` the file
 * is opened the guarded way every read uses ({@link openRegular}): a path
 * swapped for a FIFO after any earlier look is refused, not waited on.
 */
export async function rawFile(
  req: Request,
  path: string,
  name = basename(path),
  root?: string,
  allowHardlinks = false,
): Promise<Response> {
  let size: number;
  let fh: Awaited<ReturnType<typeof open>>;
  if (root !== undefined) {
    const r = await openInside(path, root, name, allowHardlinks);
    if (r instanceof Response) return r;
    ({ fh, size } = r);
  } else {
    try {
      fh = await openRegular(path);
    } catch (e) {
      return failed(e, name);
    }
    try {
      const s = await fh.stat();
      if (!s.isFile()) throw notRegular();
      size = s.size;
    } catch (e) {
      await fh.close().catch(() => {});
      return failed(e, name);
    }
  }
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    fh.close().catch(() => {});
  };
  let head: Uint8Array;
  try {
    const buf = new Uint8Array(Math.min(SNIFF_BYTES, size));
    const { bytesRead } = buf.length ? await fh.read(buf, 0, buf.length, 0) : { bytesRead: 0 };
    head = buf.subarray(0, bytesRead);
  } catch (e) {
    close();
    return text(503, `Service Unavailable: ${describeError(e, name).message}`);
  }
  const headers = {
    "Content-Type": rawContentType(head, size > head.length),
    "Content-Length": String(size),
    "Content-Disposition": contentDisposition(name),
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
  };
  // Hono answers HEAD with the GET handler's response minus its body, which
  // would never be read or cancelled: the handle would stay open until GC.
  if (req.method === "HEAD") {
    close();
    return new Response(null, { status: 200, headers });
  }
  let pos = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      try {
        if (pos === 0 && head.length) {
          pos = head.length;
          ctrl.enqueue(head);
          if (pos < size) return;
        }
        if (pos >= size) {
          close();
          ctrl.close();
          return;
        }
        const buf = new Uint8Array(Math.min(RAW_CHUNK, size - pos));
        const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
        if (bytesRead === 0) {
          // Truncated while we read: end short; Content-Length tells the client it is incomplete.
          close();
          ctrl.error(new Error(`${name}: file shrank while it was read`));
          return;
        }
        pos += bytesRead;
        ctrl.enqueue(buf.subarray(0, bytesRead));
        if (pos >= size) {
          close();
          ctrl.close();
        }
      } catch (e) {
        close();
        ctrl.error(e);
      }
    },
    cancel() {
      close();
    },
  }, { highWaterMark: 1 });
  return new Response(body, { status: 200, headers });
}
