/**
 * What the two bare baseline servers share: flags, the one shared poll of the
 * file, and the page. Nothing here names Deno or Bun, so `node:` built-ins
 * only (they work on both runtimes).
 *
 * The baselines are the "limit" filewatch is compared against: the smallest
 * server with the same routes and one shared poll — no Hono, no sessions, no
 * per-client state beyond what the runtime keeps.
 *
 * @module
 */
import { open, readFile, stat } from "node:fs/promises";
import process from "node:process";
import { parseArgs } from "node:util";

/** Options common to both baselines. */
export interface BaselineOptions {
  file: string;
  host: string;
  port: number;
  pollMs: number;
  /** Deno only: how content is handed to `WebSocket.send` (see deno.ts). */
  send: "string" | "bytes";
  /** Deno only: sockets sent to before yielding to the event loop; 0 = all at once. */
  batch: number;
  /** Deno only: set DENO_USE_WRITEV=1 from JS at start-up, before any WebSocket exists. */
  writevEnv: boolean;
  /**
   * Tail mode (0 = off): a new client gets the file's last this many bytes as
   * one text frame, then every client each append's new bytes as one frame
   * (as filewatch's plain clients with `--tail`): what the appends benchmark
   * compares filewatch's memory per connection with.
   */
  tail: number;
}

const USAGE =
  "usage: baseline [--host H] [--port P] [--poll 100ms] [--send string|bytes] [--batch N] [--writev-env] [--tail BYTES] FILE";

/** Parses `500ms`, `2s`, `1m` or a bare number of milliseconds. */
export function parseDurationMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text);
  if (!m) {
    throw new TypeError(
      `Cannot parse duration "${text}": expected a duration like 500ms or 2s`,
    );
  }
  const n = Number(m[1]);
  const unit = m[2] ?? "ms";
  return unit === "ms" ? n : unit === "s" ? n * 1000 : n * 60_000;
}

/** Parses the baseline's flags; exits 2 with the usage line on a bad one. */
export function parseBaselineArgs(args: string[]): BaselineOptions {
  try {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        host: { type: "string", default: "127.0.0.1" },
        port: { type: "string", default: "8080" },
        poll: { type: "string", default: "1s" },
        send: { type: "string", default: "string" },
        batch: { type: "string", default: "0" },
        "writev-env": { type: "boolean", default: false },
        tail: { type: "string", default: "0" },
      },
    });
    const file = positionals[0];
    if (positionals.length !== 1 || file === undefined) {
      throw new TypeError("Cannot start: expected exactly one FILE");
    }
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(`Cannot parse --port "${values.port}": expected 0..65535`);
    }
    if (values.send !== "string" && values.send !== "bytes") {
      throw new TypeError(`Cannot parse --send "${values.send}": expected string or bytes`);
    }
    const batch = Number(values.batch);
    if (!Number.isInteger(batch) || batch < 0) {
      throw new RangeError(`Cannot parse --batch "${values.batch}": expected an integer >= 0`);
    }
    const tail = Number(values.tail);
    if (!Number.isInteger(tail) || tail < 0) {
      throw new RangeError(`Cannot parse --tail "${values.tail}": expected a byte count >= 0`);
    }
    return {
      tail,
      file,
      host: values.host,
      port,
      pollMs: parseDurationMs(values.poll),
      send: values.send,
      batch,
      writevEnv: values["writev-env"],
    };
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    console.error(USAGE);
    process.exit(2);
  }
}

/** One version of the file as the baselines keep it. */
export interface Version {
  mtimeNs: bigint;
  size: number;
  bytes: Uint8Array;
  text: string;
}

/**
 * Polls `file` every `pollMs` with one timer for all clients and calls
 * `onChange` with each new version (mtime or size differ). One poll at a time:
 * a slow read delays the next tick instead of overlapping it.
 */
export function startPoll(
  file: string,
  pollMs: number,
  onChange: (v: Version) => void,
): { first: Promise<Version | null>; stop(): void } {
  const decoder = new TextDecoder();
  let last: { mtimeNs: bigint; size: number } | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const tick = async (): Promise<Version | null> => {
    try {
      const s = await stat(file, { bigint: true });
      if (last && last.mtimeNs === s.mtimeNs && last.size === Number(s.size)) return null;
      const bytes = await readFile(file);
      last = { mtimeNs: s.mtimeNs, size: Number(s.size) };
      const v = { mtimeNs: s.mtimeNs, size: bytes.length, bytes, text: decoder.decode(bytes) };
      onChange(v);
      return v;
    } catch {
      return null; // the baseline ignores read errors: the bench file always exists
    }
  };
  const loop = async () => {
    await tick();
    if (!stopped) timer = setTimeout(loop, pollMs);
  };
  const first = tick().then((v) => {
    if (!stopped) timer = setTimeout(loop, pollMs);
    return v;
  });
  return {
    first,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** What tail mode sends: the window a new client gets, and (when the file grew) the new bytes for everyone. */
export interface TailVersion {
  window: string;
  appended: string | null;
}

/**
 * Tail mode's poll: one shared timer; on a change, reads only what it needs
 * (the last `tailBytes` at the start or after a shrink, else the bytes after
 * the old end) and calls `onChange`. The file is assumed to be text.
 */
export function startTailPoll(
  file: string,
  pollMs: number,
  tailBytes: number,
  onChange: (v: TailVersion) => void,
): { first: Promise<TailVersion | null>; stop(): void } {
  const decoder = new TextDecoder();
  let size = -1;
  let window = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const read = async (from: number, to: number): Promise<string> => {
    const f = await open(file);
    try {
      const buf = new Uint8Array(to - from);
      let done = 0;
      while (done < buf.length) {
        const { bytesRead } = await f.read(buf, done, buf.length - done, from + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return decoder.decode(buf.subarray(0, done));
    } finally {
      await f.close();
    }
  };
  const tick = async (): Promise<TailVersion | null> => {
    try {
      const now = Number((await stat(file)).size);
      if (now === size) return null;
      let v: TailVersion;
      if (size >= 0 && now > size) {
        const appended = await read(size, now);
        window = (window + appended).slice(-tailBytes);
        v = { window, appended };
      } else {
        window = await read(Math.max(0, now - tailBytes), now);
        v = { window, appended: null };
      }
      size = now;
      onChange(v);
      return v;
    } catch {
      return null;
    }
  };
  const loop = async () => {
    await tick();
    if (!stopped) timer = setTimeout(loop, pollMs);
  };
  const first = tick().then((v) => {
    if (!stopped) timer = setTimeout(loop, pollMs);
    return v;
  });
  return {
    first,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** The page for GET /: the content escaped in a <pre> and a script that connects to /ws. */
export function renderPage(text: string): string {
  const escaped = text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
  return `<!doctype html><html><head><meta charset="utf-8"><title>baseline</title></head>
<body><pre id="c">${escaped}</pre><script>
const c = document.getElementById("c");
const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
ws.onmessage = (e) => { c.textContent = e.data; };
</script></body></html>`;
}

/** The start-up line scripts wait for (same as filewatch). */
export function listeningLine(file: string, host: string, port: number): string {
  return `filewatch: watching ${file} on http://${host}:${port}/`;
}
