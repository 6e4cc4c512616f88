/**
 * Counters and gauges in the Prometheus text exposition format (version 0.0.4).
 *
 * Why not prom-client: it leans on Node internals (cluster, perf_hooks event
 * loop monitors) and adds per-scrape work we do not need; the format for a
 * dozen series is small and is tested by parsing it back.
 * @module
 */

type Labels = Record<string, string>;

interface Family {
  type: "counter" | "gauge";
  help: string;
  values: Map<string, { labels: Labels; value: number }>;
  /** Computed at scrape time. */
  collect?: () => Array<{ labels: Labels; value: number }>;
}

const escapeLabel = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
const keyOf = (labels: Labels) => Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(",");

/** A small registry: `inc`, `set`, and `render()` to the exposition text. */
export class Metrics {
  #families = new Map<string, Family>();
  /** Labels every series carries (`worker` under a supervisor: docs/deployment.md#workers). */
  constant: Labels = {};

  /**
   * Declares a family; call once per name. `known` label sets start at 0, so
   * `rate()` and `increase()` see their first event (a series that appears
   * with 1 has no earlier sample to count it from).
   */
  define(
    name: string,
    type: Family["type"],
    help: string,
    collect?: Family["collect"],
    known: Labels[] = [{}],
  ): void {
    const values = new Map<string, { labels: Labels; value: number }>();
    if (!collect) { for (const labels of known) values.set(keyOf(labels), { labels, value: 0 }); }
    this.#families.set(name, { type, help, values, collect });
  }

  /** Adds `by` (default 1) to a counter or gauge. */
  inc(name: string, labels: Labels = {}, by = 1): void {
    const f = this.#families.get(name);
    if (!f) throw new Error(`metric ${name} is not defined`);
    const k = keyOf(labels);
    const v = f.values.get(k);
    if (v) v.value += by;
    else f.values.set(k, { labels, value: by });
  }

  /** The current value of a series (0 when never touched). */
  get(name: string, labels: Labels = {}): number {
    return this.#families.get(name)?.values.get(keyOf(labels))?.value ?? 0;
  }

  /** The exposition text. */
  render(): string {
    const out: string[] = [];
    for (const [name, f] of this.#families) {
      out.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`);
      const series = f.collect ? f.collect() : [...f.values.values()];
      for (const { labels, value } of series) {
        const ls = Object.entries({ ...labels, ...this.constant }).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(
          ",",
        );
        out.push(`${name}${ls ? `{${ls}}` : ""} ${Number.isFinite(value) ? value : 0}`);
      }
    }
    return out.join("\n") + "\n";
  }
}
