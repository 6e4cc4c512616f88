/**
 * One line per event that matters, to stderr: text for people, JSON for machines.
 * @module
 */

/** Event fields; `msg` is the human sentence. */
export type Fields = Record<string, string | number | boolean | undefined>;

/** A logger the rest of the code is handed. */
export interface Logger {
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
}

/**
 * Makes a logger writing whole lines through `write`.
 * `quiet` keeps warnings and errors only.
 */
export function createLogger(
  format: "text" | "json",
  quiet: boolean,
  write: (line: string) => void,
  now: () => Date = () => new Date(),
): Logger {
  const emit = (level: string, msg: string, fields: Fields = {}) => {
    if (quiet && level === "info") return;
    const time = now().toISOString();
    if (format === "json") {
      write(JSON.stringify({ time, level, msg, ...fields }));
      return;
    }
    const kv = Object.entries(fields)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${typeof v === "string" && /[\s"=]/.test(v) ? JSON.stringify(v) : v}`)
      .join(" ");
    write(`${time} ${level.toUpperCase()} ${msg}${kv ? " " + kv : ""}`);
  };
  return {
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
}
