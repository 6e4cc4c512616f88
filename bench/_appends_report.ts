/**
 * The appends benchmark's markdown summary (bench/appends.ts): medians over
 * repetitions per cell and server, ratios to frontail, and the issue's goals.
 * Pure functions, no I/O.
 *
 * @module
 */
import { median } from "./_report.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

interface Row {
  server: string;
  reps: number;
  failed: number;
  viewers: number | null;
  completeMin: number | null;
  closedMax: number | null;
  recvPct: number | null;
  p50: number | null;
  p99: number | null;
  max: number | null;
  cpuMsLine: number | null;
  /** Server CPU per line a viewer actually received (µs): fair when a server falls behind. */
  cpuUsDelivered: number | null;
  cores: number | null;
  wire: number | null;
  payload: number | null;
  rssIdleMiB: number | null;
  rssConnMiB: number | null;
  rssPerConnKiB: number | null;
  rssEarlyMiB: number | null;
  rssEndMiB: number | null;
  endVsEarly: number | null;
  drainS: number | null;
  connectS: number | null;
  clientCores: number | null;
  machineCores: number | null;
  helperCpuS: number | null;
  load: number | null;
}

function fmt(x: number | null | undefined, digits = 1): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "–";
  return x.toFixed(digits);
}
/** A latency: the histogram's last bucket is "60 s or more". */
function ms(x: number | null | undefined): string {
  return typeof x === "number" && x >= 60_000 ? "≥ 60000" : fmt(x);
}
const ratio = (a: number | null, b: number | null): number | null => (a !== null && b ? a / b : null);

function rows(runs: Any[], cell: string): Row[] {
  const servers = [...new Set(runs.filter((r) => r.cell === cell).map((r) => r.server as string))];
  return servers.map((server) => {
    const all = runs.filter((r) => r.cell === cell && r.server === server);
    const ok = all.filter((r) => r.ok);
    const m = (f: (r: Any) => number | null | undefined) => median(ok.map((r) => f(r.result)));
    const mib = (k: number | null | undefined) => (typeof k === "number" ? k / 1024 : null);
    return {
      server,
      reps: ok.length,
      failed: all.length - ok.length,
      viewers: m((x) => x.run.viewers),
      completeMin: ok.length ? Math.min(...ok.map((r) => r.result.run.complete)) : null,
      closedMax: ok.length ? Math.max(...ok.map((r) => r.result.run.closed)) : null,
      recvPct: m((x) => x.run.linesReceivedPct),
      p50: m((x) => x.run.latencyMs.p50),
      p99: m((x) => x.run.latencyMs.p99),
      max: m((x) => x.run.latencyMs.max),
      cpuMsLine: m((x) => x.run.cpuPerLineMs),
      cpuUsDelivered: m((x) => {
        const got = (x.run.linesReceivedPct / 100) * x.run.viewers * x.linesWritten;
        return got > 0 ? (x.run.serverCpuS / got) * 1e6 : null;
      }),
      cores: m((x) => x.run.serverCores),
      wire: m((x) => x.run.wirePerLinePerViewer),
      payload: m((x) => x.run.payloadPerLinePerViewer),
      rssIdleMiB: m((x) => mib(x.rssIdleBeforeKiB)),
      rssConnMiB: m((x) => mib(x.idle.rssKiB)),
      rssPerConnKiB: m((x) => x.idle.rssPerConnKiB),
      rssEarlyMiB: m((x) => mib(x.run.rssEarlyKiB)),
      rssEndMiB: m((x) => mib(x.run.rssEndKiB)),
      endVsEarly: m((x) => (x.run.rssEarlyKiB ? x.run.rssEndKiB / x.run.rssEarlyKiB : null)),
      drainS: m((x) => x.run.drainS),
      connectS: m((x) => x.connect.seconds),
      clientCores: m((x) => x.run.clientCores),
      machineCores: m((x) => x.run.machineCores),
      helperCpuS: m((x) => x.run.helperCpuS),
      load: median(ok.map((r) => r.loadBefore)),
    };
  });
}

function table(head: string[], body: string[][]): string {
  return [
    `| ${head.join(" | ")} |`,
    `| ${head.map((_h, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`,
    ...body.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}

const CPU_NOTE = "CPU ms/line = server CPU over the writes and the drain ÷ lines written; CPU µs/line·viewer = " +
  "the same CPU ÷ lines viewers actually received (fair when a server falls behind).";
const HELPER_NOTE = 'CPU and RSS are the server process\'s (for frontail the node process); "helper CPU s" is ' +
  "its child processes' CPU over the whole write + drain (frontail's `tail -F`), not counted in CPU ms/line.";

const mark = (ok: boolean | null) => (ok === null ? "?" : ok ? "met" : "**missed**");

/** Renders the summary of one results.json ({ meta, runs }). */
export function renderAppendsSummary(data: { meta: Any; runs: Any[] }): string {
  const { meta, runs } = data;
  const v = meta.versions ?? {};
  const out: string[] = [];
  out.push(`# Appends benchmark: ${meta.startedAt} – ${meta.finishedAt || "(unfinished)"}`);
  out.push("");
  out.push(
    `Command: \`${meta.command}\`. Code: ${v.git}${v.srcDirty === "yes" ? " (src/ dirty)" : ""}. ` +
      `${v.deno}; Bun ${v.bun}; Node ${v.node}; frontail ${v.frontail}; socket.io-client ${v.socketIoClient}; ` +
      `${v.cores} cores (${v.cpu}), Linux ${v.kernel}.`,
  );
  out.push(
    `Log: ${meta.initialSize} bytes of ${meta.lineBytes}-byte lines, then one ${meta.lineBytes}-byte line per write. ` +
      `Medians of ${meta.config?.reps} repetitions; failed runs: ${runs.filter((r) => !r.ok).length}.`,
  );
  out.push("");
  const cells = meta.cells ?? {};

  if (cells.A) {
    const rs = rows(runs, "A");
    const fr = rs.find((r) => r.server === "frontail");
    out.push(`## A: ${cells.A.n} viewers, ${cells.A.rate} lines/s, ${cells.A.durationS} s`);
    out.push("");
    out.push(table(
      [
        "server",
        "reps",
        "complete (min)",
        "p50 ms",
        "p99 ms",
        "CPU ms/line",
        "× frontail",
        "CPU µs/line·viewer",
        "wire B/line/viewer",
        "payload B/line/viewer",
        "RSS idle MiB",
        `RSS ${cells.A.n} MiB`,
        "RSS/conn KiB",
        "× frontail",
        "client cores",
        "helper CPU s",
        "load before",
      ],
      rs.map((r) => [
        r.server,
        `${r.reps}${r.failed ? ` (+${r.failed} failed)` : ""}`,
        `${r.completeMin ?? "–"}/${fmt(r.viewers, 0)}`,
        ms(r.p50),
        ms(r.p99),
        fmt(r.cpuMsLine, 2),
        fmt(ratio(r.cpuMsLine, fr?.cpuMsLine ?? null), 2),
        fmt(r.cpuUsDelivered, 2),
        fmt(r.wire, 0),
        fmt(r.payload, 0),
        fmt(r.rssIdleMiB),
        fmt(r.rssConnMiB),
        fmt(r.rssPerConnKiB),
        fmt(ratio(r.rssPerConnKiB, fr?.rssPerConnKiB ?? null), 2),
        fmt(r.clientCores, 2),
        fmt(r.helperCpuS, 2),
        fmt(r.load, 2),
      ]),
    ));
    out.push("");
    out.push(HELPER_NOTE + " " + CPU_NOTE);
    out.push("");
    if (fr) {
      out.push(
        "Goals (A): CPU/line ≤ frontail's, p99 ≤ frontail's, ≤ 150 B/line/viewer on the wire, " +
          "RSS/conn ≤ frontail's (Bun ≤ 0.2× frontail's).",
      );
      out.push("");
      for (const r of rs.filter((x) => x.server.startsWith("fw-"))) {
        const bun = r.server.includes("bun");
        const rssGoal = (fr.rssPerConnKiB ?? NaN) * (bun ? 0.2 : 1);
        out.push(
          `- ${r.server}: CPU/line ${
            mark(r.cpuMsLine !== null && fr.cpuMsLine !== null ? r.cpuMsLine <= fr.cpuMsLine : null)
          }` +
            `, p99 ${mark(r.p99 !== null && fr.p99 !== null ? r.p99 <= fr.p99 : null)}` +
            `, bytes ${mark(r.wire !== null ? r.wire <= 150 : null)}` +
            `, RSS/conn ${
              mark(r.rssPerConnKiB !== null && Number.isFinite(rssGoal) ? r.rssPerConnKiB <= rssGoal : null)
            }` +
            ` (${fmt(r.rssPerConnKiB)} vs ≤ ${fmt(rssGoal)} KiB)`,
        );
      }
      out.push("");
    }
    // Issue 27: the page's format (filewatch.bin.v1) against filewatch.v1 in the same configuration, and
    // memory against frontail and the bare server of the runtime.
    const bins = rs.filter((x) => /^fw-(deno|bun)-bin/.test(x.server));
    if (bins.length) {
      out.push(
        "Goals (A, filewatch.bin.v1): ≤ 150 B/line/viewer on the wire, CPU/line ≤ filewatch.v1's in the same " +
          "configuration; Deno: RSS/conn ≤ frontail's, and within 1.2× of the bare server (base-deno-tail).",
      );
      out.push("");
      for (const r of bins) {
        const v1 = rs.find((x) => x.server === r.server.replace("-bin", "-v1"));
        const base = rs.find((x) => x.server === `base-${r.server.split("-")[1]}-tail`);
        const deno = r.server.includes("deno");
        out.push(
          `- ${r.server}: bytes ${mark(r.wire !== null ? r.wire <= 150 : null)} (${fmt(r.wire, 0)})` +
            `, CPU/line vs ${v1?.server ?? "v1"} ${
              mark(r.cpuMsLine !== null && v1?.cpuMsLine ? r.cpuMsLine <= v1.cpuMsLine : null)
            } (${fmt(ratio(r.cpuMsLine, v1?.cpuMsLine ?? null), 2)}×)` +
            (deno
              ? `, RSS/conn vs frontail ${
                mark(r.rssPerConnKiB !== null && fr?.rssPerConnKiB ? r.rssPerConnKiB <= fr.rssPerConnKiB : null)
              } (${fmt(ratio(r.rssPerConnKiB, fr?.rssPerConnKiB ?? null), 2)}×)`
              : "") +
            `, RSS/conn ÷ ${base?.server ?? "bare"} ${fmt(ratio(r.rssPerConnKiB, base?.rssPerConnKiB ?? null), 2)}` +
            (deno
              ? ` ${
                mark(
                  r.rssPerConnKiB !== null && base?.rssPerConnKiB ? r.rssPerConnKiB <= 1.2 * base.rssPerConnKiB : null,
                )
              }`
              : ""),
        );
      }
      out.push("");
    }
  }

  if (cells.B) {
    const rs = rows(runs, "B");
    const fr = rs.find((r) => r.server === "frontail");
    out.push(`## B: ${cells.B.n} viewers, ${cells.B.rate} lines/s, ${cells.B.durationS} s`);
    out.push("");
    out.push(table(
      [
        "server",
        "reps",
        "complete (min)",
        "closed (max)",
        "lines recv %",
        "p50 ms",
        "p99 ms",
        "max ms",
        "drain s",
        "server cores",
        "CPU ms/line",
        "× frontail",
        "CPU µs/line·viewer",
        "× frontail",
        "wire B/line/viewer",
        "RSS at 5 s MiB",
        "RSS end MiB",
        "end ÷ 5 s",
        "connect s",
        "client cores",
        "helper CPU s",
        "load before",
      ],
      rs.map((r) => [
        r.server,
        `${r.reps}${r.failed ? ` (+${r.failed} failed)` : ""}`,
        `${r.completeMin ?? "–"}/${fmt(r.viewers, 0)}`,
        String(r.closedMax ?? "–"),
        fmt(r.recvPct, 2),
        ms(r.p50),
        ms(r.p99),
        ms(r.max),
        fmt(r.drainS),
        fmt(r.cores, 2),
        fmt(r.cpuMsLine, 2),
        fmt(ratio(r.cpuMsLine, fr?.cpuMsLine ?? null), 2),
        fmt(r.cpuUsDelivered, 2),
        fmt(ratio(r.cpuUsDelivered, fr?.cpuUsDelivered ?? null), 2),
        fmt(r.wire, 0),
        fmt(r.rssEarlyMiB),
        fmt(r.rssEndMiB),
        fmt(r.endVsEarly, 2),
        fmt(r.connectS),
        fmt(r.clientCores, 2),
        fmt(r.helperCpuS, 2),
        fmt(r.load, 2),
      ]),
    ));
    out.push("");
    out.push(
      "Goals (B): every viewer gets every byte, p99 ≤ 500 ms, ≤ 1 core, RSS at the end within 10 % of 5 s, " +
        "CPU/line ≤ 0.2× frontail's.",
    );
    out.push("");
    for (const r of rs.filter((x) => x.server.startsWith("fw-"))) {
      out.push(
        `- ${r.server}: every byte ${
          mark(r.completeMin !== null && r.viewers !== null ? r.completeMin >= r.viewers && r.viewers > 0 : null)
        }` +
          `, p99 ${mark(r.p99 !== null ? r.p99 <= 500 : null)}` +
          `, CPU ${mark(r.cores !== null ? r.cores <= 1 : null)}` +
          `, RSS ${mark(r.endVsEarly !== null ? Math.abs(r.endVsEarly - 1) <= 0.1 : null)}` +
          `, CPU/line written ${
            mark(r.cpuMsLine !== null && fr?.cpuMsLine ? r.cpuMsLine <= 0.2 * fr.cpuMsLine : null)
          }` +
          ` (${fmt(ratio(r.cpuMsLine, fr?.cpuMsLine ?? null), 2)}×)` +
          `, CPU/line delivered ${
            mark(r.cpuUsDelivered !== null && fr?.cpuUsDelivered ? r.cpuUsDelivered <= 0.2 * fr.cpuUsDelivered : null)
          } (${fmt(ratio(r.cpuUsDelivered, fr?.cpuUsDelivered ?? null), 2)}×)`,
      );
    }
    out.push("");
  }

  if (cells.C) {
    const rs = rows(runs, "C");
    out.push(
      `## C: filewatch without appends (plain, whole file per version): ${cells.C.n} viewers, ${cells.C.rate} lines/s, ${cells.C.durationS} s`,
    );
    out.push("");
    out.push(table(
      [
        "server",
        "reps",
        "complete (min)",
        "closed (max)",
        "lines recv %",
        "p50 ms",
        "p99 ms",
        "CPU ms/line",
        "server cores",
        "wire B/line/viewer",
        "RSS end MiB",
        "client cores",
      ],
      rs.map((r) => [
        r.server,
        `${r.reps}${r.failed ? ` (+${r.failed} failed)` : ""}`,
        `${r.completeMin ?? "–"}/${fmt(r.viewers, 0)}`,
        String(r.closedMax ?? "–"),
        fmt(r.recvPct, 2),
        ms(r.p50),
        ms(r.p99),
        fmt(r.cpuMsLine, 2),
        fmt(r.cores, 2),
        fmt(r.wire, 0),
        fmt(r.rssEndMiB),
        fmt(r.clientCores, 2),
      ]),
    ));
    out.push("");
  }
  const fails = runs.filter((r) => !r.ok);
  if (fails.length) {
    out.push("## Failed runs");
    out.push("");
    for (const f of fails) out.push(`- ${f.cell} ${f.server} rep ${f.rep + 1}: ${f.error}`);
    out.push("");
  }
  return out.join("\n");
}
