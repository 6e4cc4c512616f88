import { assert, assertEquals, assertMatch, assertThrows } from "../helpers/assert.ts";
import { parseCidr } from "../../src/proxy.ts";
import {
  checkOptions,
  ConfigError,
  DEFAULTS,
  FLAGS,
  HELP,
  HelpRequested,
  parseConfig,
  parseDuration,
  parseSize,
  pingPeriodOf,
  type Surroundings,
  TABLE,
} from "../../src/config.ts";

Deno.test("parseDuration() reads ms, s, m and h, and refuses a bare number", () => {
  assertEquals(parseDuration("500ms"), 500);
  assertEquals(parseDuration("10s"), 10_000);
  assertEquals(parseDuration("1.5s"), 1_500);
  assertEquals(parseDuration("1m"), 60_000);
  assertEquals(parseDuration("2h"), 7_200_000);
  for (const bad of ["10", "10x", "", "-1s", "s", "1e3ms", "1 s"]) assertThrows(() => parseDuration(bad), bad);
});

Deno.test("parseSize() reads bytes and binary/decimal units, case-insensitively", () => {
  assertEquals(parseSize("512"), 512);
  assertEquals(parseSize("64KiB"), 65_536);
  assertEquals(parseSize("16mib"), 16 * 1024 * 1024);
  assertEquals(parseSize("1MB"), 1_000_000);
  for (const bad of ["", "1XB", "-5", "abc"]) assertThrows(() => parseSize(bad), bad);
});

Deno.test("parseConfig() gives the documented defaults; pingPeriod is 9/10 of pongWait", () => {
  const o = parseConfig(["f.log"], {});
  assertEquals(o.file, "f.log");
  assertEquals([o.host, o.port, o.poll, o.pongWait, o.writeWait, o.readLimit], [
    "127.0.0.1",
    8080,
    1_000,
    60_000,
    10_000,
    512,
  ]);
  assertEquals(o.pingPeriod, 54_000);
  assertEquals(pingPeriodOf(2_000), 1_800);
  assertEquals([o.maxClients, o.maxClientsPerIp, o.maxFileSize], [10_000, DEFAULTS.maxClientsPerIp, 16 * 1024 * 1024]);
  assertEquals([o.compress, o.events, o.quiet, o.logFormat, o.origins], [false, true, false, "text", []]);
});

Deno.test("parseConfig() reads every FILEWATCH_* variable, and flags win over them", () => {
  const env = {
    FILEWATCH_FILE: "/data/app.log",
    FILEWATCH_HOST: "0.0.0.0",
    FILEWATCH_PORT: "9000",
    FILEWATCH_POLL: "250ms",
    FILEWATCH_PONG_WAIT: "10s",
    FILEWATCH_WRITE_WAIT: "2s",
    FILEWATCH_READ_LIMIT: "1KiB",
    FILEWATCH_ORIGINS: "https://a.example, https://b.example",
    FILEWATCH_COMPRESS: "1",
    FILEWATCH_MAX_CLIENTS: "5",
    FILEWATCH_MAX_CLIENTS_PER_IP: "0",
    FILEWATCH_MAX_FILE_SIZE: "1MiB",
    FILEWATCH_NO_EVENTS: "1",
    FILEWATCH_LOG_FORMAT: "json",
    FILEWATCH_QUIET: "true",
    FILEWATCH_AUTH_FILE: "/run/secrets/htpasswd",
    FILEWATCH_TLS_CERT: "/tls/cert.pem",
    FILEWATCH_TLS_KEY: "/tls/key.pem",
    FILEWATCH_BASE_PATH: "/logs",
    FILEWATCH_TRUST_PROXY: "10.0.0.0/8",
    FILEWATCH_WORKERS: "2",
    FILEWATCH_ALLOWED_HOSTS: "logs.example.com, Bücher.example.",
    FILEWATCH_ALLOW_HARDLINKS: "1",
    FILEWATCH_MAX_REQUESTS_PER_IP: "8",
  };
  const o = parseConfig([], env);
  assertEquals(o, {
    file: "/data/app.log",
    files: ["/data/app.log"],
    dir: null,
    glob: "*",
    maxFiles: 1000,
    allowHardlinks: true,
    host: "0.0.0.0",
    allowedHosts: ["logs.example.com", "xn--bcher-kva.example"],
    port: 9000,
    poll: 250,
    pongWait: 10_000,
    pingPeriod: 9_000,
    writeWait: 2_000,
    readLimit: 1024,
    origins: ["https://a.example", "https://b.example"],
    compress: true,
    maxClients: 5,
    maxClientsPerIp: 0,
    maxRequestsPerIp: 8,
    maxFileSize: 1024 * 1024,
    tail: 0,
    events: false,
    logFormat: "json",
    quiet: true,
    authFile: "/run/secrets/htpasswd",
    tlsCert: "/tls/cert.pem",
    tlsKey: "/tls/key.pem",
    basePath: "/logs",
    trustProxy: [parseCidr("10.0.0.0/8")],
    workers: 2,
    worker: null,
  });
  const f = parseConfig(["--port", "1", "--origin", "http://c.example:8080", "other.log"], env);
  assertEquals([f.port, f.file, f.origins], [1, "other.log", ["http://c.example:8080"]]);
});

Deno.test("parseConfig() errors name the flag or variable and quote the value", () => {
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [["--poll", "10x", "f"], {}, /^Cannot parse --poll "10x": expected a duration like 500ms/],
    [["f"], { FILEWATCH_POLL: "fast" }, /^Cannot parse FILEWATCH_POLL "fast"/],
    [["--port=-1", "f"], {}, /^Cannot parse --port "-1"/],
    [["--port", "-1", "f"], {}, /^Option .--port. argument is ambiguous/],
    [["--port", "65536", "f"], {}, /from 0 to 65535/],
    [["--read-limit", "0", "f"], {}, /^Cannot parse --read-limit "0"/],
    [["--log-format", "xml", "f"], {}, /^Cannot parse --log-format "xml": expected text or json/],
    [["--origin", "example.com", "f"], {}, /^Cannot parse --origin "example.com"/],
    [["--origin", "https://a.example/path", "f"], {}, /no path/],
    [["--pong-wait", "50ms", "f"], {}, /at least 100ms/],
    [["a", "--dir", "d"], {}, /^Cannot use FILE "a" with --dir "d"/],
    [["--max-files", "1", "a", "b"], {}, /^Cannot watch 2 files: more than --max-files \(1\)/],
    [["--dir", "d", "--glob", "x/*"], {}, /^Cannot parse --glob "x\/\*"/],
    [[], {}, /^Missing FILE/],
    [["--nope", "f"], {}, /^Unknown option '--nope'$/],
    [["--port"], {}, /--port/],
    [["f"], { FILEWATCH_QUIET: "maybe" }, /^Cannot parse FILEWATCH_QUIET "maybe"/],
    [["--tail", "100", "f"], {}, /^Cannot parse --tail "100": expected a size from 1KiB to 64MiB/],
    [
      ["--max-file-size", "65MiB", "f"],
      {},
      /^Cannot parse --max-file-size "65MiB": expected a size from 1 byte to 64MiB/,
    ],
    [["f"], { FILEWATCH_TAIL: "1GiB" }, /^Cannot parse FILEWATCH_TAIL "1GiB"/],
    [["--tls-cert", "c.pem", "f"], {}, /^Cannot use --tls-cert alone: give both --tls-cert and --tls-key/],
    [["f"], { FILEWATCH_TLS_KEY: "k.pem" }, /^Cannot use --tls-key alone/],
    [["--base-path", "logs", "f"], {}, /^Cannot parse --base-path "logs": expected a path that starts with "\/"/],
    [["--base-path", "/logs/", "f"], {}, /no trailing/],
    [["--base-path", "/a/../b", "f"], {}, /"\.\."/],
    [["--base-path", "/a//b", "f"], {}, /empty/],
    [["--base-path", "/a b", "f"], {}, /no spaces/],
    [["--base-path", "/a%2fb", "f"], {}, /no spaces, %/],
    [
      ["--trust-proxy", "10.0.0.0/33", "f"],
      {},
      /^Cannot parse --trust-proxy "10.0.0.0\/33": "10.0.0.0\/33": expected a prefix/,
    ],
    [["f"], { FILEWATCH_TRUST_PROXY: "nginx" }, /^Cannot parse FILEWATCH_TRUST_PROXY "nginx": "nginx": expected an IP/],
    [["--trust-proxy", ",", "f"], {}, /at least one/],
  ];
  for (const [args, env, re] of cases) {
    const e = assertThrows(() => parseConfig(args, env), args.join(" "));
    assert(e instanceof ConfigError, `${args.join(" ")}: ${e}`);
    assertMatch((e as Error).message, re);
    assert(!(e as Error).message.includes("\n"), "one line");
  }
});

Deno.test("parseConfig() reads --tail and FILEWATCH_TAIL as a size; off by default", () => {
  assertEquals(parseConfig(["f"], {}).tail, 0);
  assertEquals(parseConfig(["--tail", "64KiB", "f"], {}).tail, 65_536);
  assertEquals(parseConfig(["f"], { FILEWATCH_TAIL: "1MiB" }).tail, 1_048_576);
});

Deno.test("parseConfig() reads the access options: base path without its trailing slash, CIDRs, / as the root", () => {
  const o = parseConfig(["f"], {});
  assertEquals([o.authFile, o.tlsCert, o.tlsKey, o.basePath, o.trustProxy], [null, null, null, "", []]);
  assertEquals(parseConfig(["--base-path", "/", "f"], {}).basePath, "");
  assertEquals(parseConfig(["--base-path", "/team-a/logs.v2", "f"], {}).basePath, "/team-a/logs.v2");
  const t = parseConfig(["--trust-proxy", "127.0.0.1, ::1, fd00::/8", "f"], {}).trustProxy;
  assertEquals(t.map((c) => [c.family, c.prefix]), [[4, 32], [6, 128], [6, 8]]);
});

Deno.test("parseConfig() signals --help and -h", () => {
  assert(assertThrows(() => parseConfig(["--help"], {})) instanceof HelpRequested);
  assert(assertThrows(() => parseConfig(["-h"], {})) instanceof HelpRequested);
});

Deno.test("parseConfig() keeps `*` as an origin and takes IPv6 hosts with or without brackets", () => {
  assertEquals(parseConfig(["--origin", "*", "f"], {}).origins, ["*"]);
  assertEquals(parseConfig(["--host", "[::1]", "f"], {}).host, "::1");
  assertEquals(parseConfig(["--host", "::", "f"], {}).host, "::");
});

Deno.test("--help keeps its columns apart: every variable has a space before it", () => {
  for (const line of HELP.split("\n")) {
    if (!line.includes("FILEWATCH_")) continue;
    assertMatch(line, /\sFILEWATCH_[A-Z_]+/, `columns run together: ${JSON.stringify(line)}`);
    assert(line.length <= 100, `too wide for a terminal: ${JSON.stringify(line)}`);
  }
});

Deno.test("--help prints each entry of the table: its usage, its lines from column 30, its variable last", () => {
  const rows = HELP.split("\n");
  for (const e of Object.values(TABLE)) {
    const usage = ("short" in e ? `-${e.short}, ` : "") + `--${e.flag}` + ("arg" in e ? ` ${e.arg}` : "");
    const i = rows.findIndex((r) => r.startsWith(`  ${usage} `));
    assert(i >= 0, `no row for ${usage}`);
    e.help.forEach((line, j) => assertEquals(rows[i + j]!.slice(30, 30 + line.length), line, `${usage}, line ${j}`));
    const last = rows[i + e.help.length - 1]!;
    if (e.kind === "exit") {
      assertEquals(last.slice(30), e.help.at(-1), `${usage} has no variable`);
    } else {
      const name = ("env" in e && e.env) || "FILEWATCH_" + e.flag.toUpperCase().replaceAll("-", "_");
      const shown = e.kind === "switch" ? `${name}=1` : e.kind === "list" ? `${name} (comma-separated)` : name;
      assertEquals(last.slice(62), ` ${shown}`, usage);
    }
  }
  assertEquals(Object.keys(FLAGS).sort(), Object.values(TABLE).map((e) => e.flag).sort());
});

Deno.test("DEFAULTS are what parseConfig() gives when nothing is set", () => {
  const o = parseConfig(["f"], {});
  assert(Object.keys(DEFAULTS).length >= 20);
  for (const [key, value] of Object.entries(DEFAULTS)) assertEquals(o[key as keyof typeof o], value, key);
});

Deno.test("--help throws the help text to print; it wins over everything else on the line", () => {
  for (const argv of [["--help"], ["--port", "x", "-h"], ["-h", "--dir", "d", "f"]]) {
    const e = assertThrows(() => parseConfig(argv, { FILEWATCH_POLL: "fast" }));
    assert(e instanceof HelpRequested, argv.join(" "));
    assertEquals(e.text, HELP);
  }
});

/** Surroundings where everything is possible: a runtime with compression, on Linux, that can spawn. */
const anywhere: Surroundings = {
  runtime: "Bun",
  compression: true,
  platform: "linux",
  isDirectory: () => true,
  cannotSpawn: () => null,
};

Deno.test("checkOptions() refuses what the runtime, the platform or the file system cannot do, with one line each", () => {
  const cases: Array<[string[], Partial<Surroundings>, RegExp]> = [
    [
      ["--compress", "f"],
      { runtime: "Deno", compression: false },
      /^Cannot use --compress on Deno: its WebSocket server has no permessage-deflate \(run on Bun for compression\)$/,
    ],
    [["--dir", "logs"], { isDirectory: (p) => p !== "logs" }, /^Cannot watch --dir "logs": not a directory$/],
    [["--workers", "2", "f"], { platform: "darwin" }, /^Cannot use --workers 2 on darwin: .*Linux only/],
    [["--workers", "3", "f"], { cannotSpawn: (n) => `no spawning ${n}` }, /^no spawning 3$/],
  ];
  for (const [argv, where, re] of cases) {
    const options = parseConfig(argv, {});
    checkOptions(options, anywhere); // possible somewhere
    const e = assertThrows(() => checkOptions(options, { ...anywhere, ...where }), argv.join(" "));
    assert(e instanceof ConfigError, `${argv.join(" ")}: ${e}`);
    assertMatch(e.message, re);
  }
  // What is not asked for is not checked: no --compress, no --dir, one process.
  checkOptions(parseConfig(["f"], {}), {
    runtime: "Deno",
    compression: false,
    platform: "win32",
    isDirectory: () => false,
    cannotSpawn: () => "never",
  });
});
