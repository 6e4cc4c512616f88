/**
 * Starts the real server as a child process on either runtime, on a free
 * port, waits for its start-up line, and stops it after. The e2e suites run
 * the same cases against every runtime in {@link RUNTIMES}.
 * @module
 */
import { fileURLToPath } from "node:url";

export type RuntimeName = "deno" | "bun";
export const RUNTIMES: readonly RuntimeName[] = (Deno.env.get("FILEWATCH_TEST_RUNTIMES")?.split(",") ??
  ["deno", "bun"]) as RuntimeName[];

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = `${ROOT}node_modules/.bin`;

/**
 * What differs between runtimes, in one place. Every test that depends on a
 * runtime difference reads it from here, so a difference is an explicit,
 * reviewed expectation rather than a skipped test.
 */
export const EXPECT: Record<RuntimeName, {
  /** Close code a client sees when it stops answering pings. */
  pongTimeoutCode: number;
  /** Close code a client sees when it sends a message over the read limit. */
  readLimitCode: number;
  /** `--compress` is accepted (Bun) or refused at start with exit 2 (Deno). */
  compression: boolean;
  /**
   * Status for `Sec-WebSocket-Protocol: x,filewatch.v1` (no space after the
   * comma, as npm `ws` sends it): Deno splits the header on ", " only and
   * cannot confirm the protocol, so the handshake is refused with 400.
   */
  commaListWithoutSpace: 101 | 400;
  /** The mtime's resolution through the runtime's node:fs, in ns (a version's `lastMod` is the mtime in ns). */
  mtimeResolutionNs: bigint;
  /**
   * A streamed body keeps the handler's `Content-Length` (Deno), or goes out
   * chunked without it (Bun 1.4 strips it: oven-sh/bun#10507), e.g. `GET /raw`.
   */
  streamedContentLength: boolean;
  /**
   * `GET http://attacker.example/raw HTTP/1.1` with `Host` naming the server:
   * Deno puts the target's authority in `Request.url`, where the Host check
   * reads it (421); Bun builds the URL from `Host` and drops the target's
   * authority, so the request is the server's own (200). A request whose
   * Host names another host is 421 on both.
   */
  absoluteFormTarget: 421 | 200;
  /**
   * A client that sends its request headers one byte every few seconds is
   * cut off by the runtime's HTTP server within this many seconds (Bun:
   * after about 12), or never (`null`: Deno 2.9 has no header-read timeout;
   * docs/runtimes.md says so, and a proxy in front must bound it).
   */
  slowHeadersCutOffS: number | null;
  /**
   * The search worker's thread's nice value while it searches: 10 where it
   * may lower its own priority (Bun), 0 on Deno as started here, without
   * `--allow-sys` (it rests while the main thread is busy instead;
   * src/search_pool.ts).
   */
  searchWorkerNice: number;
}> = {
  // Deno's idleTimeout closes with 1001 "No response from ping frame."
  deno: {
    pongTimeoutCode: 1001,
    readLimitCode: 1009,
    compression: false,
    commaListWithoutSpace: 400,
    mtimeResolutionNs: 1_000_000n,
    streamedContentLength: true,
    absoluteFormTarget: 421,
    slowHeadersCutOffS: null,
    searchWorkerNice: 0,
  },
  // Our own pong deadline on Bun drops the connection, as gorilla does: 1006.
  bun: {
    pongTimeoutCode: 1006,
    readLimitCode: 1009,
    compression: true,
    commaListWithoutSpace: 101,
    mtimeResolutionNs: 1n,
    streamedContentLength: false,
    absoluteFormTarget: 200,
    slowHeadersCutOffS: 30,
    searchWorkerNice: 10,
  },
};

/** The command line that runs the server on a runtime; `script` in place of its entrypoint (as tests/helpers/lockout_server.ts). */
export function serverCommand(runtime: RuntimeName, script?: string): string[] {
  return runtime === "deno"
    ? [`${BIN}/deno`, "run", "--allow-net", "--allow-read", "--allow-env", script ?? `${ROOT}src/deno.ts`]
    : [`${BIN}/bun`, "run", script ?? `${ROOT}src/bun.ts`];
}

export interface Server {
  runtime: RuntimeName;
  url: string;
  wsUrl: string;
  port: number;
  pid: number;
  file: string;
  stdout: string[];
  stderr: string[];
  /** Sends a signal (SIGTERM by default) and waits for the exit; SIGKILL after 10 s. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
  /** Resolves when the process exits on its own. */
  status: Promise<Deno.CommandStatus>;
}

async function pump(stream: ReadableStream<Uint8Array>, lines: string[], onLine?: (l: string) => void) {
  const dec = new TextDecoder();
  let buf = "";
  for await (const chunk of stream) {
    buf += dec.decode(chunk, { stream: true });
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      lines.push(line);
      onLine?.(line);
    }
  }
  if (buf) {
    lines.push(buf);
    onLine?.(buf);
  }
}

/** Runs the server to completion (for flag errors): exit code and output. */
export async function runServer(
  runtime: RuntimeName,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const [cmd, ...rest] = serverCommand(runtime);
  const out = await new Deno.Command(cmd!, {
    args: [...rest, ...args],
    env: { NO_COLOR: "1", ...env },
    clearEnv: false,
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Starts a server and waits (10 s at most) for `filewatch: watching FILE on URL`. */
export async function startServer(
  runtime: RuntimeName,
  opts: { file: string; args?: string[]; env?: Record<string, string>; port?: number; command?: string[] },
): Promise<Server> {
  const [cmd, ...rest] = opts.command ?? serverCommand(runtime);
  const args = [...rest, "--port", String(opts.port ?? 0), ...(opts.args ?? []), opts.file];
  const child = new Deno.Command(cmd!, {
    args,
    env: { NO_COLOR: "1", ...opts.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout: string[] = [];
  const stderr: string[] = [];
  let resolveUrl!: (u: string) => void;
  const urlP = new Promise<string>((r) => (resolveUrl = r));
  const pumps = Promise.all([
    pump(child.stdout, stdout, (l) => {
      const m = /^filewatch: watching .* on (https?:\/\/\S+\/)$/.exec(l);
      if (m) resolveUrl(m[1]!);
    }),
    pump(child.stderr, stderr),
  ]);
  const status = child.status.then(async (s) => {
    await pumps;
    return s;
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const url = await Promise.race([
    urlP,
    status.then((s) => {
      throw new Error(`server exited (${s.code}) before listening:\n${stderr.join("\n")}`);
    }),
    new Promise<never>((_, rej) => {
      timer = setTimeout(() => rej(new Error(`server did not start in 10s:\n${stderr.join("\n")}`)), 10_000);
    }),
  ]).finally(() => clearTimeout(timer));
  const port = Number(new URL(url).port);
  let stopped: Promise<Deno.CommandStatus> | null = null;
  return {
    runtime,
    url,
    wsUrl: url.replace(/^http/, "ws") + "ws",
    port,
    pid: child.pid,
    file: opts.file,
    stdout,
    stderr,
    status,
    stop(signal: Deno.Signal = "SIGTERM") {
      if (stopped) return stopped;
      try {
        child.kill(signal);
      } catch { /* already exited */ }
      const kill = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
      }, 10_000);
      stopped = status.finally(() => clearTimeout(kill));
      return stopped;
    },
  };
}

/** A new file with `content` in a fresh temporary directory. */
export async function tempFile(content: string | Uint8Array, name = "watched.txt"): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "filewatch-test-" });
  const path = `${dir}/${name}`;
  if (typeof content === "string") await Deno.writeTextFile(path, content);
  else await Deno.writeFile(path, content);
  return path;
}

/** Appends `bytes` to `file` with one write(2) loop on an O_APPEND descriptor: exactly these bytes, at the end. */
export async function appendBytes(file: string, bytes: Uint8Array | string): Promise<void> {
  const f = await Deno.open(file, { append: true });
  try {
    const b = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
    for (let done = 0; done < b.length;) done += await f.write(b.subarray(done));
  } finally {
    f.close();
  }
}

/**
 * Runs `fn` against a server (started with `args`) on a new file holding
 * `content`, in a temporary directory of its own; then stops the server and
 * removes the directory, whatever happened (a server that refuses its flags
 * leaves nothing behind either).
 */
export async function withServer(
  runtime: RuntimeName,
  content: string | Uint8Array,
  args: string[],
  fn: (s: Server) => Promise<void>,
  name?: string,
): Promise<void> {
  const file = await tempFile(content, name);
  try {
    const s = await startServer(runtime, { file, args });
    try {
      await fn(s);
    } finally {
      await s.stop();
    }
  } finally {
    await Deno.remove(file.replace(/\/[^/]+$/, ""), { recursive: true });
  }
}

/** Waits until `cond()` is truthy, polling; throws after `ms`. */
export async function waitFor<T>(
  cond: () => T | Promise<T>,
  ms = 5_000,
  what = "condition",
): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  while (true) {
    const v = await cond();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out after ${ms}ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A raw HTTP/1.1 request over TCP (for handshakes `fetch` cannot make); returns the response head and body. */
export async function rawRequest(
  port: number,
  head: string,
  ms = 5_000,
): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), ms);
  try {
    await conn.write(new TextEncoder().encode(head));
    let text = "";
    const buf = new Uint8Array(64 * 1024);
    const dec = new TextDecoder();
    while (true) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      text += dec.decode(buf.subarray(0, n), { stream: true });
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) continue;
      const lines = text.slice(0, end).split("\r\n");
      const status = Number(lines[0]!.split(" ")[1]);
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(":");
        headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      const len = Number(headers["content-length"] ?? (status === 101 ? 0 : NaN));
      const body = text.slice(end + 4);
      // Content-Length counts bytes, and a page has characters of several bytes.
      const bytes = new TextEncoder().encode(body);
      if (Number.isNaN(len) || bytes.length >= len) {
        return { status, headers, body: Number.isNaN(len) ? body : new TextDecoder().decode(bytes.subarray(0, len)) };
      }
    }
    throw new Error(`connection closed before a full response: ${JSON.stringify(text.slice(0, 200))}`);
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timer or the peer */ }
  }
}

/** A WebSocket handshake request with the given extra headers. */
export function handshake(port: number, extra: Record<string, string> = {}, path = "/ws"): string {
  const h: Record<string, string> = {
    Host: `127.0.0.1:${port}`,
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    ...extra,
  };
  return `GET ${path} HTTP/1.1\r\n` + Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join("") + "\r\n";
}
