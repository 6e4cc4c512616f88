/**
 * `GET /time` (docs/protocol.md, "Time") against real servers on every
 * runtime: for each stamp format (RFC 3339, syslog, common log, JSON lines)
 * the first line stamped at or after a time, with its exact number, offset
 * and stamp, before the first stamp, on one, between two and after the last;
 * a file without stamps is 422 with the reason; a rotated generation by
 * `&file=`, plain and `.gz`. Every answer is checked against
 * docs/http.schema.json.
 */
import { gzipSync } from "node:zlib";
import { assertEquals, assertMatch } from "../helpers/assert.ts";
import { RUNTIMES, startServer } from "../helpers/harness.ts";
import { getJson } from "../helpers/http_schema.ts";

const enc = new TextEncoder();
const T0 = Date.UTC(2026, 11, 7, 0, 11, 49, 0);
const MON = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const two = (n: number) => String(n).padStart(2, "0");

/** A log of `n` stamped lines 1.5 s apart from `t0` (every 7th followed by an unstamped line), as `stamp` writes them. */
function stamped(n: number, t0: number, stamp: (t: number, i: number) => string) {
  const lines: string[] = [];
  const stamps: { n: number; offset: number; t: number }[] = [];
  let offset = 0;
  for (let i = 0; i < n; i++) {
    const t = t0 + i * 1500;
    const line = stamp(t, i);
    stamps.push({ n: lines.length + 1, offset, t });
    lines.push(line);
    offset += enc.encode(line).length + 1;
    if (i % 7 === 3) {
      const trace = "    at handler (/srv/app.js:10:5)";
      lines.push(trace);
      offset += trace.length + 1;
    }
  }
  return { text: lines.join("\n") + "\n", stamps };
}

const FORMATS = {
  // Stamps to the second in some formats: the times are whole seconds there.
  "iso.log": stamped(3000, T0, (t, i) => `${new Date(t).toISOString()} INFO request ${i} done`),
  "syslog.log": stamped(3000, T0, (t, i) => {
    const d = new Date(t);
    const day = String(d.getUTCDate()).padStart(2, " ");
    return `${MON[d.getUTCMonth()]} ${day} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${
      two(d.getUTCSeconds())
    } host app[42]: event ${i}`;
  }),
  "clf.log": stamped(3000, T0, (t, i) => {
    const d = new Date(t + 3_600_000); // written in +0100
    return `127.0.0.1 - - [${two(d.getUTCDate())}/${MON[d.getUTCMonth()]}/${d.getUTCFullYear()}:${
      two(d.getUTCHours())
    }:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0100] "GET /item/${i} HTTP/1.1" 200 ${i}`;
  }),
  "json.log": stamped(
    3000,
    T0,
    (t, i) =>
      i % 2
        ? JSON.stringify({ level: "info", time: new Date(t).toISOString(), msg: `job ${i}` })
        : JSON.stringify({ ts: t / 1000, level: "info", msg: `job ${i}` }),
  ),
};
/** Whole seconds where the format has no fraction. */
const grain = (name: string) => name === "iso.log" || name === "json.log" ? 1 : 1000;

interface TimeAnswer {
  n: number | null;
  offset: number | null;
  t: string | null;
}

for (const rt of RUNTIMES) {
  const t = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${rt}] ${name}`, fn, sanitizeOps: false, sanitizeResources: false });

  t("/time finds the first line at or after a time in each stamp format; no stamps is 422", async () => {
    const dir = await Deno.makeTempDir({ prefix: "filewatch-time-" });
    for (const [name, f] of Object.entries(FORMATS)) await Deno.writeTextFile(`${dir}/${name}`, f.text);
    // A syslog stamp has no year: the file's mtime gives it.
    await Deno.utime(`${dir}/syslog.log`, new Date(T0 + 86_400_000), new Date(T0 + 86_400_000));
    await Deno.writeTextFile(`${dir}/plain.log`, "no stamps\nat all\n".repeat(100));
    // Syslog stamps are in the server's zone: UTC here.
    const s = await startServer(rt, { file: dir, args: ["--dir"], env: { TZ: "UTC" } });
    try {
      for (const [name, f] of Object.entries(FORMATS)) {
        const ask = (q: string) => getJson<TimeAnswer>(`${s.url}time/${name}?t=${q}`, "time");
        const at = (k: number) => {
          const x = f.stamps[k]!;
          return { n: x.n, offset: x.offset, t: new Date(Math.floor(x.t / grain(name)) * grain(name)).toISOString() };
        };
        assertEquals(await ask(String(T0 - 60_000)), at(0), `${name}: before the first`);
        assertEquals(await ask(new Date(f.stamps[1234]!.t).toISOString()), at(1234), `${name}: on a stamp`);
        // Between two stamps: the later (1.5 s apart: 1 s after one is before the next, at any grain).
        assertEquals(await ask(String(f.stamps[2000]!.t + 1000)), at(2001), `${name}: between`);
        assertEquals(await ask(String(f.stamps.at(-1)!.t + 5000)), { n: null, offset: null, t: null }, name);
      }
      const none = await fetch(`${s.url}time/plain.log?t=0`);
      assertEquals(none.status, 422);
      assertMatch(await none.text(), /^Unprocessable Content: No timestamps: .*\n$/);
    } finally {
      await s.stop();
      await Deno.remove(dir, { recursive: true });
    }
  });

  t("/time of a rotated generation by &file=, plain and .gz", async () => {
    const dir = await Deno.makeTempDir({ prefix: "filewatch-time-gen-" });
    const day = 86_400_000;
    const gens = {
      "app.log": stamped(500, T0, (t, i) => `${new Date(t).toISOString()} live ${i}`),
      "app.log.1": stamped(500, T0 - day, (t, i) => `${new Date(t).toISOString()} yesterday ${i}`),
      "app.log.2.gz": stamped(500, T0 - 2 * day, (t, i) => `${new Date(t).toISOString()} before ${i}`),
    };
    for (const [name, f] of Object.entries(gens)) {
      const bytes = enc.encode(f.text);
      await Deno.writeFile(`${dir}/${name}`, name.endsWith(".gz") ? gzipSync(bytes) : bytes);
    }
    const s = await startServer(rt, { file: `${dir}/app.log` });
    try {
      for (const [name, f] of Object.entries(gens)) {
        const x = f.stamps[321]!;
        const q = name === "app.log" ? "" : `&file=${name}`;
        const got = await getJson<TimeAnswer>(`${s.url}time?t=${new Date(x.t - 700).toISOString()}${q}`, "time");
        assertEquals(got, { n: x.n, offset: x.offset, t: new Date(x.t).toISOString() }, name);
      }
    } finally {
      await s.stop();
      await Deno.remove(dir, { recursive: true });
    }
  });
}
