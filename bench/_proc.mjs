// /proc readers of the load-client coordinators (bench/client.mjs,
// bench/append_client.mjs): the server's CPU and memory, the machine's CPU.
// One copy, so that both benchmarks read the same fields the same way. Linux only.
import { readdirSync, readFileSync } from "node:fs";

const CLK_TCK = 100; // Linux USER_HZ; /proc/PID/stat and /proc/stat count in these ticks

/** CPU seconds (all threads, user + system) of process `pid`, from /proc/PID/stat; throws if it is gone. */
export function cpuSecondsOf(pid) {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  // f[0] is field 3 (state): utime is field 14, stime field 15.
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

/** VmRSS and VmHWM (KiB) of process `pid`, from /proc/PID/status. */
export function memOf(pid) {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(s)?.[1] ?? NaN);
  return { rssKiB: kib("VmRSS"), hwmKiB: kib("VmHWM") };
}

/** Child PIDs of process `pid` (frontail runs `tail -F`); none once it is gone. */
export function childrenOf(pid) {
  const out = [];
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
  } catch { /* gone */ }
  return out;
}

/** Busy CPU seconds of the whole machine (all cores), from /proc/stat. */
export function machineCpuS() {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0].split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / CLK_TCK;
}

/** Seconds of a process.cpuUsage() result ({ user, system } in microseconds). */
export const cpuS = (u) => (u.user + u.system) / 1e6;
