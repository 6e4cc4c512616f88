/**
 * Multi-line entries (src/shared/entries.ts): stack traces, tracebacks and
 * panics stay with the line above; stamped files; incremental use.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import {
  DEFAULT_CONTEXT,
  detectEntryContext,
  type EntryContext,
  entryOf,
  EntryScanner,
  entryStarts,
  hasTimestamp,
  isContinuation,
} from "../../src/shared/entries.ts";
import { detectLevel } from "../../src/shared/levels.ts";

const STAMPED: EntryContext = { stamped: true, indent: true };

/** The entries of a text, as arrays of lines, with the context detected from it. */
function entries(text: string, context?: EntryContext): string[][] {
  const lines = text.split("\n");
  const ctx = context ?? detectEntryContext(lines);
  const starts = entryStarts(lines, ctx);
  return starts.map((s, k) => lines.slice(s, starts[k + 1] ?? lines.length));
}

const LOGBACK = `2024-06-12 10:00:00.100 [main] INFO  c.e.App - Starting
2024-06-12 10:00:01.200 [http-1] ERROR c.e.Api - Request failed
java.lang.IllegalStateException: order 42 is closed
	at com.example.Orders.close(Orders.java:88)
	at com.example.Api.handle(Api.java:41)
Caused by: java.sql.SQLException: connection reset
	at org.postgresql.Driver.send(Driver.java:10)
	... 12 more
2024-06-12 10:00:02.300 [main] WARN  c.e.App - Slow shutdown`;

Deno.test("a Java exception with Caused by and '... N more' stays with the ERROR line", () => {
  assertEquals(detectEntryContext(LOGBACK.split("\n")), STAMPED);
  const e = entries(LOGBACK);
  assertEquals(e.length, 3);
  assertEquals(e[1]![0], "2024-06-12 10:00:01.200 [http-1] ERROR c.e.Api - Request failed");
  assertEquals(e[1]!.length, 7);
  assertEquals(e[2]![0]!.includes("WARN"), true);
  assertEquals(e.map((x) => detectLevel(x[0]!)), ["info", "error", "warn"], "an entry's level is its first line's");
});

Deno.test("the same trace groups by its own shape in a file without timestamps", () => {
  const text = `ERROR Request failed
java.lang.IllegalStateException: order 42 is closed
	at com.example.Orders.close(Orders.java:88)
Caused by: java.sql.SQLException: connection reset
at org.postgresql.Driver.send(Driver.java:10)
... 12 more
Suppressed: java.io.IOException: x
INFO next`;
  assertEquals(detectEntryContext(text.split("\n")).stamped, false);
  assertEquals(entries(text).map((x) => x.length), [1, 6, 1], "the exception line starts its own entry here");
});

const PYTHON = `2024-06-12 10:00:00,100 - app - INFO - starting
2024-06-12 10:00:01,200 - app - ERROR - job failed
Traceback (most recent call last):
  File "/app/jobs.py", line 12, in run
    total = a / b
ZeroDivisionError: division by zero

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/app/jobs.py", line 14, in run
    raise JobError("bad input") from None
jobs.JobError: bad input
2024-06-12 10:00:02,300 - app - INFO - next job`;

Deno.test("a Python traceback, chained, stays with its log line", () => {
  const e = entries(PYTHON);
  assertEquals(e.map((x) => x.length), [1, 12, 1]);
  assertEquals(e[1]!.at(-1), "jobs.JobError: bad input");
  // Without timestamps the traceback's own shape holds it together, its last line included.
  const bare = PYTHON.replace(/^2024-\S+ \S+ - app - /gm, "");
  assertEquals(detectEntryContext(bare.split("\n")).stamped, false);
  assertEquals(entries(bare).map((x) => x.length), [1, 12, 1]);
  assertEquals(entries(bare)[2], ["INFO - next job"]);
});

const GO_PANIC = `2024/06/12 10:00:00 INFO serving addr=:8080
panic: runtime error: invalid memory address or nil pointer dereference
[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a2b40]

goroutine 1 [running]:
main.(*Server).handle(0x0, {0x6b8f18, 0xc00009a0c0})
	/app/main.go:42 +0x20
main.main()
	/app/main.go:12 +0x1d

goroutine 7 [chan receive]:
net/http.(*conn).serve(0xc0000a8000)
	/usr/local/go/src/net/http/server.go:2000 +0x5
created by net/http.(*Server).Serve in goroutine 1
	/usr/local/go/src/net/http/server.go:3000 +0x4
exit status 2
2024/06/12 10:00:05 INFO restarted`;

Deno.test("a Go panic and its goroutine dump are one entry", () => {
  const bare = GO_PANIC.split("\n").slice(1, -1).join("\n");
  assertEquals(entries(bare, DEFAULT_CONTEXT).map((x) => x.length), [bare.split("\n").length], "unstamped");
  const e = entries(GO_PANIC);
  assertEquals(detectEntryContext(GO_PANIC.split("\n")), STAMPED);
  assertEquals(e.map((x) => x.length), [1, GO_PANIC.split("\n").length - 2, 1], "stamped: the panic starts an entry");
  assertEquals(detectLevel(e[1]![0]!), "fatal");
  const after = entries(`${bare}\nnext line`, DEFAULT_CONTEXT);
  assertEquals(after.at(-1), ["next line"], "the dump ends where its shape does");
});

Deno.test("a Node.js stack: indented frames stay, the next line starts anew", () => {
  const text = `[2024-06-12T10:00:00.000Z] ERROR request failed
TypeError: Cannot read properties of undefined (reading 'id')
    at getUser (/app/users.js:10:15)
    at async Promise.all (index 0)
    at new Repo (/app/repo.js:3:9)
[2024-06-12T10:00:00.100Z] INFO next`;
  assertEquals(entries(text).map((x) => x.length), [5, 1]);
  assertEquals(entries(text, DEFAULT_CONTEXT).map((x) => x.length), [1, 4, 1]);
});

Deno.test("in a stamped file, an unstamped line continues the entry; a stamped line always starts one", () => {
  const text = `Jun 12 10:00:00 host app[1]: config:
key: value
other: 2
Jun 12 10:00:01 host app[1]: done
    Jun 12 10:00:02 indented but stamped? no: indentation comes first
Jun 12 10:00:03 host app[1]: end`;
  assertEquals(entries(text).map((x) => x.length), [3, 2, 1]);
  assert(isContinuation("key: value", STAMPED));
  assert(!isContinuation("2024-06-12T10:00:00Z x", STAMPED));
  assert(!isContinuation("key: value", DEFAULT_CONTEXT));
  assert(isContinuation("\tat a.B.c(B.java:1)", DEFAULT_CONTEXT));
  assert(!isContinuation("", DEFAULT_CONTEXT), "a blank line is its own entry in an unstamped file");
  assert(isContinuation("", STAMPED));
});

Deno.test("hasTimestamp() knows the stamps loggers start lines with", () => {
  const yes = [
    "2024-06-12T10:00:00.123Z x",
    "2024-06-12 10:00:00,123 x",
    "2024/06/12 10:00:00 [error] x",
    "[2024-06-12 10:00:00] x",
    "10:00:00.123 [info] x",
    "[10:00:00 INF] x",
    "Jun 12 10:00:00 host x",
    "Jun  2 10:00:00 host x",
    "[Wed Jun 12 10:00:00.123456 2024] [core:error] x",
    "Jun 12, 2024 10:00:00 AM com.example.App main",
    "12/Jun/2024:10:00:00 +0000 x",
    "12/06/2024 10:00:00 x",
    "06-12 10:00:00.123  1234  5678 E Tag: x",
    "E0612 10:00:00.123456   12345 x.go:1] x",
    "E, [2024-06-12T10:00:00.123456 #1] ERROR -- : x",
    "1718186400 x",
    "1718186400123 x",
    "1718186400.123 x",
    "[ 1234.567890] usb 1-1: x",
    "<34>Jun 12 10:00:00 host x",
    "<165>1 2024-06-12T10:00:00.003Z host x",
    "time=2024-06-12T10:00:00Z level=info",
    'time="2024-06-12T10:00:00Z" level=info',
    "ts=2024-06-12T10:00:00Z level=info",
  ];
  const no = [
    "java.lang.Exception: x",
    "\tat a.B.c(B.java:1)",
    "hello 2024-06-12 10:00:00",
    "12345 x",
    "2024 was a year",
    "2024-06-12 only a date",
    '{"time":"2024-06-12T10:00:00Z"}',
    '10.0.0.1 - - [12/Jun/2024:10:00:00 +0000] "GET / HTTP/1.1" 200',
    "",
  ];
  assertEquals(yes.filter((l) => !hasTimestamp(l)), []);
  assertEquals(no.filter((l) => hasTimestamp(l)), []);
});

Deno.test("detectEntryContext() decides by entries, not lines, and ignores indentation where all is indented", () => {
  // 10 stamped entries, each with a 30-line trace: 3 % of lines are stamped, all entries are.
  const heavy = Array.from({ length: 10 }, (_, i) =>
    [
      `2024-06-12 10:00:0${i} ERROR x`,
      "java.lang.RuntimeException: boom",
      ...Array.from({ length: 28 }, (_, k) => `\tat a.B.m${k}(B.java:${k})`),
      "Caused by: java.io.IOException: y",
    ].join("\n")).join("\n");
  assertEquals(detectEntryContext(heavy.split("\n")), STAMPED);
  const mixed = ["2024-06-12 10:00:00 a", "plain b", "plain c", "2024-06-12 10:00:00 d"];
  assertEquals(detectEntryContext(mixed).stamped, true, "half the starts");
  assertEquals(detectEntryContext([...mixed, "plain e"]).stamped, false, "fewer than half");
  assertEquals(detectEntryContext(["a", "b"]), DEFAULT_CONTEXT);
  assertEquals(detectEntryContext([]), DEFAULT_CONTEXT);
  const indented = ["  one", "  two", "  three", "  four", "five"];
  assertEquals(detectEntryContext(indented), { stamped: false, indent: false }, "indented throughout");
  assertEquals(entryStarts(indented, { stamped: false, indent: false }), [0, 1, 2, 3, 4]);
  assertEquals(entryStarts(indented, DEFAULT_CONTEXT), [0, 4]);
  assertEquals(detectEntryContext(["  one", "two", "three"]).indent, true, "fewer than 80 % indented");
  assertEquals(detectEntryContext(["head", "  one", "  two", "  three", "  four"]).indent, true, "a head line first");
});

Deno.test("EntryScanner reads lines as they arrive, and a clone resumes where it was", () => {
  const lines = PYTHON.split("\n");
  const ctx = detectEntryContext(lines);
  const whole = entryStarts(lines, ctx);
  const s = new EntryScanner(ctx);
  const one: number[] = [];
  for (let i = 0; i < 6; i++) if (!s.push(lines[i]!)) one.push(i);
  const copy = s.clone();
  for (let i = 6; i < lines.length; i++) if (!s.push(lines[i]!)) one.push(i);
  assertEquals(one, whole, "line by line = all at once");
  const resumed: number[] = [];
  for (let i = 6; i < lines.length; i++) if (!copy.push(lines[i]!)) resumed.push(i);
  assertEquals(resumed, whole.filter((i) => i >= 6), "the clone carried the traceback state");
  assertEquals(entryStarts(lines, ctx, 3, 8), [3], "a window starts an entry at its first line");
  const crlf = PYTHON.split("\n").map((l) => l + "\r");
  assertEquals(entryStarts(crlf, detectEntryContext(crlf)), whole, "CRLF lines group alike");
});

Deno.test("entryOf() finds the entry holding a line", () => {
  const starts = [0, 3, 4, 10];
  assertEquals([0, 2, 3, 4, 9, 10, 500].map((i) => entryOf(starts, i)), [0, 0, 1, 2, 2, 3, 3]);
  assertEquals(entryOf([5], 2), -1);
  assertEquals(entryOf([], 0), -1);
});
