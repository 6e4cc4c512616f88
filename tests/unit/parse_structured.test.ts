/**
 * JSON lines and logfmt (src/shared/structured.ts): detection per file,
 * reading a line, its one-line summary, pretty-printing, and hostile input.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import {
  detectFormat,
  FORMAT_SAMPLE,
  parseJsonLine,
  parseLine,
  parseLogfmtLine,
  pretty,
  PRETTY_DEPTH,
  summary,
} from "../../src/shared/structured.ts";
import { detectLevel } from "../../src/shared/levels.ts";

const json = (i: number) =>
  `{"time":"2024-06-12T10:00:${String(i % 60).padStart(2, "0")}Z","level":"info","msg":"m${i}"}`;
const logfmt = (i: number) => `time=2024-06-12T10:00:00Z level=info msg="request ${i}" status=200`;
const text = (i: number) => `2024-06-12 10:00:00 INFO request ${i} done`;

Deno.test("detectFormat() needs 80 % of the first 50 non-empty lines to be of a format", () => {
  const mix = (f: (i: number) => string, good: number, bad: number) => [
    ...Array.from({ length: good }, (_, i) => f(i)),
    ...Array.from({ length: bad }, (_, i) => text(i)),
  ];
  assertEquals(detectFormat(mix(json, 40, 10)), "json", "40 of 50");
  assertEquals(detectFormat(mix(json, 39, 11)), null, "39 of 50");
  assertEquals(detectFormat(mix(logfmt, 40, 10)), "logfmt");
  assertEquals(detectFormat(mix(logfmt, 39, 11)), null);
  assertEquals(detectFormat(["", "  ", ...mix(json, 4, 1)]), "json", "blank lines are not counted");
  assertEquals(
    detectFormat([...mix(json, FORMAT_SAMPLE, 0), ...Array.from({ length: 500 }, (_, i) => text(i))]),
    "json",
    "only the first 50 count",
  );
  assertEquals(detectFormat([...Array.from({ length: 50 }, (_, i) => text(i)), ...mix(json, 500, 0)]), null);
  assertEquals(detectFormat([]), null);
  assertEquals(detectFormat(["", ""]), null);
  assertEquals(detectFormat(Array.from({ length: 50 }, (_, i) => text(i))), null, "plain text");
  assertEquals(
    detectFormat(['{"log":"hello\\n","stream":"stdout","time":"2024-06-12T10:00:00Z"}']),
    "json",
    "Docker's json-file log",
  );
  assertEquals(detectFormat(["[1,2,3]", "[4]", '"a string"', "42", "null"]), null, "JSON that is not objects");
});

Deno.test("parseJsonLine() picks time, level and message by their common names and keeps the rest in order", () => {
  const s = parseJsonLine('{"ts":"2024-06-12T10:00:00Z","level":"WARN","msg":"slow query","ms":812,"db":{"host":"a"}}');
  assertEquals(s, {
    format: "json",
    time: "2024-06-12T10:00:00Z",
    level: "warn",
    levelText: "WARN",
    message: "slow query",
    fields: [{ key: "ms", value: "812", text: false }, { key: "db", value: '{"host":"a"}', text: false }],
  });
  const names: [string, string, string, string][] = [
    ['{"timestamp":"T","severity":"ERROR","message":"m"}', "T", "error", "m"],
    ['{"@timestamp":"T","log.level":"debug","message":"m"}', "T", "debug", "m"],
    ['{"time":"T","lvl":"trace","event":"m"}', "T", "trace", "m"],
    ['{"@t":"T","@l":"Fatal","@mt":"m"}', "T", "fatal", "m"],
    ['{"Timestamp":"T","LogLevel":"Information","Message":"m"}', "T", "info", "m"],
  ];
  for (const [line, time, level, message] of names) {
    const r = parseJsonLine(line);
    assert(r, line);
    assertEquals([r.time, r.level, r.message], [time, level, message], line);
  }
  const pino = parseJsonLine('{"level":50,"time":1718186400123,"msg":"unhandled","pid":7}')!;
  assertEquals([pino.level, pino.levelText, pino.time], ["error", "50", "2024-06-12T10:00:00.123Z"]);
  const zap = parseJsonLine('{"level":"info","ts":1718186400.5,"msg":"ok"}')!;
  assertEquals(zap.time, "2024-06-12T10:00:00.500Z", "epoch seconds with a fraction");
  assertEquals(parseJsonLine('{"time":1e300,"msg":"x"}')!.time, "1e300", "a number that is no time stays as written");
  assertEquals(parseJsonLine('{"level":"chatty","msg":"x"}')!.level, null);
  assertEquals(parseJsonLine("  {}  ")!.fields, []);
  assertEquals(
    parseJsonLine('{"msg":"a\tb"}')!.message,
    "a\tb",
    "a raw tab in a string without escapes is let through",
  );
});

Deno.test("an epoch time becomes the same ISO 8601 text as toISOString, from 1970 to 9999", () => {
  const ms = [0, 951782400000, 951868800000, 4107542399999, 4107542400000, 253402300799999, 1718186400123];
  for (let x = 0; x < 253402300800000; x += 7_777_777_777_777) ms.push(x, x + 86_399_999);
  for (const m of ms) {
    const asMs = m < 1e11 ? m * 1000 : m; // below 1e11 it is seconds
    assertEquals(parseJsonLine(`{"ts":${m},"msg":"x"}`)!.time, new Date(asMs).toISOString(), String(m));
  }
  assertEquals(parseJsonLine('{"ts":99999999999,"msg":"x"}')!.time, "5138-11-16T09:46:39.000Z", "seconds");
  assertEquals(parseJsonLine('{"ts":100000000000,"msg":"x"}')!.time, "1973-03-03T09:46:40.000Z", "milliseconds");
  assertEquals(parseJsonLine('{"ts":-1,"msg":"x"}')!.time, "-1", "before 1970: as written");
  assertEquals(parseJsonLine('{"ts":253402300800000,"msg":"x"}')!.time, "253402300800000", "after 9999: as written");
});

Deno.test("parseJsonLine() reads Docker's json-file lines by their log text", () => {
  const d = parseJsonLine(
    '{"log":"2024-06-12 10:00:00 WARN disk 91%\\n","stream":"stderr","time":"2024-06-12T10:00:00.000000001Z"}',
  )!;
  assertEquals(d.message, "2024-06-12 10:00:00 WARN disk 91%");
  assertEquals(d.time, "2024-06-12T10:00:00.000000001Z");
  assertEquals(d.fields, [{ key: "stream", value: "stderr", text: true }]);
  const inner = parseJsonLine(
    '{"log":"{\\"level\\":\\"error\\",\\"msg\\":\\"boom\\",\\"user\\":42}\\n","stream":"stdout","time":"2024-06-12T10:00:00Z"}',
  )!;
  assertEquals([inner.level, inner.message, inner.time], ["error", "boom", "2024-06-12T10:00:00Z"]);
  assertEquals(inner.fields.map((f) => f.key), ["user", "stream"]);
});

Deno.test("a JSON line's level agrees with detectLevel() on the same line", () => {
  for (
    const line of [
      '{"level":"warn","msg":"a"}',
      '{"severity":"CRITICAL","message":"b"}',
      '{"level":40,"msg":"c"}',
      '{"lvl":"dbug","msg":"d"}',
      '{"msg":"ERROR in text only"}',
    ]
  ) {
    assertEquals(parseJsonLine(line)!.level, detectLevel(line), line);
  }
});

Deno.test("parseJsonLine() refuses what is not one JSON object", () => {
  for (
    const bad of [
      "",
      "[1,2]",
      '"text"',
      "42",
      "null",
      "{",
      '{"a":1',
      '{"a":1}}',
      '{"a":1} trailing',
      '{"a":01}',
      '{"a":1,}',
      "{'a':1}",
      '{"a":tru}',
      '{"a":"\\q"}',
      '{"a":"\\u12"}',
      '{"a":"\x01\\n"}',
      '{"a":"\\x"}',
      '{"a":[1,2,]}',
      '{"a":{"b":1]}',
      '{"a" 1}',
      '2024-06-12 {"a":1}',
    ]
  ) {
    assertEquals(parseJsonLine(bad), null, JSON.stringify(bad));
  }
});

Deno.test("parseJsonLine() on hostile input: deep nesting, huge numbers, __proto__ keys", () => {
  const deep = `{"a":${"[".repeat(100_000)}${"]".repeat(100_000)},"msg":"deep"}`;
  const d = parseJsonLine(deep)!;
  assertEquals(d.message, "deep");
  assertEquals(d.fields[0]!.value!.length, 200_000);
  assertEquals(parseJsonLine(`{"a":${"[".repeat(100_000)}}`), null, "unbalanced deep nesting");
  const deepObj = `{"a":${'{"b":'.repeat(50_000)}1${"}".repeat(50_000)}}`;
  assert(parseJsonLine(deepObj), "50,000 nested objects");

  const big = parseJsonLine('{"id":123456789012345678901234567890,"f":1.5e999,"msg":"m"}')!;
  assertEquals(big.fields.map((f) => f.value), ["123456789012345678901234567890", "1.5e999"], "numbers as written");
  assertEquals(summary(big), "m id=123456789012345678901234567890 f=1.5e999");

  const evil = parseJsonLine(
    '{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":2}},"msg":"hi","__proto__":"x"}',
  )!;
  assertEquals(evil.fields.map((f) => f.key), ["__proto__", "constructor", "__proto__"]);
  assertEquals(({} as Record<string, unknown>)["polluted"], undefined);
  assertEquals(Object.getPrototypeOf(evil), Object.prototype, "the result is a plain object, its prototype untouched");
  const lf = parseLogfmtLine("__proto__=x constructor=y msg=hi")!;
  assertEquals(lf.fields.map((f) => f.key), ["__proto__", "constructor"]);
  assertEquals(({} as Record<string, unknown>)["x"], undefined);
});

Deno.test("parseLogfmtLine() reads pairs, quoted values with escapes and bare keys, and refuses prose", () => {
  const s = parseLogfmtLine('time=2024-06-12T10:00:00Z level=warn msg="disk \\"data\\" 91%" path=/var/lib dry')!;
  assertEquals(s.time, "2024-06-12T10:00:00Z");
  assertEquals(s.level, "warn");
  assertEquals(s.message, 'disk "data" 91%');
  assertEquals(s.fields, [{ key: "path", value: "/var/lib", text: true }, { key: "dry", value: null, text: true }]);
  assertEquals(parseLogfmtLine('ts=1 caller=main.go:12 level=info msg="a\\nb"')!.message, "a\nb");
  assertEquals(parseLogfmtLine("url=http://x/?a=b&c=d level=info")!.fields[0]!.value, "http://x/?a=b&c=d");
  assertEquals(parseLogfmtLine("a=1 b=")!.fields[1]!.value, "", "an empty value");
  for (
    const bad of [
      "Starting server on port=8080 host=0.0.0.0",
      "a=1",
      "just words here",
      'msg="unterminated level=info',
      'a="x"y b=2',
      'a=x"y b=2',
      "1a=2 b=3",
      "-x=1 b=2",
      "a=1 b=2 c d",
      "",
    ]
  ) {
    assertEquals(parseLogfmtLine(bad), null, bad);
  }
  assertEquals(parseLine("a=1 b=2", "logfmt")?.format, "logfmt");
  assertEquals(parseLine("a=1 b=2", "json"), null);
});

Deno.test("summary() writes time LEVEL message key=value, quoting values only when needed", () => {
  assertEquals(
    summary(
      parseJsonLine('{"ts":1718186400,"level":"warn","msg":"slow","ms":812,"q":"a b","e":"","eq":"x=y","ok":true}')!,
    ),
    '2024-06-12T10:00:00.000Z WARN slow ms=812 q="a b" e="" eq="x=y" ok=true',
  );
  assertEquals(
    summary(parseJsonLine('{"msg":"line one\\nline two","k":"tab\\there"}')!),
    'line one\\nline two k="tab\\there"',
  );
  assertEquals(summary(parseJsonLine('{"level":"verbose2","msg":"m"}')!), "verbose2 m", "an unknown level as written");
  assertEquals(summary(parseJsonLine('{"a b":1,"obj":{"x": [1, 2]}}')!), '"a b"=1 obj={"x":[1,2]}');
  assertEquals(summary(parseLogfmtLine('level=error msg="it broke" code=E42 dry')!), "ERROR it broke code=E42 dry");
  assertEquals(
    summary(parseJsonLine('{"msg":"\\u001b[31mred\\u001b[0m"}')!),
    "\x1b[31mred\x1b[0m",
    "escapes in a message stay for the ANSI parser",
  );
  assertEquals(summary(parseJsonLine("{}")!), "");
});

Deno.test("pretty() re-indents a JSON object from its own text, and shows logfmt as JSON", () => {
  assertEquals(
    pretty('{"level":"info","n":12345678901234567890,"a":[1,{"b":null}],"e":{},"f":[],"s":"x, {y}: [z]"}'),
    [
      "{",
      '  "level": "info",',
      '  "n": 12345678901234567890,',
      '  "a": [',
      "    1,",
      "    {",
      '      "b": null',
      "    }",
      "  ],",
      '  "e": {},',
      '  "f": [],',
      '  "s": "x, {y}: [z]"',
      "}",
    ].join("\n"),
  );
  assertEquals(pretty('  { "a" :  1 ,"b":[ ] }  '), '{\n  "a": 1,\n  "b": []\n}');
  assertEquals(
    pretty('level=info msg="hi there" dry'),
    '{\n  "level": "info",\n  "msg": "hi there",\n  "dry": true\n}',
  );
  assertEquals(pretty("not structured"), null);
  assertEquals(pretty("[1,2]"), null);
  const deep = `{"a":${"[".repeat(10_000)}${"]".repeat(10_000)}}`;
  const p = pretty(deep)!;
  assert(p.length < 20_000 + PRETTY_DEPTH * PRETTY_DEPTH * 3, `deep nesting stays small (${p.length} chars)`);
  assertEquals(p.replace(/\s/g, ""), deep, "nothing but blanks added");
});
