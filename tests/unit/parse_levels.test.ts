/**
 * Level detection (src/shared/levels.ts) on lines as real loggers write them,
 * and on lines that must get no level.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import {
  atLeast,
  detectLevel,
  type Level,
  levelOfValue,
  levelRank,
  LEVELS,
  parseLevelName,
} from "../../src/shared/levels.ts";

/** [what wrote it, the line, its level]. */
const REAL: [string, string, Level | null][] = [
  // Java
  ["logback default", "10:00:00.123 [main] ERROR com.example.App - Request failed", "error"],
  [
    "logback, long thread",
    "2024-06-12 10:00:00.123 [http-nio-8080-exec-10] WARN  o.s.w.s.PageNotFound - No mapping",
    "warn",
  ],
  ["log4j", "2024-06-12 10:00:00,123 INFO  [main] com.example.App (App.java:42) - Started", "info"],
  [
    "log4j2 bracketed",
    "[2024-06-12 10:00:00.123] [pool-1-thread-3] [req=abc] DEBUG c.e.Repo - query took 3ms",
    "debug",
  ],
  ["Spring Boot", "2024-06-12T10:00:00.123+02:00 ERROR 12345 --- [main] o.s.boot.SpringApplication : failed", "error"],
  ["java.util.logging", "SEVERE: Servlet.service() for servlet [dispatcher] threw exception", "error"],
  // Python
  ["Python logging", "2024-06-12 10:00:00,123 - myapp.db - WARNING - connection pool exhausted", "warn"],
  ["Python basicConfig", "CRITICAL:root:cannot open /etc/app.conf", "fatal"],
  ["Python, level first", "ERROR:asyncio:Task exception was never retrieved", "error"],
  ["uvicorn", 'INFO:     127.0.0.1:52422 - "GET / HTTP/1.1" 200 OK', "info"],
  ["loguru", "2024-06-12 10:00:00.123 | TRACE    | __main__:main:5 - entering", "trace"],
  // Go
  ["slog text", 'time=2024-06-12T10:00:00.000Z level=ERROR msg="payment failed" err="card declined"', "error"],
  ["slog text, level later", 'time=2024-06-12T10:00:00.000Z msg="payment ERROR" level=INFO', "info"],
  ["slog JSON", '{"time":"2024-06-12T10:00:00.000Z","level":"WARN","msg":"slow query","ms":812}', "warn"],
  ["slog via log", "2024/06/12 10:00:00 DEBUG cache miss key=u:42", "debug"],
  ["zap JSON", '{"level":"error","ts":1718186400.123,"caller":"api/main.go:42","msg":"boom","error":"EOF"}', "error"],
  ["zap console", '2024-06-12T10:00:00.123+0200\tINFO\tapi/main.go:42\tlistening\t{"port": 8080}', "info"],
  ["logrus text", 'time="2024-06-12T10:00:00Z" level=warning msg="disk almost full" used=93', "warn"],
  ["logrus TTY", 'ERRO[0003] failed to pull image                  error="timeout"', "error"],
  [
    "go-kit / Prometheus",
    'ts=2024-06-12T10:00:00.123Z caller=main.go:123 level=info msg="Starting Prometheus"',
    "info",
  ],
  ["klog", "E0612 10:00:00.123456   12345 controller.go:114] error syncing 'default/web': timeout", "error"],
  ["klog warning", "W0612 10:00:00.123456       1 reflector.go:424] watch of *v1.Pod ended", "warn"],
  ["Go panic", "panic: runtime error: invalid memory address or nil pointer dereference", "fatal"],
  ["pino", '{"level":50,"time":1718186400123,"pid":7,"hostname":"web","msg":"unhandled"}', "error"],
  ["pino info", '{"level":30,"time":1718186400123,"msg":"request completed"}', "info"],
  [
    "bunyan fatal",
    '{"name":"app","hostname":"h","pid":1,"level":60,"msg":"dying","time":"2024-06-12T10:00:00.000Z","v":0}',
    "fatal",
  ],
  ["GCP structured", '{"severity":"CRITICAL","message":"db down","timestamp":"2024-06-12T10:00:00Z"}', "fatal"],
  ["ECS", '{"@timestamp":"2024-06-12T10:00:00.000Z","log.level":"warn","message":"retrying"}', "warn"],
  ["Serilog compact", '{"@t":"2024-06-12T10:00:00.000Z","@mt":"Hello {User}","@l":"Warning","User":"ann"}', "warn"],
  [
    "Serilog compact, Information omitted",
    '{"@t":"2024-06-12T10:00:00.000Z","@mt":"Hello {User}","User":"ann"}',
    "info",
  ],
  ["Serilog console", "[10:00:00 ERR] Unhandled exception in request /api", "error"],
  [".NET console", "fail: Microsoft.AspNetCore.Server.Kestrel[13]", "error"],
  [".NET console info", "info: Microsoft.Hosting.Lifetime[0]", "info"],
  // Web servers
  [
    "nginx error log",
    '2024/06/12 10:00:00 [error] 1234#1234: *5 open() "/srv/favicon.ico" failed (2: No such file)',
    "error",
  ],
  ["nginx notice", "2024/06/12 10:00:00 [notice] 1#1: signal process started", "info"],
  ["nginx crit", "2024/06/12 10:00:00 [crit] 1#1: *9 SSL_do_handshake() failed", "fatal"],
  [
    "Apache 2.4",
    "[Wed Jun 12 10:00:00.123456 2024] [core:error] [pid 1234] [client 10.0.0.1:5000] AH00126: Invalid URI",
    "error",
  ],
  [
    "nginx access log (no level)",
    '10.0.0.1 - - [12/Jun/2024:10:00:00 +0000] "GET /info HTTP/1.1" 200 512 "-" "curl/8.0"',
    null,
  ],
  // syslog
  ["syslog, level word", "Jun 12 10:00:00 web1 app[4321]: ERROR could not connect to db", "error"],
  [
    "syslog, sshd error:",
    "Jun 12 10:00:00 web1 sshd[1234]: error: kex_exchange_identification: Connection closed",
    "error",
  ],
  ["syslog, no level", "Jun 12 10:00:00 web1 CRON[1234]: (root) CMD (run-parts /etc/cron.hourly)", null],
  ["syslog <N> err", "<11>Jun 12 10:00:00 web1 app[1]: something failed", "error"],
  ["syslog <N> warning", "<12>Jun 12 10:00:00 web1 app[1]: almost full", "warn"],
  ["syslog <N> beats words", "<14>Jun 12 10:00:00 web1 app[1]: ERROR in a message logged at info", "info"],
  ["RFC 5424 <N>", "<165>1 2024-06-12T10:00:00.003Z mymachine evntslog - ID47 - An application event", "info"],
  ["RFC 5424 <N> debug", "<191>1 2024-06-12T10:00:00.003Z host app - - - verbose", "debug"],
  ["rsyslog ISO", "2024-06-12T10:00:00.123456+00:00 web1 kernel: [12345.678] Out of memory: Killed process 1234", null],
  // Docker
  [
    "Docker JSON log",
    '{"log":"2024-06-12T10:00:00.000Z WARN deprecated config key\\n","stream":"stderr","time":"2024-06-12T10:00:00.000000001Z"}',
    "warn",
  ],
  [
    "Docker JSON log holding JSON",
    '{"log":"{\\"level\\":\\"error\\",\\"msg\\":\\"x\\"}\\n","stream":"stdout","time":"2024-06-12T10:00:00Z"}',
    "error",
  ],
  [
    "Docker JSON log, stderr but no level",
    '{"log":"Listening on :8080\\n","stream":"stderr","time":"2024-06-12T10:00:00Z"}',
    null,
  ],
  // Ruby, Node, Elixir, Rust, Android-free others
  ["Rails", "E, [2024-06-12T10:00:00.123456 #12345] ERROR -- : Couldn't find User with 'id'=42", "error"],
  ["Rails info", 'I, [2024-06-12T10:00:00.123456 #12345]  INFO -- : Started GET "/" for 127.0.0.1', "info"],
  ["winston", "2024-06-12T10:00:00.000Z info: server listening on 3000", "info"],
  ["winston, level first", "warn: memory usage high", "warn"],
  ["Node uncaught", "Error: ENOENT: no such file or directory, open '/tmp/x'", "error"],
  ["Elixir", "10:00:00.123 [error] GenServer MyApp.Worker terminating", "error"],
  ["Rust env_logger", "[2024-06-12T10:00:00Z ERROR myapp::db] connection refused", "error"],
  ["Rust tracing", "2024-06-12T10:00:00.123456Z  WARN myapp::http: slow response elapsed=812ms", "warn"],
  ["coloured level", "2024-06-12 10:00:00 \x1b[31mERROR\x1b[0m boom", "error"],
  ["coloured JSON-free logback", "\x1b[2m10:00:00.123\x1b[0m \x1b[33mWARN \x1b[0m c.e.App - careful", "warn"],
  // Not a level
  [
    "error deep in a message",
    "2024-06-12 10:00:00 Processing batch 42 of 100 finished, retrying the previous error",
    null,
  ],
  [
    "capital ERROR deep in a message",
    "2024-06-12 10:00:00 deploy started for build 42 on eu-west-1, ERROR budget 0.1%",
    null,
  ],
  ["lower-case error in a sentence", "connection error while reading the response", null],
  ["a URL with info", "GET https://example.com/info/status?level=info 200 12ms", null],
  ["a URL with INFO", "fetched https://cdn.example.com/INFO.txt in 3ms", null],
  ["a word containing a level", "Information desk opened; errors: 0, warnings: 0", null],
  ["a trace that is not a level", "Stack trace: see below", null],
  ["JSON with a level word in a value only", '{"msg":"ERROR: disk full","user":"ann"}', null],
  ["JSON with an escaped level key in a string", '{"msg":"set \\"level\\":\\"error\\" in the config"}', null],
  ["a level word as part of another", "ERRORS=0 WARNINGS=3", null],
  ["Java frame", "\tat com.example.App.main(App.java:42)", null],
  ["empty", "", null],
];

Deno.test("detectLevel() recognises the level in lines real loggers write, and gives none where there is none", () => {
  const wrong: string[] = [];
  for (const [who, line, want] of REAL) {
    const got = detectLevel(line);
    if (got !== want) wrong.push(`${who}: ${JSON.stringify(line)} → ${got}, expected ${want}`);
  }
  assertEquals(wrong, []);
});

Deno.test("detectLevel() finds a level word only near the start", () => {
  const msg = "a b c d e f g h i j";
  assertEquals(detectLevel(`ERROR ${msg}`), "error");
  assertEquals(detectLevel(`1 2 3 4 5 6 7 WARN ${msg}`), "warn", "the eighth token");
  assertEquals(detectLevel(`1 2 3 4 5 6 7 8 WARN ${msg}`), null, "the ninth token");
  assertEquals(detectLevel(`${"x".repeat(200)} ERROR`), null, "past the first characters");
});

Deno.test("levels are ordered so that 'warn' means warn and worse", () => {
  assertEquals(LEVELS, ["fatal", "error", "warn", "info", "debug", "trace"]);
  for (let i = 1; i < LEVELS.length; i++) assert(levelRank(LEVELS[i - 1]!) > levelRank(LEVELS[i]!));
  assertEquals(LEVELS.filter((l) => atLeast(l, "warn")), ["fatal", "error", "warn"]);
  assertEquals(LEVELS.filter((l) => atLeast(l, "trace")), LEVELS);
  assert(!atLeast(null, "trace"), "a line without a level is below every level");
});

Deno.test("parseLevelName() reads what people type in &level= and what loggers write", () => {
  assertEquals(parseLevelName("warn"), "warn");
  assertEquals(parseLevelName(" WARNING "), "warn");
  assertEquals(parseLevelName("Err"), "error");
  assertEquals(parseLevelName("critical"), "fatal");
  assertEquals(parseLevelName("Information"), "info");
  assertEquals(parseLevelName("verbose"), "trace");
  assertEquals(parseLevelName("loud"), null);
  assertEquals(parseLevelName(""), null);
  assertEquals(parseLevelName("__proto__"), null);
});

Deno.test("levelOfValue() reads numeric levels as pino/bunyan (10–60) and syslog (0–7) write them", () => {
  assertEquals([10, 20, 30, 40, 50, 60, 70].map(levelOfValue), [
    "trace",
    "debug",
    "info",
    "warn",
    "error",
    "fatal",
    "fatal",
  ]);
  assertEquals([0, 1, 2, 3, 4, 5, 6, 7].map(levelOfValue), [
    "fatal",
    "fatal",
    "fatal",
    "error",
    "warn",
    "info",
    "info",
    "debug",
  ]);
  assertEquals(levelOfValue(35), "info");
  assertEquals(levelOfValue(8), null);
  assertEquals(levelOfValue(-1), null);
  assertEquals(levelOfValue(1.5), null);
  assertEquals(levelOfValue("40"), "warn");
});
