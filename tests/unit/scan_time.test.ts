/**
 * `/time` (src/scan/time.ts): each stamp format on real-world lines, the
 * query's parsing, and the binary search on generated files (several MiB, so
 * it probes rather than reads through) against a reference that reads every
 * line: monotonic stamps with gaps, unstamped stretches (stack traces, one
 * longer than a probe's reach), times before the first and after the last
 * line; every format end to end; no stamps → 422.
 */
import { open } from "node:fs/promises";
import { assert, assertEquals } from "../helpers/assert.ts";
import { LogFile, scanErrorStatus } from "../../src/scan/log_file.ts";
import {
  detectFormat,
  epochMs,
  NoTimestampsError,
  parseStamp,
  parseStampAs,
  parseTimeQuery,
  PROBE_SPAN,
  type StampContext,
} from "../../src/scan/time.ts";
import { rng } from "../helpers/scan_fixtures.ts";

const ctx: StampContext = { mtimeMs: Date.UTC(2026, 11, 7, 12) };
const local = (y: number, mo: number, d: number, h: number, mi = 0, s = 0, ms = 0) =>
  new Date(y, mo, d, h, mi, s, ms).getTime();

Deno.test("RFC 3339 / ISO 8601 at the start of a line: T or space, fractions, offsets or none (UTC), prefixes", () => {
  const cases: Array<[string, number]> = [
    ["2026-12-07T00:11:49Z GET /", Date.UTC(2026, 11, 7, 0, 11, 49)],
    ["2026-12-07T00:11:49.123456+01:00 level=info msg=started", Date.UTC(2026, 11, 6, 23, 11, 49, 123)],
    ["2026-12-07 00:11:49,250 INFO root: Python logging", Date.UTC(2026, 11, 7, 0, 11, 49, 250)],
    ["2026-12-07 00:11:49.5 -0500 something", Date.UTC(2026, 11, 7, 5, 11, 49, 500)],
    ["2026-12-07T00:11:49+0530 x", Date.UTC(2026, 11, 6, 18, 41, 49)],
    ["2026-12-07t00:11:49z lower case", Date.UTC(2026, 11, 7, 0, 11, 49)],
    ["2026-12-07T00:11 minutes only", Date.UTC(2026, 11, 7, 0, 11)],
    ["[2026-12-07T00:11:49.000Z] [error] bracketed", Date.UTC(2026, 11, 7, 0, 11, 49)],
    ["<34>1 2026-12-07T00:11:49.003Z mymachine su - ID47 - RFC 5424", Date.UTC(2026, 11, 7, 0, 11, 49, 3)],
    ["2026/12/07 00:11:49 Go's log package", Date.UTC(2026, 11, 7, 0, 11, 49)],
    ["  2026-12-07T00:11:49Z indented", Date.UTC(2026, 11, 7, 0, 11, 49)],
    ["2024-02-29T12:00:00Z leap day", Date.UTC(2024, 1, 29, 12)],
  ];
  for (const [line, t] of cases) {
    assertEquals(parseStampAs("iso", line, ctx), t, line);
    assertEquals(parseStamp(line, ctx), { format: "iso", t }, line);
  }
  for (
    const line of [
      "INFO 2026-12-07T00:11:49Z not at the start",
      "2026-02-30T00:00:00Z no such day",
      "2026-13-01T00:00:00Z no such month",
      "2026-12-07T25:00:00Z no such hour",
      "2026-12-07 no time",
      "20261207T001149Z basic format",
    ]
  ) assert(Number.isNaN(parseStampAs("iso", line, ctx)), line);
});

Deno.test("syslog stamps: local time, the year from the mtime, the year before across New Year", () => {
  assertEquals(
    parseStampAs("syslog", "Dec  7 00:11:49 web1 sshd[4123]: Accepted publickey for deploy", ctx),
    local(2026, 11, 7, 0, 11, 49),
  );
  assertEquals(
    parseStampAs("syslog", "<13>Dec 17 00:11:49 host app: after the mtime: a year before", ctx),
    local(2025, 11, 17, 0, 11, 49),
  );
  const jan = { mtimeMs: new Date(2027, 0, 2, 10).getTime() };
  assertEquals(
    parseStampAs("syslog", "Dec 31 23:59:59 host kernel: [ 1.0] year end", jan),
    local(2026, 11, 31, 23, 59, 59),
  );
  assertEquals(parseStampAs("syslog", "Jan  2 09:00:00 host cron[1]: same year", jan), local(2027, 0, 2, 9));
  assertEquals(
    parseStampAs("syslog", "Jan  2 10:30:00 host x: within a day after the mtime", jan),
    local(2027, 0, 2, 10, 30),
  );
  assertEquals(parseStampAs("syslog", "<13>Dec 17 00:11:49 host app: x", jan), local(2026, 11, 17, 0, 11, 49));
  assertEquals(
    parseStampAs("syslog", "Dec  7 00:11:49.123456 host rsyslog high precision", ctx),
    local(2026, 11, 7, 0, 11, 49, 123),
  );
  assertEquals(parseStamp("Dec  7 00:11:49 web1 sshd[4123]: x", ctx)?.format, "syslog");
  for (const line of ["Feb 30 00:00:00 host x", "Dec 7 0:11:49 host", "December 7 00:11:49"]) {
    assert(Number.isNaN(parseStampAs("syslog", line, ctx)), line);
  }
});

Deno.test("common and combined log stamps anywhere in the line", () => {
  const common = '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326';
  assertEquals(parseStampAs("clf", common, ctx), Date.UTC(2000, 9, 10, 20, 55, 36));
  const combined = '203.0.113.9 - - [07/Dec/2026:00:11:49 +0000] "GET /index.html HTTP/1.1" 200 612 ' +
    '"https://example.com/" "Mozilla/5.0 (X11; Linux x86_64)"';
  assertEquals(parseStampAs("clf", combined, ctx), Date.UTC(2026, 11, 7, 0, 11, 49));
  assertEquals(parseStamp(combined, ctx), { format: "clf", t: Date.UTC(2026, 11, 7, 0, 11, 49) });
  assert(Number.isNaN(parseStampAs("clf", "[07/Foo/2026:00:11:49 +0000]", ctx)));
  assert(Number.isNaN(parseStampAs("clf", "[31/Nov/2026:00:11:49 +0000]", ctx)));
});

Deno.test("JSON lines: time, ts, timestamp, @timestamp as RFC 3339 or epoch s, ms, µs, ns", () => {
  const t = Date.UTC(2026, 11, 7, 0, 11, 49, 500);
  const cases: Array<[string, number]> = [
    [`{"time":"2026-12-07T00:11:49.5Z","level":"INFO","msg":"slog"}`, t],
    [`{"level":"info","ts":${t / 1000},"caller":"main.go:12","msg":"zap"}`, t],
    [`{"@timestamp":"2026-12-07T00:11:49.500Z","message":"logstash","@version":"1"}`, t],
    [`{"timestamp":${t},"msg":"epoch ms"}`, t],
    [`{"timestamp":"${t}","msg":"epoch ms as a string"}`, t],
    [`{"time":${t * 1000},"msg":"µs"}`, t],
    [`{"time":${t}000000,"msg":"ns"}`, t],
    [`{"level":30,"time":${t},"pid":1,"hostname":"h","msg":"pino"}`, t],
    [`{"ts":"2026-12-07 00:11:49.5+00:00","nested":{"time":"1999-01-01T00:00:00Z"}}`, t],
  ];
  for (const [line, want] of cases) {
    assertEquals(parseStampAs("json", line, ctx), want, line);
    assertEquals(parseStamp(line, ctx)?.format, "json", line);
  }
  // A line cut in the middle is not JSON any more: the first stamp-like key still counts.
  assertEquals(parseStampAs("json", `{"time":"2026-12-07T00:11:49.5Z","msg":"cut off here`, ctx), t);
  for (const line of [`{"msg":"no stamp"}`, `{"time":"yesterday"}`, `["time", 1]`, `{"time": true}`]) {
    assert(Number.isNaN(parseStampAs("json", line, ctx)), line);
  }
  assertEquals([epochMs(1.5e9), epochMs(1.5e12), epochMs(1.5e15), epochMs(1.5e18)], [1.5e12, 1.5e12, 1.5e12, 1.5e12]);
});

Deno.test("detectFormat takes the format most lines have, so a quoted stamp does not decide it", () => {
  const lines = [
    "Dec  7 00:11:49 host app: request [07/Dec/2026:00:11:49 +0000] quoted",
    "Dec  7 00:11:50 host app: plain",
    "    at stack.trace (file.js:1)",
  ];
  assertEquals(detectFormat(lines, ctx), "syslog");
  assertEquals(detectFormat(["no", "stamps", "here"], ctx), null);
});

Deno.test("parseTimeQuery: RFC 3339 or epoch ms, else the reason", () => {
  assertEquals(parseTimeQuery("2026-12-07T00:11:49Z"), { t: Date.UTC(2026, 11, 7, 0, 11, 49) });
  assertEquals(parseTimeQuery("2026-12-07T00:11:49.25+01:00"), { t: Date.UTC(2026, 11, 6, 23, 11, 49, 250) });
  assertEquals(parseTimeQuery("2026-12-07 00:11:49"), { t: Date.UTC(2026, 11, 7, 0, 11, 49) }, "no offset: UTC");
  assertEquals(parseTimeQuery("1765066309000"), { t: 1765066309000 });
  for (const bad of [null, "", "yesterday", "2026-12-07", "2026-12-07T00:11:49Z trailing", "1e12"]) {
    const r = parseTimeQuery(bad);
    assert("error" in r && r.error.startsWith("Cannot find a time: "), String(bad));
  }
});

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** A generated log: stamped lines in order with random gaps, and unstamped stretches now and then. */
function timedLog(
  n: number,
  seed: number,
  fmt: (t: number, i: number) => string,
  gapBytes = 0,
  advance = (_i: number, r: () => number) => Math.floor(r() * 3) * 1000, // equal stamps happen too
) {
  const r = rng(seed);
  let t = Date.UTC(2026, 11, 6);
  const lines: string[] = [];
  const stamps: Array<number | null> = [];
  for (let i = 0; i < n; i++) {
    t += advance(i, r);
    lines.push(fmt(t, i) + " " + "z".repeat(Math.floor(r() * 80)));
    stamps.push(t);
    if (r() < 0.02) {
      for (let k = 0; k < 5; k++) {
        lines.push(`    at frame${k} (src/app.ts:${k})`);
        stamps.push(null);
      }
    }
    if (gapBytes && i === Math.floor(n / 3)) {
      // A stretch with no stamp longer than a probe reads.
      for (let k = 0; k * 100 < gapBytes; k++) {
        lines.push("    unstamped " + "u".repeat(86));
        stamps.push(null);
      }
    }
  }
  const text = lines.join("\n") + "\n";
  const offsets: number[] = [];
  let at = 0;
  const enc = new TextEncoder();
  for (const l of lines) {
    offsets.push(at);
    at += enc.encode(l).length + 1;
  }
  return { text, stamps, offsets, first: stamps.find((s) => s !== null)!, last: stamps.findLast((s) => s !== null)! };
}

/** The reference answer: the first stamped line at or after t, by reading every line. */
function firstAtOrAfter(log: ReturnType<typeof timedLog>, t: number) {
  const i = log.stamps.findIndex((s) => s !== null && s >= t);
  return i < 0
    ? { n: null, offset: null, t: null }
    : { n: i + 1, offset: log.offsets[i]!, t: new Date(log.stamps[i]!).toISOString() };
}

async function withLog<T>(
  text: string,
  mtime: Date | null,
  fn: (log: LogFile, ask: (t: number) => Promise<unknown>) => Promise<T>,
) {
  const dir = await Deno.makeTempDir({ prefix: "filewatch-time-" });
  const path = `${dir}/t.log`;
  await Deno.writeTextFile(path, text);
  if (mtime) await Deno.utime(path, mtime, mtime);
  const log = new LogFile(path);
  const ask = async (t: number) => {
    const fh = await open(path, "r");
    const st = await fh.stat();
    try {
      return await log.time({ fh, size: st.size, dev: st.dev, ino: st.ino, mtimeMs: st.mtimeMs }, t);
    } finally {
      await fh.close();
    }
  };
  try {
    return await fn(log, ask);
  } finally {
    log.dispose();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("findTime by binary search on a generated 8 MiB log matches reading every line", async () => {
  const log = timedLog(90_000, 7, (t) => `${new Date(t).toISOString()} INFO`, 3 * PROBE_SPAN);
  assert(log.text.length > 6 * PROBE_SPAN, "large enough for the search to probe");
  await withLog(log.text, null, async (_lf, ask) => {
    const r = rng(8);
    const times = [log.first - 5000, log.first, log.first + 1, log.last, log.last + 1, log.last + 60_000];
    for (let i = 0; i < 40; i++) times.push(log.first + Math.floor(r() * (log.last - log.first)));
    // Exactly a line's stamp, which the lines around it often share: the first of them is the answer.
    const stamped = log.stamps.filter((s) => s !== null);
    for (let i = 0; i < 40; i++) times.push(stamped[Math.floor(r() * stamped.length)]!);
    // The times just around the unstamped stretch.
    const gapAt = log.stamps.findIndex((s, i) =>
      s === null && log.stamps[i + 1] === null && log.stamps[i + 2] === null
    );
    const before = log.stamps.slice(0, gapAt).findLast((s) => s !== null)!;
    times.push(before, before + 1, before + 1000);
    for (const t of times) assertEquals(await ask(t), firstAtOrAfter(log, t), new Date(t).toISOString());
  });
});

Deno.test("findTime on a bursty log (hundreds of lines per second-stamp) finds the first line of the second", async () => {
  // A new second every 300 to 700 lines.
  let left = 0;
  const log = timedLog(60_000, 12, (t) => `${new Date(t).toISOString()} INFO`, 0, (_i, r) => {
    if (left-- > 0) return 0;
    left = 300 + Math.floor(r() * 400);
    return 1000;
  });
  await withLog(log.text, null, async (_lf, ask) => {
    const stamped = [...new Set(log.stamps.filter((s) => s !== null))];
    const rr = rng(13);
    for (let i = 0; i < 25; i++) {
      const t = stamped[Math.floor(rr() * stamped.length)]!;
      assertEquals(await ask(t), firstAtOrAfter(log, t), new Date(t).toISOString());
    }
  });
});

Deno.test("findTime works for every format end to end: syslog, common log, JSON, ISO with a space", async () => {
  const mtime = new Date(2027, 0, 1, 0, 0, 0);
  const formats: Array<[string, (t: number, i: number) => string]> = [
    ["syslog", (t) => {
      const d = new Date(t);
      const mon = MONTHS[d.getMonth()];
      const pad = (x: number) => String(x).padStart(2, "0");
      return `${mon} ${String(d.getDate()).padStart(2, " ")} ${pad(d.getHours())}:${pad(d.getMinutes())}:${
        pad(d.getSeconds())
      } host app[1]:`;
    }],
    ["clf", (t, i) => {
      const d = new Date(t);
      const mon = MONTHS[d.getUTCMonth()];
      const pad = (x: number) => String(x).padStart(2, "0");
      return `10.0.0.${i % 250} - - [${pad(d.getUTCDate())}/${mon}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${
        pad(d.getUTCMinutes())
      }:${pad(d.getUTCSeconds())} +0000] "GET /${i} HTTP/1.1" 200 12`;
    }],
    ["json", (t, i) => `{"level":"info","ts":${t / 1000},"msg":"request ${i}"}`],
    ["iso space", (t) => new Date(t).toISOString().replace("T", " ").replace("Z", ",000 INFO")],
  ];
  for (const [name, fmt] of formats) {
    const log = timedLog(30_000, 9, fmt);
    await withLog(log.text, mtime, async (_lf, ask) => {
      const r = rng(10);
      for (let i = 0; i < 15; i++) {
        const t = log.first + Math.floor(r() * (log.last - log.first));
        assertEquals(await ask(t), firstAtOrAfter(log, t), `${name} ${new Date(t).toISOString()}`);
      }
    });
  }
});

Deno.test("findTime on a file without stamps is NoTimestampsError, a 422 with the reason", async () => {
  await withLog("no stamps\nat all\n".repeat(1000), null, async (_lf, ask) => {
    const e = await ask(Date.UTC(2026, 0, 1)).catch((e) => e);
    assert(e instanceof NoTimestampsError, String(e));
    const s = scanErrorStatus(e);
    assertEquals(s?.status, 422);
    assert(/^Unprocessable Content: No timestamps: /.test(s!.reason), s!.reason);
  });
  await withLog("", null, async (_lf, ask) => {
    assert((await ask(0).catch((e) => e)) instanceof NoTimestampsError, "an empty file has none either");
  });
});
