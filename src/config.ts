/**
 * Command-line flags and `FILEWATCH_*` environment variables, validated into
 * {@link Options}. Knows no runtime: callers pass `argv` and the environment.
 *
 * @example
 * ```ts
 * const options = parseConfig(["--port", "0", "app.log"], {});
 * options.port; // 0
 * ```
 * @module
 */
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { parseBasePath } from "./mount.ts";
import { type Cidr, parseCidrList } from "./proxy.ts";
import { globTest } from "./names.ts";

/** Everything the server can be told, after validation. Durations are milliseconds. */
export interface Options {
  /** The first FILE, or DIR with --dir (what the start-up line names). */
  file: string;
  /** Several files (DESIGN §10): the FILE arguments, in order (empty with --dir). */
  files: string[];
  /** --dir: watch the regular files directly in this directory (null: the FILE list). */
  dir: string | null;
  /** --glob: which of DIR's files are listed (default `*`). */
  glob: string;
  /** --max-files: the most files listed. */
  maxFiles: number;
  host: string;
  /** 0 = any free port. */
  port: number;
  /** filePeriod: how often the file's stat is polled. */
  poll: number;
  /** A client that answers no ping for this long is closed. */
  pongWait: number;
  /** How often pings go out: 9/10 of pongWait, so a pong can arrive before the deadline. */
  pingPeriod: number;
  /** A client that cannot take a write for this long is closed. */
  writeWait: number;
  /** Largest client message in bytes; larger closes with 1009. */
  readLimit: number;
  /** Extra allowed Origins (exact match); `*` allows every origin. */
  origins: string[];
  compress: boolean;
  maxClients: number;
  /** 0 = no per-address cap. */
  maxClientsPerIp: number;
  maxFileSize: number;
  /**
   * Tail mode: clients get the file's last this many bytes, then appends;
   * `maxFileSize` does not apply. 0 = off (the whole file).
   */
  tail: number;
  /** Watch the parent directory for file events (polling always runs too). */
  events: boolean;
  logFormat: "text" | "json";
  quiet: boolean;
  // ---- access (DESIGN §11) ----
  /** htpasswd file of bcrypt hashes; null = no authentication. */
  authFile: string | null;
  /** PEM certificate and key for https/wss; both or neither. */
  tlsCert: string | null;
  tlsKey: string | null;
  /** Where the app is mounted, without a trailing slash: "" = the root. */
  basePath: string;
  /** Peers whose X-Forwarded-* headers are believed; empty = none. */
  trustProxy: Cidr[];
  /** Server processes sharing the port (DESIGN §12); more than 1 runs a supervisor (src/supervisor.ts). */
  workers: number;
  /** This process's worker number when a supervisor started it (never a flag); null otherwise. */
  worker: number | null;
}

/** Thrown for a bad flag or variable; the entrypoint prints it and exits 2. */
export class ConfigError extends TypeError {
  override name = "ConfigError";
}

/** Thrown for `--help`: the entrypoint prints usage and exits 0. */
export class HelpRequested extends Error {
  override name = "HelpRequested";
}

/** The usage line printed after an error. */
export const USAGE = "usage: filewatch [options] FILE...   (filewatch --help for the options)";

/** The full `--help` text. */
export const HELP = `filewatch: show a file live in the browser over WebSocket

usage: filewatch [options] FILE...
       filewatch [options] --dir DIR [--glob PATTERN]

Every option is also an environment variable; flags win.
  FILE...                     files to watch                   FILEWATCH_FILE
  --dir DIR                   watch the files in DIR, also
                              those created later              FILEWATCH_DIR
  --glob PATTERN              which files of DIR (*)           FILEWATCH_GLOB
  --max-files N               most files listed (1000)         FILEWATCH_MAX_FILES
  --host HOST                 address to bind (127.0.0.1)      FILEWATCH_HOST
  --port N                    port, 0 = any free (8080)        FILEWATCH_PORT
  --poll DURATION             stat poll period (1s)            FILEWATCH_POLL
  --pong-wait DURATION        close clients silent this long (60s); pings
                              go out every 9/10 of it          FILEWATCH_PONG_WAIT
  --write-wait DURATION       close clients that cannot take a
                              write this long (10s)            FILEWATCH_WRITE_WAIT
  --read-limit SIZE           largest client message (512)     FILEWATCH_READ_LIMIT
  --origin ORIGIN             allow this Origin too; repeatable;
                              * allows all (same-origin only)  FILEWATCH_ORIGINS (comma-separated)
  --compress                  permessage-deflate (Bun only)    FILEWATCH_COMPRESS=1
  --max-clients N             connection limit (10000)         FILEWATCH_MAX_CLIENTS
  --max-clients-per-ip N      per-address limit, 0 = none (64) FILEWATCH_MAX_CLIENTS_PER_IP
  --max-file-size SIZE        larger files are an error, at
                              most 64MiB (16MiB)               FILEWATCH_MAX_FILE_SIZE
  --tail SIZE                 follow a log of any size: send its last
                              SIZE bytes, then appends (off)   FILEWATCH_TAIL
  --no-events                 poll only, no file events        FILEWATCH_NO_EVENTS=1
  --log-format text|json      log format (text)                FILEWATCH_LOG_FORMAT
  --quiet                     log warnings and errors only     FILEWATCH_QUIET=1
  --auth-file FILE            require HTTP Basic credentials from
                              this htpasswd file (bcrypt, as
                              htpasswd -B writes) (off)        FILEWATCH_AUTH_FILE
  --tls-cert FILE             serve https/wss with this PEM
                              certificate (chain) (off)        FILEWATCH_TLS_CERT
  --tls-key FILE              and this PEM private key         FILEWATCH_TLS_KEY
  --base-path /PREFIX         serve every route under /PREFIX/ (/)
                                                               FILEWATCH_BASE_PATH
  --trust-proxy CIDR,...      believe X-Forwarded-For/-Host/-Proto
                              from these peers only (none)     FILEWATCH_TRUST_PROXY
  --workers N|auto            server processes on one port
                              (Linux), auto = one per core (1) FILEWATCH_WORKERS
  -h, --help                  this text

DURATION: 500ms, 10s, 1m, 1.5s.  SIZE: bytes, or 64KiB, 16MiB, 1GiB (also KB, MB).
`;

/** Defaults, gorilla's constants where it has them (filePeriod is 1 s here, gorilla's 10 s). */
export const DEFAULTS = {
  host: "127.0.0.1",
  port: 8080,
  poll: 1_000,
  pongWait: 60_000,
  writeWait: 10_000,
  readLimit: 512,
  maxClients: 10_000,
  maxClientsPerIp: 64,
  maxFileSize: 16 * 1024 * 1024,
  glob: "*",
  maxFiles: 1_000,
} as const;

/**
 * The largest `--max-file-size`. A version goes out as one message, and a
 * filewatch.v1 message is one JavaScript string: Deno's (V8's) longest is
 * about 512 Mi characters, and JSON can write one byte as six (`\u0001`), as
 * can the page's HTML escaping (`&quot;`). 64 MiB stays clear of that on
 * both runtimes; larger logs are followed with `--tail`.
 */
export const MAX_FILE_SIZE = 64 * 1024 * 1024;

/**
 * The largest `--tail`: the window goes out as one message, and the watcher
 * keeps up to twice it per file.
 */
export const MAX_TAIL = 64 * 1024 * 1024;

/** The most `--workers`: far more than cores only adds memory and context switches. */
export const MAX_WORKERS = 64;

/** `--workers`: a count, or `auto` for one per core. */
export function parseWorkers(text: string): number {
  if (text.trim() === "auto") return Math.min(MAX_WORKERS, Math.max(1, availableParallelism()));
  return parseCount(text, 1, MAX_WORKERS);
}

/** pingPeriod from pongWait. Must be less than pongWait, as in gorilla's example. */
export function pingPeriodOf(pongWait: number): number {
  return Math.floor((pongWait * 9) / 10);
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * Parses `500ms`, `10s`, `1m`, `1.5s`, `2h` into milliseconds.
 * A bare number is refused: a unit is what makes `10` unambiguous.
 * @throws {RangeError} when the text is not such a duration
 */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (!m) throw new RangeError("expected a duration like 500ms, 10s or 1m");
  const ms = Number(m[1]) * DURATION_UNITS[m[2]!]!;
  if (!Number.isFinite(ms) || ms > 2 ** 31 - 1) throw new RangeError("duration is too long");
  return Math.round(ms);
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  kb: 1_000,
  mb: 1_000_000,
  gb: 1_000_000_000,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/**
 * Parses `512`, `64KiB`, `16MiB`, `1GB` into bytes (units are case-insensitive).
 * @throws {RangeError} when the text is not such a size
 */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new RangeError("expected a size like 512, 64KiB or 16MiB");
  const bytes = Math.floor(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw new RangeError("size is too large");
  return bytes;
}

function parseCount(text: string, min: number, max: number): number {
  if (!/^\d+$/.test(text.trim())) throw new RangeError("expected a whole number");
  const n = Number(text.trim());
  if (n < min || n > max) throw new RangeError(`expected a number from ${min} to ${max}`);
  return n;
}

function parseBool(text: string): boolean {
  const t = text.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(t)) return true;
  if (["0", "false", "no", "off", ""].includes(t)) return false;
  throw new RangeError("expected 1 or 0 (true or false)");
}

/** Wraps a parser so its failure names the flag and quotes the value, Deno std style. */
function field<T>(what: string, value: string, parse: (v: string) => T): T {
  try {
    return parse(value);
  } catch (e) {
    throw new ConfigError(`Cannot parse ${what} "${value}": ${(e as Error).message}`);
  }
}

/** The origin check refuses anything but an exact `scheme://host[:port]` or `*`. */
function parseOrigin(text: string): string {
  if (text === "*") return text;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new RangeError("expected an origin like https://example.com or *");
  }
  if (url.origin === "null" || url.origin !== text.replace(/\/$/, "")) {
    throw new RangeError("expected an origin like https://example.com (scheme, host, optional port; no path)");
  }
  return url.origin;
}

/** The flags `parseConfig` accepts (node:util parseArgs options); `--help` and docs/configuration.md list the same ones. */
export const FLAGS = {
  dir: { type: "string" },
  glob: { type: "string" },
  "max-files": { type: "string" },
  host: { type: "string" },
  port: { type: "string" },
  poll: { type: "string" },
  "pong-wait": { type: "string" },
  "write-wait": { type: "string" },
  "read-limit": { type: "string" },
  origin: { type: "string", multiple: true },
  compress: { type: "boolean" },
  "max-clients": { type: "string" },
  "max-clients-per-ip": { type: "string" },
  "max-file-size": { type: "string" },
  tail: { type: "string" },
  "no-events": { type: "boolean" },
  "log-format": { type: "string" },
  quiet: { type: "boolean" },
  "auth-file": { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "base-path": { type: "string" },
  "trust-proxy": { type: "string" },
  workers: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/**
 * Flags and environment → validated options.
 * @param argv the arguments after the program name
 * @param env the process environment (only `FILEWATCH_*` is read)
 * @throws {ConfigError} for a bad value, with a one-line reason
 * @throws {HelpRequested} for `--help`
 */
export function parseConfig(argv: string[], env: Record<string, string | undefined>): Options {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: FLAGS, allowPositionals: true, strict: true });
  } catch (e) {
    // node:util's messages are long and multi-line; keep the first line, which names the flag.
    const first = String((e as Error).message).split("\n")[0]!.replace(/\. To specify.*$/, "");
    throw new ConfigError(first);
  }
  const { values: v, positionals } = parsed;
  if (v.help) throw new HelpRequested();

  /** A flag's value, else its variable's, else undefined. */
  const pick = (flag: string | undefined, name: string): [string, string] | undefined => {
    if (flag !== undefined) return [flag, `--${name}`];
    const envName = "FILEWATCH_" + name.toUpperCase().replaceAll("-", "_");
    const e = env[envName];
    return e !== undefined && e !== "" ? [e, envName] : undefined;
  };
  const get = <T>(flag: string | undefined, name: string, parse: (s: string) => T, dflt: T): T => {
    const p = pick(flag, name);
    return p ? field(p[1], p[0], parse) : dflt;
  };
  const flagOrEnvBool = (flag: boolean | undefined, envName: string): boolean =>
    flag ?? (env[envName] !== undefined ? field(envName, env[envName]!, parseBool) : false);

  // Several files (DESIGN §10): a list of FILEs, or --dir; not both (a directory's
  // names could then collide with a listed file's and rename it while it is viewed).
  const dirPick = pick(v.dir, "dir");
  const dir = dirPick?.[0] ?? null;
  const files = positionals.length > 0 ? positionals : dir === null && env.FILEWATCH_FILE ? [env.FILEWATCH_FILE] : [];
  if (dir !== null && positionals.length > 0) {
    throw new ConfigError(
      `Cannot use FILE "${positionals[0]}" with ${dirPick![1]} "${dir}": give a list of files or a directory`,
    );
  }
  if (dir === null && files.length === 0) {
    throw new ConfigError("Missing FILE: name the file to watch (or set FILEWATCH_FILE, or use --dir)");
  }
  const file = dir ?? files[0]!;
  const glob = get(v.glob, "glob", (s) => {
    if (s.includes("/")) throw new RangeError("expected a pattern for names in DIR (no /)");
    globTest(s);
    return s;
  }, DEFAULTS.glob as string);
  const maxFiles = get(v["max-files"], "max-files", (s) => parseCount(s, 1, 100_000), DEFAULTS.maxFiles as number);
  if (files.length > maxFiles) {
    throw new ConfigError(`Cannot watch ${files.length} files: more than --max-files (${maxFiles})`);
  }

  const pongWait = get(v["pong-wait"], "pong-wait", parseDuration, DEFAULTS.pongWait);
  if (pongWait < 100) {
    throw new ConfigError(
      `Cannot use --pong-wait "${v["pong-wait"] ?? env.FILEWATCH_PONG_WAIT}": must be at least 100ms`,
    );
  }
  const poll = get(v.poll, "poll", parseDuration, DEFAULTS.poll);
  if (poll < 10) throw new ConfigError(`Cannot use --poll "${v.poll ?? env.FILEWATCH_POLL}": must be at least 10ms`);
  const writeWait = get(v["write-wait"], "write-wait", parseDuration, DEFAULTS.writeWait);
  if (writeWait < 10) {
    throw new ConfigError(
      `Cannot use --write-wait "${v["write-wait"] ?? env.FILEWATCH_WRITE_WAIT}": must be at least 10ms`,
    );
  }

  const envOrigins = env.FILEWATCH_ORIGINS?.split(",").map((s) => s.trim()).filter(Boolean);
  const originList = v.origin ?? envOrigins ?? [];
  const originWhat = v.origin ? "--origin" : "FILEWATCH_ORIGINS";

  const logFormat = get(v["log-format"], "log-format", (s) => {
    if (s !== "text" && s !== "json") throw new RangeError("expected text or json");
    return s;
  }, "text" as "text" | "json");

  // ---- access (DESIGN §11) ----
  const tlsCert = get(v["tls-cert"], "tls-cert", (s) => s, null as string | null);
  const tlsKey = get(v["tls-key"], "tls-key", (s) => s, null as string | null);
  if ((tlsCert === null) !== (tlsKey === null)) {
    throw new ConfigError(
      `Cannot use ${tlsCert === null ? "--tls-key" : "--tls-cert"} alone: give both --tls-cert and --tls-key`,
    );
  }
  const access = {
    authFile: get(v["auth-file"], "auth-file", (s) => s, null as string | null),
    tlsCert,
    tlsKey,
    basePath: get(v["base-path"], "base-path", parseBasePath, ""),
    trustProxy: get(v["trust-proxy"], "trust-proxy", parseCidrList, [] as Cidr[]),
  };

  return {
    ...access,
    file,
    files,
    dir,
    glob,
    maxFiles,
    host: get(v.host, "host", (s) => {
      if (!/^[\w.:\-\[\]]+$/.test(s)) throw new RangeError("expected an IP address or host name");
      return s.replace(/^\[(.*)\]$/, "$1");
    }, DEFAULTS.host),
    port: get(v.port, "port", (s) => parseCount(s, 0, 65535), DEFAULTS.port),
    poll,
    pongWait,
    pingPeriod: pingPeriodOf(pongWait),
    writeWait,
    readLimit: get(v["read-limit"], "read-limit", (s) => {
      const n = parseSize(s);
      if (n < 1 || n > 64 * 1024 * 1024) throw new RangeError("expected a size from 1 byte to 64MiB");
      return n;
    }, DEFAULTS.readLimit),
    origins: originList.map((o) => field(originWhat, o, parseOrigin)),
    compress: flagOrEnvBool(v.compress, "FILEWATCH_COMPRESS"),
    maxClients: get(v["max-clients"], "max-clients", (s) => parseCount(s, 1, 1_000_000), DEFAULTS.maxClients),
    maxClientsPerIp: get(
      v["max-clients-per-ip"],
      "max-clients-per-ip",
      (s) => parseCount(s, 0, 1_000_000),
      DEFAULTS.maxClientsPerIp,
    ),
    maxFileSize: get(v["max-file-size"], "max-file-size", (s) => {
      const n = parseSize(s);
      if (n < 1 || n > MAX_FILE_SIZE) {
        throw new RangeError("expected a size from 1 byte to 64MiB (the largest file sent as one message; see --tail)");
      }
      return n;
    }, DEFAULTS.maxFileSize),
    tail: get(v.tail, "tail", (s) => {
      const n = parseSize(s);
      if (n < 1024 || n > MAX_TAIL) throw new RangeError("expected a size from 1KiB to 64MiB");
      return n;
    }, 0),
    events: !flagOrEnvBool(v["no-events"], "FILEWATCH_NO_EVENTS"),
    logFormat,
    quiet: flagOrEnvBool(v.quiet, "FILEWATCH_QUIET"),
    workers: get(v.workers, "workers", parseWorkers, 1),
    worker: null,
  };
}
