/**
 * Where the benchmark runners (bench/run.ts, bench/appends.ts) put what they
 * measured: results.json after every run, so that a long run interrupted still
 * leaves its results; at the end summary.md, the summary on stdout, and exit
 * code 1 when a run failed. One copy, so that both result folders look alike.
 *
 * @module
 */

/** Writes `data` to OUT/results.json. */
export async function saveResults(out: string, data: unknown): Promise<void> {
  await Deno.writeTextFile(`${out}/results.json`, JSON.stringify(data, null, 1));
}

/**
 * The end of a runner: the final results.json, the summary (`render`) in
 * summary.md and on stdout, and a last line (as `name`) with the time since
 * `t0` and the failed runs; exit code 1 if any failed.
 */
export async function finishResults<D extends { runs: { ok: boolean }[] }>(
  name: string,
  out: string,
  data: D,
  render: (data: D) => string,
  t0: number,
): Promise<void> {
  await saveResults(out, data);
  const summary = render(data);
  await Deno.writeTextFile(`${out}/summary.md`, summary);
  console.log(summary);
  const failed = data.runs.filter((r) => !r.ok).length;
  console.error(`${name}: done in ${Math.round((Date.now() - t0) / 1000)}s; ${failed} failed runs; ${out}/summary.md`);
  if (failed > 0) Deno.exitCode = 1;
}
