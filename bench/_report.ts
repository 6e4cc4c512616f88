/**
 * Turns the runner's raw results into the markdown summary: medians over
 * repetitions, RSS per connection as a slope between two client counts, ratios
 * of filewatch to its runtime's baseline, the issue's targets, and the
 * slow-consumer comparison. Pure functions, no I/O.
 *
 * @module
 */

/** What bench/client.mjs prints for one run (the fields the report reads). */
export interface CellResult {
  n: number;
  size: number;
  roundCount: number;
  paused: number;
  connect: { seconds: number; ready: number; failed: number; errors: Record<string, number> };
  idle: { seconds: number; cpuS: number; cpuPctOfCore: number; rssKiB: number };
  /** Latencies, CPU, RSS of the rounds phase (see client.mjs). */
  // deno-lint-ignore no-explicit-any
  rounds: Record<string, any>;
}

/** One run as the runner records it. */
export interface RunRecord {
  server: string;
  scenario: "matrix" | "control" | "slow";
  n: number;
  size: number;
  rounds: number;
  rep: number;
  paused: number;
  cmd: string;
  env: Record<string, string>;
  ok: boolean;
  error?: string;
  result?: CellResult;
  /** Cores the machine was busy with (others' work) in the second before the run. */
  loadBefore?: number | null;
}

/** The runner's results.json. */
export interface Results {
  // deno-lint-ignore no-explicit-any
  meta: Record<string, any>;
  runs: RunRecord[];
}

/** Median of the finite numbers in `xs`, or null. */
export function median(xs: (number | null | undefined)[]): number | null {
  const v = xs.filter((x): x is number => typeof x === "number" && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

function fmt(x: number | null | undefined, digits = 1): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "–";
  return x.toFixed(digits);
}

function sizeLabel(bytes: number): string {
  return bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} B`;
}

function nLabel(n: number): string {
  return n % 1000 === 0 ? `${n / 1000}k` : String(n);
}

const uniq = <T>(xs: T[]): T[] => [...new Set(xs)];

// deno-lint-ignore no-explicit-any
type R = any;
const rounds = (r: RunRecord): R => r.result?.rounds;

/** Medians over repetitions of one (server, size, N) cell. */
export interface CellSummary {
  server: string;
  size: number;
  n: number;
  reps: number;
  failedRuns: number;
  receivedPctMin: number | null;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
  fanoutP99: number | null;
  cpuPerChange: number | null;
  idlePct: number | null;
  rssMiB: number | null;
  rssIdleMiB: number | null;
  rssPerConnKiB: number | null;
  rssIdlePerConnKiB: number | null;
  clientCpuPerChange: number | null;
  serverCores: number | null;
  clientCores: number | null;
  otherCores: number | null;
  connectS: number | null;
}

/** RSS per connection: slope between this N and the smallest N of the same server, size and rep. */
function slopes(runs: RunRecord[], r: RunRecord, field: "after" | "idle"): number | null {
  const same = runs.filter((x) =>
    x.ok && x.scenario === "matrix" && x.server === r.server && x.size === r.size && x.rep === r.rep
  );
  const n0 = Math.min(...same.map((x) => x.n));
  const base = same.find((x) => x.n === n0);
  if (!base || !r.ok || r.n === n0) return null;
  const rss = (x: RunRecord) => field === "after" ? rounds(x)?.rssKiB : x.result?.idle?.rssKiB;
  return (rss(r) - rss(base)) / (r.n - n0);
}

/** Summaries of every matrix cell. */
export function summarizeMatrix(results: Results): CellSummary[] {
  const runs = results.runs.filter((r) => r.scenario === "matrix");
  const out: CellSummary[] = [];
  for (const server of uniq(runs.map((r) => r.server))) {
    for (const size of uniq(runs.map((r) => r.size))) {
      for (const n of uniq(runs.map((r) => r.n)).sort((a, b) => a - b)) {
        const cell = runs.filter((r) => r.server === server && r.size === size && r.n === n);
        if (cell.length === 0) continue;
        const ok = cell.filter((r) => r.ok);
        const m = (f: (r: RunRecord) => number | null | undefined) => median(ok.map(f));
        const recv = ok.map((r) => rounds(r)?.receivedPct as number);
        out.push({
          server,
          size,
          n,
          reps: cell.length,
          failedRuns: cell.length - ok.length,
          receivedPctMin: recv.length ? Math.min(...recv) : null,
          p50: m((r) => rounds(r)?.latencyMs?.p50),
          p90: m((r) => rounds(r)?.latencyMs?.p90),
          p99: m((r) => rounds(r)?.latencyMs?.p99),
          max: m((r) => rounds(r)?.latencyMs?.max),
          fanoutP99: m((r) => rounds(r)?.fanoutMs?.p99),
          cpuPerChange: m((r) => rounds(r)?.cpuPerChangeS),
          idlePct: m((r) => r.result?.idle?.cpuPctOfCore),
          rssMiB: m((r) => rounds(r)?.rssKiB / 1024),
          rssIdleMiB: m((r) => (r.result?.idle?.rssKiB ?? NaN) / 1024),
          rssPerConnKiB: m((r) => slopes(runs, r, "after")),
          rssIdlePerConnKiB: m((r) => slopes(runs, r, "idle")),
          clientCpuPerChange: m((r) => rounds(r)?.clientCpuPerChangeS),
          serverCores: m((r) => rounds(r)?.serverCoresUsed),
          clientCores: m((r) => rounds(r)?.clientCoresUsed),
          otherCores: m((r) => rounds(r)?.otherCoresUsed),
          connectS: m((r) => r.result?.connect?.seconds),
        });
      }
    }
  }
  return out;
}

/** One target of the issue, checked. */
export interface TargetCheck {
  what: string;
  measured: string;
  target: string;
  met: boolean | null;
  note: string;
}

function ratio(a: number | null, b: number | null): number | null {
  return a !== null && b !== null && b !== 0 ? a / b : null;
}

/** The issue's targets, checked against the medians. */
export function checkTargets(cells: CellSummary[], slow: SlowSummary[]): TargetCheck[] {
  const get = (server: string, size: number, n: number) =>
    cells.find((c) => c.server === server && c.size === size && c.n === n);
  const checks: TargetCheck[] = [];
  const KiB = 1024;
  const ns = uniq(cells.map((c) => c.n));
  const nTop = ns.includes(10_000) ? 10_000 : Math.max(...ns);
  const n64 = ns.includes(5_000) ? 5_000 : Math.max(...ns);
  for (const [fw, base, rssLimit] of [["fw-deno", "base-deno", 24], ["fw-bun", "base-bun", 4]] as const) {
    const c = get(fw, KiB, nTop);
    const b = get(base, KiB, nTop);
    const at = `${nLabel(nTop)} × 1 KiB`;
    if (!c) {
      checks.push({ what: `${fw}: all targets at ${at}`, measured: "pending", target: "", met: null, note: "not run" });
      continue;
    }
    const rc = ratio(c.cpuPerChange, b?.cpuPerChange ?? null);
    checks.push({
      what: `${fw}: CPU per change at ${at}`,
      measured: `${fmt(c.cpuPerChange, 3)} s (${fmt(rc, 2)}× ${base} ${fmt(b?.cpuPerChange, 3)} s)`,
      target: "≤ 1.3× baseline",
      met: rc === null ? null : rc <= 1.3,
      note: rc === null
        ? "no baseline"
        : `${rc <= 1.3 ? "within" : "over"} by ${fmt(Math.abs(1.3 - rc) / 1.3 * 100, 0)} %`,
    });
    checks.push({
      what: `${fw}: idle CPU at ${at}`,
      measured: `${fmt(c.idlePct, 2)} % of a core`,
      target: "≤ 1 %",
      met: c.idlePct === null ? null : c.idlePct <= 1,
      note: "",
    });
    checks.push({
      what: `${fw}: RSS per connection at ${at}`,
      measured: `${fmt(c.rssPerConnKiB, 1)} KiB (${base}: ${fmt(b?.rssPerConnKiB, 1)} KiB)`,
      target: `≤ ${rssLimit} KiB`,
      met: c.rssPerConnKiB === null ? null : c.rssPerConnKiB <= rssLimit,
      note: "slope of RSS after the rounds between the smallest N and this N",
    });
    checks.push({
      what: `${fw}: clients that received every version at ${at}`,
      measured: `${fmt(c.receivedPctMin, 2)} % (worst repetition)`,
      target: "100 %",
      met: c.receivedPctMin === null ? null : c.receivedPctMin >= 100,
      note: "",
    });
  }
  const d64 = get("fw-deno", 64 * KiB, n64);
  const b64 = get("base-deno", 64 * KiB, n64);
  checks.push({
    what: `fw-deno: RSS per connection at ${nLabel(n64)} × 64 KiB`,
    measured: d64 ? `${fmt(d64.rssPerConnKiB, 1)} KiB (base-deno: ${fmt(b64?.rssPerConnKiB, 1)} KiB)` : "pending",
    target: "≤ 40 KiB",
    met: d64?.rssPerConnKiB == null ? null : d64.rssPerConnKiB <= 40,
    note: "",
  });
  for (const s of slow.filter((x) => x.server.startsWith("fw-"))) {
    checks.push({
      what: `${s.server}: healthy clients' p99 with 1 % paused`,
      measured: `${fmt(s.p99Slow, 0)} ms vs ${fmt(s.p99Control, 0)} ms (${fmt(s.p99Ratio, 2)}×)`,
      target: "≤ 1.10×",
      met: s.p99Ratio === null ? null : s.p99Ratio <= 1.1,
      note: "",
    });
    checks.push({
      what: `${s.server}: server RSS with 1 % paused`,
      measured: `${fmt(s.growthShare, 2)} of unread bytes kept in the 2nd half; max ${fmt(s.rssMaxSlowMiB, 0)} MiB vs ${
        fmt(s.rssMaxControlMiB, 0)
      } MiB`,
      target: "bounded (< 0.25)",
      met: s.growthShare === null ? null : s.growthShare < 0.25,
      note: `after the hold: ${fmt(s.rssHoldEndMiB, 0)} MiB; server: ${fmt(s.lagging, 0)} lagging, ${
        fmt(s.pausedClosed, 0)
      } of ${fmt(s.paused, 0)} paused closed`,
    });
  }
  return checks;
}

/** The slow-consumer comparison for one server (medians over repetitions). */
export interface SlowSummary {
  server: string;
  n: number;
  size: number;
  rounds: number;
  paused: number | null;
  p99Control: number | null;
  p99Slow: number | null;
  p99Ratio: number | null;
  p50Control: number | null;
  p50Slow: number | null;
  receivedPctSlow: number | null;
  rssMaxControlMiB: number | null;
  rssMaxSlowMiB: number | null;
  /** Server RSS growth over the second half of the slow run beyond the control's / bytes the paused clients left unread then. */
  growthShare: number | null;
  /** Server RSS at the end of the hold after the last round. */
  rssHoldEndMiB: number | null;
  /** Clients the server counted as lagging (filewatch's /metrics), after the hold. */
  lagging: number | null;
  pausedClosed: number | null;
}

/**
 * RSS growth (KiB) over the second half of the rounds: median of the 2nd
 * quarter of the per-round samples vs median of the last quarter (robust to
 * allocator jitter), and the rounds between the two windows' centres.
 */
function secondHalfGrowth(r: RunRecord): { kib: number; rounds: number } | null {
  const series: number[] | undefined = rounds(r)?.rssSeriesKiB;
  if (!series || series.length < 8) return null;
  const q = Math.floor(series.length / 4);
  const mid = median(series.slice(q, 2 * q))!;
  const end = median(series.slice(series.length - q))!;
  return { kib: end - mid, rounds: series.length - 2 * q };
}

/** Summaries of the slow-consumer scenario per server. */
export function summarizeSlow(results: Results): SlowSummary[] {
  const runs = results.runs.filter((r) => r.scenario !== "matrix");
  const out: SlowSummary[] = [];
  for (const server of uniq(runs.map((r) => r.server))) {
    const ctl = runs.filter((r) => r.server === server && r.scenario === "control" && r.ok);
    const slo = runs.filter((r) => r.server === server && r.scenario === "slow" && r.ok);
    const any = ctl[0] ?? slo[0];
    if (!any) continue;
    const m = (xs: RunRecord[], f: (r: RunRecord) => number | null | undefined) => median(xs.map(f));
    const p99Control = m(ctl, (r) => rounds(r)?.latencyMs?.p99);
    const p99Slow = m(slo, (r) => rounds(r)?.latencyMs?.p99);
    const maxOf = (r: RunRecord) => Math.max(...((rounds(r)?.rssSeriesKiB as number[]) ?? [NaN])) / 1024;
    out.push({
      server,
      n: any.n,
      size: any.size,
      rounds: any.rounds,
      paused: m(slo, (r) => r.result?.paused),
      p99Control,
      p99Slow,
      p99Ratio: ratio(p99Slow, p99Control),
      p50Control: m(ctl, (r) => rounds(r)?.latencyMs?.p50),
      p50Slow: m(slo, (r) => rounds(r)?.latencyMs?.p50),
      receivedPctSlow: m(slo, (r) => rounds(r)?.receivedPct),
      rssMaxControlMiB: m(ctl, maxOf),
      rssMaxSlowMiB: m(slo, maxOf),
      growthShare: (() => {
        // Growth beyond what the same server grows without paused clients, as a
        // share of the bytes the paused clients left unread over those rounds.
        const g = m(slo, (r) => secondHalfGrowth(r)?.kib);
        const g0 = m(ctl, (r) => secondHalfGrowth(r)?.kib) ?? 0;
        const span = m(slo, (r) => secondHalfGrowth(r)?.rounds);
        const paused = m(slo, (r) => r.result?.paused);
        if (g === null || !span || !paused) return null;
        return (g - g0) / ((paused * any.size * span) / 1024);
      })(),
      rssHoldEndMiB: m(slo, (r) => ((rounds(r)?.holdSeriesKiB as number[] | undefined)?.at(-1) ?? NaN) / 1024),
      lagging: m(slo, (r) => rounds(r)?.serverMetrics?.lagging),
      // The server's count where it reports one: a paused client never reads its close.
      pausedClosed: m(slo, (r) => rounds(r)?.serverMetrics?.closes?.slow_consumer ?? rounds(r)?.pausedClosed),
    });
  }
  return out;
}

function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map((_, i) => (i === 0 ? "---" : "---:"))), ...rows.map(line)].join("\n");
}

/** The whole markdown summary. */
export function renderSummary(results: Results): string {
  const { meta } = results;
  const cells = summarizeMatrix(results);
  const slow = summarizeSlow(results);
  const v = meta.versions ?? {};
  const parts: string[] = [];
  parts.push(`## Run ${meta.startedAt ?? ""} → ${meta.finishedAt ?? ""}`);
  parts.push(
    [
      `- command: \`${meta.command}\`${meta.config?.label ? ` (${meta.config.label})` : ""}`,
      `- machine: ${v.os}, kernel ${v.kernel}, ${v.cpu}, ${v.cores} cores, ${v.memGiB} GiB`,
      `- runtimes: ${v.deno?.replace(/\n.*/s, "")}; bun ${v.bun}; load client node ${v.node}; git ${v.git}${
        v.srcDirty === "yes" ? " (src/ had uncommitted changes)" : ""
      }`,
      `- config: N = ${meta.config?.ns?.join(", ")}; sizes = ${meta.config?.sizes?.map(sizeLabel).join(", ")}; ` +
      `${meta.config?.reps} reps × ${meta.config?.rounds} rounds; ${meta.config?.workers} client workers (${meta.config?.client})`,
      ...Object.entries(meta.serverCommands ?? {}).map(([s, c]: [string, R]) =>
        `- \`${s}\`: \`${Object.entries(c.env ?? {}).map(([k, x]) => `${k}=${x} `).join("")}${c.cmd}\``
      ),
    ].join("\n"),
  );
  const failed = results.runs.filter((r) => !r.ok);
  if (failed.length) {
    parts.push(
      `**${failed.length} failed runs:**\n` +
        failed.map((r) => `- ${r.server} ${r.scenario} n=${r.n} size=${r.size} rep=${r.rep + 1}: ${r.error}`).join(
          "\n",
        ),
    );
  }
  parts.push("### Medians per cell");
  parts.push(
    "Latency = file write → receipt per client (includes up to one poll period, 100 ms, for polling servers); " +
      "fan-out = receipt − first receipt of that version. CPU/change = server CPU-s (user+sys, all threads) " +
      "during the rounds / rounds. RSS/conn = slope of RSS (after the rounds; idle in brackets) between the " +
      "smallest N and this N. Cores = cores used during the rounds by server / load client / everything else on the machine.",
  );
  for (const size of uniq(cells.map((c) => c.size))) {
    parts.push(`#### ${sizeLabel(size)}`);
    parts.push(table(
      [
        "server",
        "N",
        "recv % (min)",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "fan-out p99",
        "CPU-s/change",
        "idle % core",
        "RSS MiB",
        "RSS/conn KiB",
        "client CPU-s/change",
        "cores s/c/o",
      ],
      cells.filter((c) => c.size === size).sort((a, b) => a.n - b.n || a.server.localeCompare(b.server)).map((c) => [
        c.server + (c.failedRuns ? ` (${c.failedRuns} failed)` : ""),
        nLabel(c.n),
        fmt(c.receivedPctMin, 2),
        fmt(c.p50, 0),
        fmt(c.p90, 0),
        fmt(c.p99, 0),
        fmt(c.max, 0),
        fmt(c.fanoutP99, 0),
        fmt(c.cpuPerChange, 3),
        fmt(c.idlePct, 2),
        fmt(c.rssMiB, 0),
        `${fmt(c.rssPerConnKiB, 1)} (${fmt(c.rssIdlePerConnKiB, 1)})`,
        fmt(c.clientCpuPerChange, 3),
        `${fmt(c.serverCores, 2)}/${fmt(c.clientCores, 2)}/${fmt(c.otherCores, 2)}`,
      ]),
    ));
  }
  const pairs = uniq(cells.map((c) => c.server)).map((s) => [s, meta.baselines?.[s]] as const).filter(([, b]) => b);
  if (pairs.length) {
    parts.push("### filewatch ÷ its runtime's baseline (medians)");
    const rows: string[][] = [];
    for (const [s, b] of pairs) {
      for (const c of cells.filter((x) => x.server === s)) {
        const d = cells.find((x) => x.server === b && x.size === c.size && x.n === c.n);
        if (!d) continue;
        rows.push([
          `${s} ÷ ${b}`,
          sizeLabel(c.size),
          nLabel(c.n),
          fmt(ratio(c.cpuPerChange, d.cpuPerChange), 2),
          fmt(ratio(c.rssPerConnKiB, d.rssPerConnKiB), 2),
          fmt(ratio(c.rssMiB, d.rssMiB), 2),
          fmt(ratio(c.p99, d.p99), 2),
          fmt(ratio(c.fanoutP99, d.fanoutP99), 2),
          `${fmt(c.idlePct, 2)} / ${fmt(d.idlePct, 2)}`,
        ]);
      }
    }
    parts.push(
      table(["pair", "size", "N", "CPU/change", "RSS/conn", "RSS", "p99", "fan-out p99", "idle % (fw / base)"], rows),
    );
  }
  if (slow.length) {
    const s0 = slow[0]!;
    parts.push(
      `### Slow consumers (N = ${nLabel(s0.n)}, ${sizeLabel(s0.size)}, ${s0.rounds} rounds, ${
        fmt(s0.paused, 0)
      } paused)`,
    );
    parts.push(
      "Control = same run with nobody paused. Paused clients stop reading from TCP after the first content. " +
        '"kept" = (server RSS growth over the second half of the rounds − the same in the control run) ÷ bytes ' +
        "the paused clients left unread meanwhile (≈ 1 = buffers everything, unbounded; ≈ 0 = bounded). " +
        '"after hold" = server RSS after the hold that follows the last round (no writes). "lagging / closed" = ' +
        "paused clients the server counted as lagging / closed as slow consumers, from filewatch's /metrics after " +
        "the hold (a paused client never reads its close; the baselines have no /metrics).",
    );
    parts.push(table(
      [
        "server",
        "p50 ctl/slow ms",
        "p99 control ms",
        "p99 slow ms",
        "p99 ratio",
        "recv % (healthy)",
        "RSS max ctl/slow MiB",
        "after hold MiB",
        "kept",
        "lagging / closed",
      ],
      slow.map((s) => [
        s.server,
        `${fmt(s.p50Control, 0)} / ${fmt(s.p50Slow, 0)}`,
        fmt(s.p99Control, 0),
        fmt(s.p99Slow, 0),
        fmt(s.p99Ratio, 2),
        fmt(s.receivedPctSlow, 2),
        `${fmt(s.rssMaxControlMiB, 0)} / ${fmt(s.rssMaxSlowMiB, 0)}`,
        fmt(s.rssHoldEndMiB, 0),
        fmt(s.growthShare, 2),
        s.lagging === null ? "–" : `${fmt(s.lagging, 0)} / ${fmt(s.pausedClosed, 0)} of ${fmt(s.paused, 0)}`,
      ]),
    ));
  }
  const checks = checkTargets(cells, slow);
  parts.push("### Targets");
  parts.push(table(
    ["target", "measured", "goal", "met", "note"],
    checks.map((c) => [c.what, c.measured, c.target, c.met === null ? "pending" : c.met ? "yes" : "**no**", c.note]),
  ));
  return parts.join("\n\n") + "\n";
}
