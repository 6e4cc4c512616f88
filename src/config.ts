/**
 * Command-line flags and `FILEWATCH_*` environment variables, validated into
 * {@link Options}. Knows no runtime: callers pass `argv` and the environment.
 *
 * Every flag is one entry of {@link TABLE}: its parse options for
 * `node:util` `parseArgs` ({@link FLAGS}), its lines in `--help`
 * ({@link HELP}), its field and type in {@link Options}, its default
 * ({@link DEFAULTS}) and its checks all come from that entry. Rules between
 * flags are in `RULES`; the FILE arguments are the one input that is not a
 * flag. docs/configuration.md lists the same flags (tests/unit/docs.test.ts
 * compares it with `--help`).
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
import { parseHostList } from "./host.ts";

/** Thrown for a bad flag or variable; the entrypoint prints it and exits 2. */
export class ConfigError extends TypeError {
  override name = "ConfigError";
}

/** Thrown for a flag that prints something and exits 0 instead of serving: the entrypoint writes `text` to stdout. */
export class PrintAndExit extends Error {
  override name = "PrintAndExit";
  constructor(readonly text: string) {
    super();
  }
}

/** Thrown for `--help`: the entrypoint prints {@link HELP} and exits 0. */
export class HelpRequested extends PrintAndExit {
  override name = "HelpRequested";
  constructor() {
    super(HELP);
  }
}

/**
 * What `--version` prints: package.json's `version`, written here so that
 * every way to run has it without reading package.json at run time (the Deno
 * image and the single executable carry none). tests/e2e/install.test.ts
 * compares the two.
 */
export const PACKAGE_VERSION = "0.1.0";

/** The usage line printed after an error. */
export const USAGE = "usage: filewatch [options] FILE...   (filewatch --help for the options)";

// ---- values ------------------------------------------------------------------

/**
 * The largest `--max-file-size`. A version goes out as one message, and a
 * filewatch.v1 message is one JavaScript string: Deno's (V8's) longest is
 * about 512 Mi characters, and JSON can write one byte as six (`\u0001`), as
 * can the page's HTML escaping (`&quot;`). 64 MiB stays clear of that on
 * both runtimes; larger files are followed in tail mode (src/watcher.ts).
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

/**
 * Why `--workers N` cannot run on `platform`, or null. SO_REUSEPORT balances
 * connections across processes on Linux only: elsewhere Deno ignores
 * `reusePort` (the second worker fails to bind) and on the BSDs and macOS the
 * last process to bind takes every connection.
 */
export function workersUnsupported(workers: number, platform: string): string | null {
  if (workers <= 1 || platform === "linux") return null;
  return `Cannot use --workers ${workers} on ${platform}: sharing one port between processes (SO_REUSEPORT) balances connections on Linux only; run one process per port behind a load balancer instead`;
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

/** A whole number from `min` to `max`, as a flag's parser. */
const count = (min: number, max: number) => (text: string) => parseCount(text, min, max);

/** A size from `min` to `max` bytes, as a flag's parser; `range` says the limits in the error. */
const sizeIn = (min: number, max: number, range: string) => (text: string) => {
  const n = parseSize(text);
  if (n < min || n > max) throw new RangeError(range);
  return n;
};

function parseBool(text: string): boolean {
  const t = text.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(t)) return true;
  if (["0", "false", "no", "off", ""].includes(t)) return false;
  throw new RangeError("expected 1 or 0 (true or false)");
}

/**
 * A value that parses but that the server will not use (a duration below
 * its floor): reported as `Cannot use --flag "…"` rather than `Cannot parse`.
 */
class Unusable extends RangeError {}

/** A duration of at least `min` ms; `shown` is the floor as the error says it. */
const durationOfAtLeast = (min: number, shown: string) => (text: string) => {
  const ms = parseDuration(text);
  if (ms < min) throw new Unusable(`must be at least ${shown}`);
  return ms;
};

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

/** `--host`: an address or name; IPv6 with or without brackets, kept without them. */
function parseHost(text: string): string {
  if (!/^[\w.:\-\[\]]+$/.test(text)) throw new RangeError("expected an IP address or host name");
  return text.replace(/^\[(.*)\]$/, "$1");
}

function parseGlob(text: string): string {
  if (text.includes("/")) throw new RangeError("expected a pattern for names in DIR (no /)");
  globTest(text);
  return text;
}

function parseLogFormat(text: string): "text" | "json" {
  if (text !== "text" && text !== "json") throw new RangeError("expected text or json");
  return text;
}

// ---- the table's vocabulary -------------------------------------------------

/**
 * What the start-up checks ({@link checkOptions}) may ask about the process
 * they run in; src/main.ts answers from the runtime and the file system.
 */
export interface Surroundings {
  /** The runtime as messages name it: `Deno`, `Bun`. */
  runtime: string;
  /** The runtime's WebSocket server has permessage-deflate. */
  compression: boolean;
  /** `process.platform`. */
  platform: string;
  isDirectory(path: string): boolean;
  /** Why this process cannot start `workers` worker processes (Deno without --allow-run), or null. */
  cannotSpawn(workers: number): string | null;
}

/** What every kind of flag says about itself. */
interface FlagBase {
  /** The flag without `--`: `max-clients`. */
  flag: string;
  /** A one-letter short form (`h` for `-h`). */
  short?: string;
  /** Its variable; by default `FILEWATCH_` and the flag in capitals, `-` as `_` (`FILEWATCH_MAX_CLIENTS`). */
  env?: string;
  /**
   * The `--help` lines after the flag: what it does and, in parentheses, its
   * default. The variable is printed at the end of the last line (an empty
   * last line puts it on a line of its own).
   */
  help: readonly string[];
}

/** A flag with a value (`--port N`): flag, else non-empty variable, else the default. */
export interface ValueFlag<T> extends FlagBase {
  kind: "value";
  /** The value's placeholder in `--help`: `N`, `DURATION`, `FILE`. */
  arg: string;
  default: T;
  /**
   * Text to value. A `RangeError` becomes `Cannot parse --flag "text": <its
   * message>` (or the variable's name when the text came from it).
   */
  parse(text: string): T;
  /** A start-up check that needs the running process; the reason (the whole line) or null. */
  verify?(value: T, where: Surroundings): string | null;
}

/** A repeatable flag (`--origin A --origin B`) whose variable is comma-separated; the flags win over the variable. */
export interface ListFlag<T> extends FlagBase {
  kind: "list";
  arg: string;
  /** One item's text to value; errors as for {@link ValueFlag.parse}. */
  parse(item: string): T;
}

/** A flag without a value (`--quiet`), off by default; its variable takes 1/0, true/false, yes/no, on/off. */
export interface SwitchFlag extends FlagBase {
  kind: "switch";
  /** The option is the opposite of the flag: `--no-events` sets `events` to false. */
  negates?: true;
  verify?(value: boolean, where: Surroundings): string | null;
}

/** A flag that prints something and exits 0 instead of serving (`--help`); it has no variable. */
export interface ExitFlag extends FlagBase {
  kind: "exit";
  /** What to throw: the entrypoint prints its text. */
  request(): PrintAndExit;
}

type Entry = ValueFlag<unknown> | ListFlag<unknown> | SwitchFlag | ExitFlag;

const valueFlag = <T>(e: Omit<ValueFlag<T>, "kind">): ValueFlag<T> => ({ kind: "value", ...e });
const listFlag = <T>(e: Omit<ListFlag<T>, "kind">): ListFlag<T> => ({ kind: "list", ...e });
const switchFlag = (e: Omit<SwitchFlag, "kind">): SwitchFlag => ({ kind: "switch", ...e });
const exitFlag = (e: Omit<ExitFlag, "kind">): ExitFlag => ({ kind: "exit", ...e });

// ---- the table ----------------------------------------------------------------

/**
 * Every flag, in `--help`'s order, keyed by its field in {@link Options}.
 * Adding a flag is one entry here and a row in docs/configuration.md.
 */
export const TABLE = {
  /** --dir: watch the regular files directly in this directory (null: the FILE list). */
  dir: valueFlag<string | null>({
    flag: "dir",
    arg: "DIR",
    default: null,
    parse: (s) => s,
    verify: (dir, where) =>
      dir !== null && !where.isDirectory(dir) ? `Cannot watch --dir "${dir}": not a directory` : null,
    help: ["watch the files in DIR, also", "those created later"],
  }),
  /** --glob: which of DIR's files are listed (default `*`). */
  glob: valueFlag({ flag: "glob", arg: "PATTERN", default: "*", parse: parseGlob, help: ["which files of DIR (*)"] }),
  /** --max-files: the most files listed. */
  maxFiles: valueFlag({
    flag: "max-files",
    arg: "N",
    default: 1_000,
    parse: count(1, 100_000),
    help: ["most files listed (1000)"],
  }),
  /** --allow-hardlinks: serve files of DIR that have more than one hard link (by default refused: one may be a file from outside DIR). */
  allowHardlinks: switchFlag({
    flag: "allow-hardlinks",
    help: ["serve DIR's files that have more", "than one hard link (refused)"],
  }),
  host: valueFlag({
    flag: "host",
    arg: "HOST",
    default: "127.0.0.1",
    parse: parseHost,
    help: ["address to bind (127.0.0.1)"],
  }),
  /**
   * Host names answered besides IP addresses, `localhost` and `--host`
   * (src/host.ts); `*` = every name. Normalized as browsers send them.
   */
  allowedHosts: valueFlag({
    flag: "allowed-host",
    arg: "NAME,...",
    env: "FILEWATCH_ALLOWED_HOSTS",
    default: [] as string[],
    parse: parseHostList,
    help: ["answer requests sent to these", "names too, * = any (IP", "addresses and localhost always)"],
  }),
  /** 0 = any free port. */
  port: valueFlag({
    flag: "port",
    arg: "N",
    default: 8080,
    parse: count(0, 65535),
    help: ["port, 0 = any free (8080)"],
  }),
  /** filePeriod: how often the file's stat is polled. */
  poll: valueFlag({
    flag: "poll",
    arg: "DURATION",
    default: 1_000,
    parse: durationOfAtLeast(10, "10ms"),
    help: ["stat poll period (1s)"],
  }),
  /** A client that answers no ping for this long is closed. */
  pongWait: valueFlag({
    flag: "pong-wait",
    arg: "DURATION",
    default: 60_000,
    parse: durationOfAtLeast(100, "100ms"),
    help: ["close clients silent this long (60s); pings", "go out every 9/10 of it"],
  }),
  /** A client that cannot take a write for this long is closed. */
  writeWait: valueFlag({
    flag: "write-wait",
    arg: "DURATION",
    default: 10_000,
    parse: durationOfAtLeast(10, "10ms"),
    help: ["close clients that cannot take a", "write this long (10s)"],
  }),
  /** Largest client message in bytes; larger closes with 1009. */
  readLimit: valueFlag({
    flag: "read-limit",
    arg: "SIZE",
    default: 512,
    parse: sizeIn(1, 64 * 1024 * 1024, "expected a size from 1 byte to 64MiB"),
    help: ["largest client message (512)"],
  }),
  /** Extra allowed Origins (exact match); `*` allows every origin. */
  origins: listFlag({
    flag: "origin",
    arg: "ORIGIN",
    env: "FILEWATCH_ORIGINS",
    parse: parseOrigin,
    help: ["allow this Origin too; repeatable;", "* allows all (same-origin only)"],
  }),
  compress: switchFlag({
    flag: "compress",
    verify: (on, where) =>
      on && !where.compression
        ? `Cannot use --compress on ${where.runtime}: its WebSocket server has no permessage-deflate (run on Bun for compression)`
        : null,
    help: ["permessage-deflate (Bun only)"],
  }),
  maxClients: valueFlag({
    flag: "max-clients",
    arg: "N",
    default: 10_000,
    parse: count(1, 1_000_000),
    help: ["connection limit (10000)"],
  }),
  /** 0 = no per-address cap. */
  maxClientsPerIp: valueFlag({
    flag: "max-clients-per-ip",
    arg: "N",
    default: 64,
    parse: count(0, 1_000_000),
    help: ["per-address limit, 0 = none (64)"],
  }),
  /** Concurrent HTTP requests from one address (the probes never count); 0 = no cap. */
  maxRequestsPerIp: valueFlag({
    flag: "max-requests-per-ip",
    arg: "N",
    default: 32,
    parse: count(0, 1_000_000),
    help: ["HTTP requests in progress per", "address, 0 = none (32)"],
  }),
  maxFileSize: valueFlag({
    flag: "max-file-size",
    arg: "SIZE",
    default: 16 * 1024 * 1024,
    parse: sizeIn(
      1,
      MAX_FILE_SIZE,
      "expected a size from 1 byte to 64MiB (the largest file held whole and sent as one message)",
    ),
    help: ["larger files are followed in tail", "mode; at most 64MiB (16MiB)"],
  }),
  /**
   * Tail mode for every file: clients get its last this many bytes, then
   * appends; `maxFileSize` plays no part. 0 = off: files up to `maxFileSize`
   * are sent whole, larger ones in tail mode with a window of their own.
   */
  tail: valueFlag({
    flag: "tail",
    arg: "SIZE",
    default: 0,
    parse: sizeIn(1024, MAX_TAIL, "expected a size from 1KiB to 64MiB"),
    help: ["tail mode for every file: send its last", "SIZE bytes, then appends (off)"],
  }),
  /** Watch the parent directory for file events (polling always runs too). */
  events: switchFlag({ flag: "no-events", negates: true, help: ["poll only, no file events"] }),
  logFormat: valueFlag<"text" | "json">({
    flag: "log-format",
    arg: "text|json",
    default: "text",
    parse: parseLogFormat,
    help: ["log format (text)"],
  }),
  quiet: switchFlag({ flag: "quiet", help: ["log warnings and errors only"] }),
  /** htpasswd file of bcrypt hashes; null = no authentication. */
  authFile: valueFlag<string | null>({
    flag: "auth-file",
    arg: "FILE",
    default: null,
    parse: (s) => s,
    help: ["require HTTP Basic credentials from", "this htpasswd file (bcrypt, as", "htpasswd -B writes) (off)"],
  }),
  /** PEM certificate for https/wss; with `tlsKey` or not at all. */
  tlsCert: valueFlag<string | null>({
    flag: "tls-cert",
    arg: "FILE",
    default: null,
    parse: (s) => s,
    help: ["serve https/wss with this PEM", "certificate (chain) (off)"],
  }),
  /** The certificate's PEM private key. */
  tlsKey: valueFlag<string | null>({
    flag: "tls-key",
    arg: "FILE",
    default: null,
    parse: (s) => s,
    help: ["and this PEM private key"],
  }),
  /** Where the app is mounted, without a trailing slash: "" = the root. */
  basePath: valueFlag({
    flag: "base-path",
    arg: "/PREFIX",
    default: "",
    parse: parseBasePath,
    help: ["serve every route under /PREFIX/ (/)", ""],
  }),
  /** Peers whose X-Forwarded-* headers are believed; empty = none. */
  trustProxy: valueFlag({
    flag: "trust-proxy",
    arg: "CIDR,...",
    default: [] as Cidr[],
    parse: parseCidrList,
    help: ["believe X-Forwarded-For/-Host/-Proto", "from these peers only (none)"],
  }),
  /** Server processes sharing the port; more than 1 runs a supervisor (src/supervisor.ts). */
  workers: valueFlag({
    flag: "workers",
    arg: "N|auto",
    default: 1,
    parse: parseWorkers,
    verify: (n, where) => workersUnsupported(n, where.platform) ?? (n > 1 ? where.cannotSpawn(n) : null),
    help: ["server processes on one port", "(Linux), auto = one per core (1)"],
  }),
  version: exitFlag({
    flag: "version",
    help: ["print the version"],
    request: () => new PrintAndExit(`filewatch ${PACKAGE_VERSION}\n`),
  }),
  help: exitFlag({ flag: "help", short: "h", help: ["this text"], request: () => new HelpRequested() }),
} as const;

type Table = typeof TABLE;
type ValueOf<E> = E extends ValueFlag<infer T> ? T : E extends ListFlag<infer T> ? T[] : E extends SwitchFlag ? boolean
: never;
/** The options the table makes: one field per entry but the exit flags, typed by its parser. */
type FromTable = { -readonly [K in keyof Table as Table[K] extends ExitFlag ? never : K]: ValueOf<Table[K]> };

/** Everything the server can be told, after validation. Durations are milliseconds. */
export interface Options extends FromTable {
  /** The first FILE, or DIR with --dir (what the start-up line names). */
  file: string;
  /** The FILE arguments, in order (empty with --dir): docs/configuration.md#several-files. */
  files: string[];
  /** How often pings go out: 9/10 of pongWait, so a pong can arrive before the deadline. */
  pingPeriod: number;
  /** This process's worker number when a supervisor started it (never a flag; src/worker.ts); null otherwise. */
  worker: number | null;
}

const ENTRIES = Object.entries(TABLE) as Array<[string, Entry]>;

/** Each value flag's default, by its field in {@link Options}. */
export const DEFAULTS = Object.fromEntries(
  ENTRIES.flatMap(([key, e]) => e.kind === "value" ? [[key, e.default]] : []),
) as { readonly [K in keyof Table as Table[K] extends ValueFlag<unknown> ? K : never]: ValueOf<Table[K]> };

/** One flag as `node:util` `parseArgs` takes it. */
export interface ArgSpec {
  type: "string" | "boolean";
  multiple?: boolean;
  short?: string;
}

/** The flags `parseConfig` accepts, keyed by flag (the `parseArgs` options), made from {@link TABLE}. */
export const FLAGS: Readonly<Record<string, ArgSpec>> = Object.fromEntries(ENTRIES.map(([, e]) => {
  const spec: ArgSpec = { type: e.kind === "value" || e.kind === "list" ? "string" : "boolean" };
  if (e.kind === "list") spec.multiple = true;
  if (e.short !== undefined) spec.short = e.short;
  return [e.flag, spec];
}));

const envOf = (e: FlagBase) => e.env ?? "FILEWATCH_" + e.flag.toUpperCase().replaceAll("-", "_");

// ---- --help --------------------------------------------------------------------

/** Where a flag's meaning starts in `--help`… */
const MEANING_COLUMN = 30;
/** …and where its variable starts (after at least one space). */
const VARIABLE_COLUMN = 63;

function helpRow(usage: string, lines: readonly string[], variable: string): string {
  const out = lines.map((line, i) =>
    (i === 0 ? "  " + usage.padEnd(MEANING_COLUMN - 2) : " ".repeat(MEANING_COLUMN)) + line
  );
  if (variable !== "") out[out.length - 1] = out.at(-1)!.padEnd(VARIABLE_COLUMN - 1) + " " + variable;
  return out.join("\n");
}

function helpRowOf(e: Entry): string {
  const usage = (e.short ? `-${e.short}, ` : "") + `--${e.flag}` + ("arg" in e ? ` ${e.arg}` : "");
  const variable = e.kind === "exit"
    ? ""
    : e.kind === "switch"
    ? `${envOf(e)}=1`
    : e.kind === "list"
    ? `${envOf(e)} (comma-separated)`
    : envOf(e);
  return helpRow(usage, e.help, variable);
}

/** The full `--help` text. */
export const HELP: string = `filewatch: show a file live in the browser over WebSocket

usage: filewatch [options] FILE...
       filewatch [options] --dir DIR [--glob PATTERN]

Every option is also an environment variable; flags win.
${helpRow("FILE...", ["files to watch"], "FILEWATCH_FILE")}
${ENTRIES.map(([, e]) => helpRowOf(e)).join("\n")}

DURATION: 500ms, 10s, 1m, 1.5s.  SIZE: bytes, or 64KiB, 16MiB, 1GiB (also KB, MB).
`;

// ---- parsing -------------------------------------------------------------------

type Env = Record<string, string | undefined>;
type Values = Record<string, string | boolean | Array<string | boolean> | undefined>;

/** Where a value came from: the text, and the flag or variable as an error names it. */
interface Picked {
  text: string;
  from: string;
}

/** A value flag's text: the flag's, else its variable's unless empty, else none. */
function pick(e: FlagBase, values: Values, env: Env): Picked | undefined {
  const flag = values[e.flag];
  if (typeof flag === "string") return { text: flag, from: `--${e.flag}` };
  const name = envOf(e);
  const text = env[name];
  return text !== undefined && text !== "" ? { text, from: name } : undefined;
}

/** Runs a parser so its failure names the flag or variable and quotes the value, Deno std style. */
function field<T>(e: FlagBase, { text, from }: Picked, parse: (text: string) => T): T {
  try {
    return parse(text);
  } catch (err) {
    // A floor names the flag even when the variable set it, as it always has.
    const what = err instanceof Unusable ? `use --${e.flag}` : `parse ${from}`;
    throw new ConfigError(`Cannot ${what} "${text}": ${(err as Error).message}`);
  }
}

function read(e: Exclude<Entry, ExitFlag>, values: Values, env: Env): unknown {
  if (e.kind === "value") {
    const p = pick(e, values, env);
    return p ? field(e, p, (s) => e.parse(s)) : e.default;
  }
  const name = envOf(e);
  if (e.kind === "list") {
    const flags = values[e.flag] as string[] | undefined;
    const from = flags ? `--${e.flag}` : name;
    const items = flags ?? env[name]?.split(",").map((s) => s.trim()).filter(Boolean) ?? [];
    return items.map((text) => field(e, { text, from }, (s) => e.parse(s)));
  }
  const text = env[name];
  const on = (values[e.flag] as boolean | undefined) ??
    (text !== undefined ? field(e, { text, from: name }, parseBool) : false);
  return e.negates ? !on : on;
}

/**
 * FILE arguments or `--dir`, not both: a directory's names could then
 * collide with a listed file's and rename it while it is viewed
 * (docs/configuration.md#several-files).
 */
function filesOf(positionals: string[], values: Values, env: Env): { file: string; files: string[] } {
  const dirPick = pick(TABLE.dir, values, env);
  if (dirPick && positionals.length > 0) {
    throw new ConfigError(
      `Cannot use FILE "${positionals[0]}" with ${dirPick.from} "${dirPick.text}": give a list of files or a directory`,
    );
  }
  if (dirPick) return { file: dirPick.text, files: [] };
  const files = positionals.length > 0 ? positionals : env.FILEWATCH_FILE ? [env.FILEWATCH_FILE] : [];
  if (files.length === 0) {
    throw new ConfigError("Missing FILE: name the file to watch (or set FILEWATCH_FILE, or use --dir)");
  }
  return { file: files[0]!, files };
}

/** Rules between flags, checked once every value is parsed; each gives its error or null. */
const RULES: ReadonlyArray<(o: Options) => string | null> = [
  (o) =>
    o.files.length > o.maxFiles ? `Cannot watch ${o.files.length} files: more than --max-files (${o.maxFiles})` : null,
  (o) =>
    (o.tlsCert === null) !== (o.tlsKey === null)
      ? `Cannot use ${o.tlsCert === null ? "--tls-key" : "--tls-cert"} alone: give both --tls-cert and --tls-key`
      : null,
];

/**
 * Flags and environment → validated options.
 * @param argv the arguments after the program name
 * @param env the process environment (only `FILEWATCH_*` is read)
 * @throws {ConfigError} for a bad value, with a one-line reason
 * @throws {PrintAndExit} for `--help` (a {@link HelpRequested})
 */
export function parseConfig(argv: readonly string[], env: Env): Options {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: FLAGS, allowPositionals: true, strict: true });
  } catch (e) {
    // node:util's messages are long and multi-line; keep the first line, which names the flag.
    const first = String((e as Error).message).split("\n")[0]!.replace(/\. To specify.*$/, "");
    throw new ConfigError(first);
  }
  const values: Values = parsed.values;
  for (const [, e] of ENTRIES) if (e.kind === "exit" && values[e.flag]) throw e.request();

  const options: Record<string, unknown> = filesOf(parsed.positionals, values, env);
  for (const [key, e] of ENTRIES) if (e.kind !== "exit") options[key] = read(e, values, env);
  options.pingPeriod = pingPeriodOf(options.pongWait as number);
  options.worker = null;
  const o = options as unknown as Options;
  for (const rule of RULES) {
    const why = rule(o);
    if (why !== null) throw new ConfigError(why);
  }
  return o;
}

/**
 * The checks that need the running process (the runtime's abilities, the
 * file system, the platform): each entry's `verify`, in the table's order.
 * @throws {ConfigError} with the first reason
 */
export function checkOptions(options: Options, where: Surroundings): void {
  for (const [key, e] of ENTRIES) {
    if ((e.kind !== "value" && e.kind !== "switch") || !e.verify) continue;
    // The entry and its field have one type, which TypeScript cannot follow through a loop over the table.
    const why = (e.verify as (value: unknown, where: Surroundings) => string | null)(
      options[key as keyof Options],
      where,
    );
    if (why !== null) throw new ConfigError(why);
  }
}
