/**
 * The machine the benchmark runners (bench/run.ts, bench/appends.ts) run on:
 * how busy it is, and the versions of the tools, for the record. One copy, so
 * that both benchmarks wait for a quiet machine by the same rule.
 *
 * @module
 */

/** Busy CPU seconds of the whole machine (all cores), from /proc/stat. */
export function machineBusyS(): number {
  const f = Deno.readTextFileSync("/proc/stat").split("\n")[0]!.split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  return ((f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0)) / 100;
}

/**
 * Others run tests on this machine: before a run, wait (at most `maxS`) for a
 * second in which the machine used fewer than `cores` cores. Returns the load
 * seen last, which goes into the record.
 */
export async function waitForQuiet(maxS: number, cores: number): Promise<number> {
  const deadline = Date.now() + maxS * 1000;
  let load = NaN;
  do {
    const b0 = machineBusyS();
    await new Promise((r) => setTimeout(r, 1000));
    load = machineBusyS() - b0;
    if (load < cores) break;
  } while (Date.now() < deadline);
  return Math.round(load * 100) / 100;
}

/** The first line `cmd args` prints (e.g. its version), or "unavailable". */
export async function firstLineOf(cmd: string, args: string[]): Promise<string> {
  try {
    const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).output();
    return new TextDecoder().decode(o.stdout).trim().split("\n")[0] ?? "";
  } catch {
    return "unavailable";
  }
}

/** The model name of the first CPU in /proc/cpuinfo, or "?". */
export async function cpuModel(): Promise<string> {
  return /^model name\s*:\s*(.*)$/m.exec(await Deno.readTextFile("/proc/cpuinfo").catch(() => ""))?.[1] ?? "?";
}
