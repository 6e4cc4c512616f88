/**
 * Parses the Prometheus text exposition format (0.0.4) strictly enough to
 * catch a malformed line: every sample must belong to a family declared by
 * `# TYPE`, names and labels must be well formed, values must be numbers.
 * @module
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
export interface Exposition {
  types: Map<string, string>;
  samples: Sample[];
  /** The value of a series, or undefined if absent. */
  get(name: string, labels?: Record<string, string>): number | undefined;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

export function parseExposition(text: string): Exposition {
  if (!text.endsWith("\n")) throw new Error("exposition must end with a newline");
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const [i, line] of text.slice(0, -1).split("\n").entries()) {
    if (line.startsWith("# HELP ")) continue;
    if (line.startsWith("# TYPE ")) {
      const [, , name, type] = line.split(" ");
      if (!name || !NAME.test(name) || !["counter", "gauge", "histogram", "summary", "untyped"].includes(type!)) {
        throw new Error(`line ${i + 1}: bad TYPE: ${line}`);
      }
      types.set(name, type!);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`line ${i + 1}: not a sample: ${line}`);
    const labels: Record<string, string> = {};
    if (m[3]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;
      let pos = 0;
      while (pos < m[3].length) {
        re.lastIndex = pos;
        const l = re.exec(m[3]);
        if (!l) throw new Error(`line ${i + 1}: bad labels: ${m[3]}`);
        labels[l[1]!] = l[2]!.replace(/\\n/g, "\n").replace(/\\(.)/g, "$1");
        pos = re.lastIndex;
      }
    }
    const value = Number(m[4]);
    if (Number.isNaN(value)) throw new Error(`line ${i + 1}: bad value: ${m[4]}`);
    if (!types.has(m[1]!)) throw new Error(`line ${i + 1}: sample ${m[1]} without # TYPE`);
    samples.push({ name: m[1]!, labels, value });
  }
  return {
    types,
    samples,
    get(name, want = {}) {
      const keys = Object.keys(want);
      return samples.find((s) =>
        s.name === name && Object.keys(s.labels).length === keys.length && keys.every((k) => s.labels[k] === want[k])
      )?.value;
    },
  };
}
