/**
 * Servers under test for the benchmark runners (bench/run.ts, bench/appends.ts):
 * start one with its output in a bounded log, wait for its start-up line, and
 * stop it (SIGTERM, then SIGKILL), also when the runner is interrupted. One
 * copy, so that every benchmark leaves no server behind in the same way.
 *
 * @module
 */

/** Servers started and not yet stopped: Ctrl-C kills them. */
const running = new Set<Deno.ChildProcess>();
/** Aborted on Ctrl-C / SIGTERM: pass it to the load client so it dies with the runner. */
export const interrupted = new AbortController();

/**
 * On SIGINT or SIGTERM: say so (as `name`), abort `interrupted`, SIGKILL every
 * running server and exit 130.
 */
export function stopServersOnSignal(name: string): void {
  const onSignal = () => {
    console.error(`${name}: interrupted; stopping servers`);
    interrupted.abort();
    for (const c of running) {
      try {
        c.kill("SIGKILL");
      } catch { /* gone */ }
    }
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
}

/** A started server: its process, and its stdout and stderr going to the log. */
export interface Server {
  child: Deno.ChildProcess;
  /**
   * The first line of stdout that matched `startupLine`; rejects when the
   * server exits before printing one, or after `timeoutMs`.
   */
  startup(timeoutMs: number): Promise<RegExpExecArray>;
  /** SIGTERM, SIGKILL after 6 s; then closes the log. */
  stop(): Promise<void>;
}

/**
 * Starts `cmd` (stdin closed) with its stdout and stderr drained into the file
 * `logPath`: the first 1 MiB, plenty to debug a run; draining keeps the server
 * from ever blocking on a full pipe. Watches stdout for `startupLine` (the line
 * that says the server listens, and on which port).
 */
export async function startServer(
  cmd: string[],
  opts: { cwd: string; env?: Record<string, string>; logPath: string; startupLine: RegExp },
): Promise<Server> {
  const log = await Deno.open(opts.logPath, { write: true, create: true, truncate: true });
  const enc = new TextEncoder();
  let logBytes = 0;
  const sink = (text: string) => {
    if (logBytes > 1 << 20) return;
    logBytes += text.length;
    try {
      log.writeSync(enc.encode(text));
    } catch { /* closed */ }
  };
  const child = new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    cwd: opts.cwd,
    env: opts.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  running.add(child);
  void drain(child.stderr, sink);
  let buf = ""; // stdout until the start-up line
  let found = false;
  const startup = new Promise<RegExpExecArray | null>((resolve) => {
    void drain(child.stdout, (text) => {
      sink(text);
      if (found) return;
      buf += text;
      if (buf.length > 65536) buf = buf.slice(-4096); // no start-up line in 64 KiB: keep the end
      for (const line of buf.split("\n")) {
        const m = opts.startupLine.exec(line);
        if (m) {
          found = true;
          resolve(m);
        }
      }
    }).then(() => resolve(null));
  });
  return {
    child,
    async startup(timeoutMs) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), timeoutMs));
      const m = await Promise.race([startup, timeout]);
      clearTimeout(timer);
      if (m === "timeout") {
        throw new Error(`server printed no URL within ${timeoutMs} ms; output: ${buf.slice(0, 500)}`);
      }
      if (m === null) throw new Error(`server exited before printing its URL; output: ${buf.slice(0, 500)}`);
      return m;
    },
    async stop() {
      await stopChild(child);
      log.close();
    },
  };
}

/** Reads `stream` to its end into `sink`. */
async function drain(stream: ReadableStream<Uint8Array>, sink: (text: string) => void): Promise<void> {
  try {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) sink(chunk);
  } catch { /* closed */ }
}

async function stopChild(child: Deno.ChildProcess, graceMs = 6000): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch { /* already gone */ }
  const t = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, graceMs);
  try {
    await child.status;
  } finally {
    clearTimeout(t);
    running.delete(child);
  }
}
