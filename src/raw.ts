/**
 * `GET /raw`: the watched file's bytes as a download, streamed from a file
 * handle so a large file (tail mode follows logs of any size) is never held
 * in memory whole; a single `Range: bytes=…` gets just those bytes (206), so
 * any part of a file of any size can be fetched (see docs/protocol.md,
 * "Reading any part of the file").
 *
 * The handler takes the file's path and nothing from the request, so the same
 * function serves `/raw` and, per file, `/raw/{name}` (docs/security.md#several-files: the name is
 * looked up in the server's list, never joined to a path):
 *
 * ```ts
 * app.get("/raw", (c) => rawFile(c.req.raw, options.file));
 * app.get("/raw/:name", (c) => { const f = files.get(c.req.param("name")); return f ? rawFile(c.req.raw, f.path) : c.notFound(); });
 * ```
 * @module
 */
import { constants } from "node:fs";
import { type FileHandle, lstat, open, realpath } from "node:fs/promises";
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

/** A byte range to send: `start` to `end`, both included (as in `Content-Range`). */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * What a `Range` header asks of a file of `size` bytes: one range to send
 * (206), `"unsatisfiable"` (416), or null to send the whole file (200) — no
 * header, another unit, a syntax error, several ranges (`bytes=0-1,5-9`:
 * serving them would need a multipart answer; RFC 9110 lets a server ignore
 * Range, and the whole file holds them all), or an empty file (it has no
 * bytes to range over). `a-b` past the end is cut to the end; `-n` is the
 * last n bytes (all of them when n exceeds the size).
 * @example
 * ```ts
 * parseRange("bytes=0-99", 1000);   // { start: 0, end: 99 }
 * parseRange("bytes=-100", 1000);   // { start: 900, end: 999 }
 * parseRange("bytes=1000-", 1000);  // "unsatisfiable"
 * parseRange("bytes=0-1,4-5", 1000); // null
 * ```
 */
export function parseRange(header: string | null, size: number): ByteRange | "unsatisfiable" | null {
  if (header === null) return null;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === "" && m[2] === "")) return null;
  if (size === 0) return null;
  if (m[1] === "") {
    const n = Number(m[2]);
    if (n === 0) return "unsatisfiable";
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const last = m[2] === "" ? Infinity : Number(m[2]);
  if (last < start) return null; // invalid: RFC 9110 says ignore the header
  if (start >= size) return "unsatisfiable";
  return { start, end: Math.min(last, size - 1) };
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

/** A file opened for reading by {@link openForRead}: the handle and what its descriptor's stat said. */
export interface OpenedFile {
  fh: FileHandle;
  size: number;
  /** Device and inode of the open file: who it is, for a line index kept between requests. */
  dev: number;
  ino: number;
  mtimeMs: number;
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
): Promise<OpenedFile | Response> {
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
  let fh: FileHandle;
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
    return { fh, size: Number(s.size), dev: Number(s.dev), ino: Number(s.ino), mtimeMs: Number(s.mtimeMs) };
  } catch (e) {
    await fh.close().catch(() => {});
    return failed(e, name);
  }
}

/**
 * Opens the regular file at `path` for reading, or says why not as the
 * Response to send: 404 when it is missing, 503 with the reason when it
 * cannot be read (permission, not a regular file: a FIFO or device is refused
 * before it is opened, as opening a FIFO would hang), and with `root`
 * (`--dir`'s real path; empty refuses every file) 403 unless its real path is
 * inside DIR when it is opened (see {@link openInside}) and, unless
 * `allowHardlinks`, it has one hard link (a hard link in DIR may be any file
 * of the filesystem: nothing in its path says so). The size and
 * identity come from the open descriptor, so they are the bytes the handle
 * reads. The caller closes `fh`.
 *
 * The routes that read parts of a file (`/raw`, and the ones built on
 * `src/scan/`) open it this way, so they refuse the same files.
 */
export async function openForRead(
  path: string,
  name = basename(path),
  root?: string,
  allowHardlinks = false,
): Promise<OpenedFile | Response> {
  if (root !== undefined) return await openInside(path, root, name, allowHardlinks);
  let fh: FileHandle;
  try {
    // The guarded open every read uses (src/open.ts): non-blocking, the type checked on the descriptor, so a
    // path swapped for a FIFO after any earlier look is refused rather than waited on.
    fh = await openRegular(path);
  } catch (e) {
    return failed(e, name);
  }
  try {
    const s = await fh.stat();
    if (!s.isFile()) throw notRegular();
    return { fh, size: s.size, dev: s.dev, ino: s.ino, mtimeMs: s.mtimeMs };
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
 * name (or `name`), `Accept-Ranges: bytes`, `Cache-Control: no-store` and
 * `nosniff`.
 *
 * A single `Range: bytes=a-b` (or `a-`, `-n`) is answered 206 with those
 * bytes and `Content-Range: bytes a-b/SIZE`; one that starts past the end is
 * 416 with `Content-Range: bytes *\/SIZE`. Several ranges, a malformed header
 * and any `If-Range` (we send no validator it could match) get the whole
 * file, 200 (see {@link parseRange}).
 *
 * A missing file is 404; one that cannot be read (permission, not a regular
 * file) is 503 with the reason: never a 500. With `root` the file must
 * resolve inside it when it is opened, with one hard link unless
 * `allowHardlinks` (see {@link openForRead}).
 */
export async function rawFile(
  req: Request,
  path: string,
  name = basename(path),
  root?: string,
  allowHardlinks = false,
): Promise<Response> {
  const opened = await openForRead(path, name, root, allowHardlinks);
  if (opened instanceof Response) return opened;
  const { fh, size } = opened;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    fh.close().catch(() => {});
  };
  const range = req.headers.has("if-range") ? null : parseRange(req.headers.get("range"), size);
  if (range === "unsatisfiable") {
    close();
    return new Response(`Range Not Satisfiable: ${name} has ${size} bytes\n`, {
      status: 416,
      headers: {
        "Content-Type": "text/plain; charset=utf-8",
        "Content-Range": `bytes */${size}`,
        "Cache-Control": "no-store",
      },
    });
  }
  const start = range?.start ?? 0;
  const end = range ? range.end + 1 : size; // exclusive
  let head: Uint8Array;
  try {
    // The type is the whole file's, whichever part is sent: the start decides it.
    const buf = new Uint8Array(Math.min(SNIFF_BYTES, size));
    const { bytesRead } = buf.length ? await fh.read(buf, 0, buf.length, 0) : { bytesRead: 0 };
    head = buf.subarray(0, bytesRead);
  } catch (e) {
    close();
    return text(503, `Service Unavailable: ${describeError(e, name).message}`);
  }
  const headers: Record<string, string> = {
    "Content-Type": rawContentType(head, size > head.length),
    "Content-Length": String(end - start),
    "Content-Disposition": contentDisposition(name),
    "Accept-Ranges": "bytes",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
  };
  if (range) headers["Content-Range"] = `bytes ${range.start}-${range.end}/${size}`;
  const status = range ? 206 : 200;
  // Hono answers HEAD with the GET handler's response minus its body, which
  // would never be read or cancelled: the handle would stay open until GC.
  if (req.method === "HEAD") {
    close();
    return new Response(null, { status, headers });
  }
  let pos = start;
  const body = new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      try {
        if (pos === 0 && head.length) {
          // The sniffed start is the first chunk when the answer starts at 0.
          const first = head.subarray(0, Math.min(head.length, end));
          pos = first.length;
          ctrl.enqueue(first);
          if (pos < end) return;
        }
        if (pos >= end) {
          close();
          ctrl.close();
          return;
        }
        const buf = new Uint8Array(Math.min(RAW_CHUNK, end - pos));
        const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
        if (bytesRead === 0) {
          // Truncated while we read: end short; Content-Length tells the client it is incomplete.
          close();
          ctrl.error(new Error(`${name}: file shrank while it was read`));
          return;
        }
        pos += bytesRead;
        ctrl.enqueue(buf.subarray(0, bytesRead));
        if (pos >= end) {
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
  return new Response(body, { status, headers });
}
