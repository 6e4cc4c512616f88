/**
 * Deno entrypoint: `deno task start FILE`, or
 * `deno run --allow-net --allow-read --allow-env src/deno.ts FILE`
 * (`--workers N` needs `--allow-run` too: it starts Deno again per worker).
 * Only wiring; see src/main.ts.
 * @module
 */
import { accessOrExit, createServer, handleSignals, optionsOrExit, superviseWorkers, type TestHooks } from "./main.ts";
import { denoRuntime } from "./runtime/deno.ts";

/**
 * Runs the server with this process's arguments. `hooks` come from code only
 * (tests/e2e/lockout_server.ts); workers started by `--workers` do not get them.
 */
export function main(hooks: TestHooks = {}): void {
  const runtime0 = { compression: false };
  const options = optionsOrExit(Deno.args, runtime0, "Deno", (workers) => {
    const deno = Deno.execPath();
    if (Deno.permissions.querySync({ name: "run", command: deno }).state === "granted") return null;
    return `Cannot use --workers ${workers} on Deno without --allow-run: the supervisor starts Deno once per worker (add --allow-run=${deno})`;
  });
  // Checked before any worker starts: a bad auth file or certificate exits 2 once.
  const access = accessOrExit(options);
  if (options.workers > 1) {
    // The workers get the permissions the server needs, not the supervisor's --allow-run;
    // Deno.serve's reusePort is still behind --unstable-net (Deno 2.9).
    const perms = ["--allow-net", "--allow-read", "--allow-env", "--unstable-net"];
    superviseWorkers(options, { cmd: Deno.execPath(), args: ["run", ...perms, import.meta.filename!, ...Deno.args] });
  } else {
    const server = createServer(options, denoRuntime(options), access, hooks);
    try {
      const http = Deno.serve({
        ...(access.tls ? { cert: access.tls.cert, key: access.tls.key } : {}),
        hostname: options.host,
        port: options.port,
        reusePort: options.worker !== null,
        onListen: ({ hostname, port }) => server.listening(hostname, port),
      }, server.app.fetch);
      handleSignals(server, () => void http.shutdown());
    } catch (e) {
      console.error(`error: Cannot listen on ${options.host}:${options.port}: ${(e as Error).message}`);
      Deno.exit(1);
    }
  }
}

if (import.meta.main) main();
